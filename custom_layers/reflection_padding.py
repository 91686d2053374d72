"""Reflection (and symmetric) padding of sequences and images."""

import keras
from keras import ops

MODES = ("reflect", "symmetric")


def _amount(value, name, layer):
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        pair = None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair):
        raise ValueError(
            f"{layer}: `{name}` must be an int >= 0 or a tuple of two (before, after); "
            f"received {value!r}."
        )
    return pair


def _check_mode(mode, layer):
    if mode not in MODES:
        raise ValueError(f"{layer}: `mode` must be one of {MODES}; received {mode!r}.")
    return mode


def _check_fits(size, before, after, mode, axis, shape, layer):
    """Reflection needs padding < size on each side; symmetric, <= size."""
    if size is None:
        return
    limit = size - 1 if mode == "reflect" else size
    if max(before, after) > limit:
        raise ValueError(
            f"{layer}: `padding` ({before}, {after}) on axis {axis} needs `inputs` of at least "
            f"{max(before, after) + (mode == 'reflect')} there with mode={mode!r}; "
            f"received shape {tuple(shape)}."
        )


def _padded(size, before, after):
    return None if size is None else size + before + after


class _ReflectionPadding(keras.layers.Layer):
    """What the 1D and 2D layers share: the mode, the checks, the call."""

    rank = None  # spatial axes

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        self.mode = _check_mode(mode, type(self).__name__)

    def _widths(self):
        raise NotImplementedError

    def build(self, input_shape):
        name = type(self).__name__
        if len(input_shape) != self.rank + 2:
            axes = "(B, T, C)" if self.rank == 1 else "(B, H, W, C)"
            raise ValueError(
                f"{name}: `inputs` must have rank {self.rank + 2} {axes}, channels last; "
                f"received shape {tuple(input_shape)}."
            )
        for axis, (before, after) in enumerate(self._widths(), start=1):
            _check_fits(input_shape[axis], before, after, self.mode, axis, input_shape, name)

    def call(self, inputs):
        widths = [(0, 0), *self._widths(), (0, 0)]
        return ops.pad(inputs, widths, mode=self.mode)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in enumerate(self._widths(), start=1):
            shape[axis] = _padded(shape[axis], before, after)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@keras.saving.register_keras_serializable(package="special_networks")
class ReflectionPadding1D(_ReflectionPadding):
    """Pads sequences along time by mirroring them at their ends.

    The padding that "Instance Normalization" / "Perceptual Losses for
    Real-Time Style Transfer" (Johnson, Alahi & Fei-Fei, ECCV 2016) put
    before convolutions to avoid the dark borders of zero padding, here for
    sequences: `mode="reflect"` mirrors about the end step itself
    (`[a b c d]` padded by 2 gives `c b | a b c d | c b`), `mode="symmetric"`
    repeats the end step (`b a | a b c d | d c`), as `numpy.pad` does.

    Args:
        padding: an int (the same before and after) or a tuple
            `(before, after)` of steps to add. With `mode="reflect"` each must
            be smaller than the input's length; with `"symmetric"`, at most
            its length.
        mode: `"reflect"` (default) or `"symmetric"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor [B, T, C].
        mask: optional boolean mask [B, T]; it is padded the same way, so a
            padded step is masked when the step it copies is.

    Returns:
        A tensor [B, before + T + after, C].

    Example:

    >>> x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    >>> ReflectionPadding1D(2)(x)[0, :, 0]  # [2, 1, 0, 1, 2, 3, 2, 1]
    """

    rank = 1

    def __init__(self, padding=1, mode="reflect", **kwargs):
        super().__init__(mode, **kwargs)
        self.padding = _amount(padding, "padding", "ReflectionPadding1D")
        self.supports_masking = True

    def _widths(self):
        return [self.padding]

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        padded = ops.pad(ops.cast(mask, "int32"), [(0, 0), self.padding], mode=self.mode)
        return ops.cast(padded, "bool")

    def get_config(self):
        config = super().get_config()
        config.update(padding=self.padding)
        return config


@keras.saving.register_keras_serializable(package="special_networks")
class ReflectionPadding2D(_ReflectionPadding):
    """Pads images by mirroring them at their borders (height and width).

    The reflection padding of "Perceptual Losses for Real-Time Style
    Transfer and Super-Resolution" (Johnson, Alahi & Fei-Fei, ECCV 2016) and
    CycleGAN (Zhu et al., ICCV 2017), put before convolutions instead of
    zero padding, which darkens the borders of generated images.
    `mode="reflect"` mirrors about the border pixel (`[a b c]` padded by 1:
    `b | a b c | b`), `mode="symmetric"` repeats it (`a | a b c | c`), as
    `numpy.pad` and `tf.pad` do. Keras 3 has no such layer.

    Args:
        padding: an int (all four sides), a tuple `(rows, cols)` (both sides
            of each axis), or `((top, bottom), (left, right))`. With
            `mode="reflect"` each must be smaller than the input's size on its
            axis; with `"symmetric"`, at most that size.
        mode: `"reflect"` (default) or `"symmetric"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images [B, H, W, C], channels last.

    Returns:
        Images [B, top + H + bottom, left + W + right, C].

    Example:

    >>> x = keras.Input((32, 32, 3))
    >>> h = ReflectionPadding2D(1)(x)  # (None, 34, 34, 3)
    >>> h = keras.layers.Conv2D(16, 3, padding="valid")(h)  # (None, 32, 32, 16)
    """

    rank = 2

    def __init__(self, padding=1, mode="reflect", **kwargs):
        super().__init__(mode, **kwargs)
        self.padding = self._parse(padding)

    @staticmethod
    def _parse(padding):
        if isinstance(padding, int) and not isinstance(padding, bool):
            padding = (padding, padding)
        try:
            rows, cols = padding
        except (TypeError, ValueError):
            raise ValueError(
                "ReflectionPadding2D: `padding` must be an int >= 0, a tuple (rows, cols) or "
                f"((top, bottom), (left, right)); received {padding!r}."
            ) from None
        return (_amount(rows, "padding", "ReflectionPadding2D"),
                _amount(cols, "padding", "ReflectionPadding2D"))

    def _widths(self):
        return list(self.padding)

    def get_config(self):
        config = super().get_config()
        config.update(padding=self.padding)
        return config
