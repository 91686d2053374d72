"""Max unpooling: puts pooled values back where their maxima were."""

import keras
from keras import ops

from custom_layers.input_checks import two_input_shapes
from custom_layers.pool_geometry import check_image_shape, check_padding, int_pair


def unpooled_size(size, pool, stride, padding):
    """The input size that pooling most simply came from: `size * stride`
    ("same") or `(size - 1) * stride + pool` ("valid")."""
    if size is None:
        return None
    if padding == "same":
        return size * stride
    return (size - 1) * stride + pool


@keras.saving.register_keras_serializable(package="special_networks")
class MaxUnpooling2D(keras.layers.Layer):
    """Max unpooling with switches: each pooled value goes back to where its
    maximum was; every other position is 0.

    The unpooling of "Visualizing and Understanding Convolutional Networks"
    (Zeiler & Fergus, ECCV 2014) and SegNet (Badrinarayanan et al., 2017),
    the inverse of `MaxPoolingWithArgmax2D`: `values` [B, h, w, C] are
    scattered to the flat positions `switches` (int32 or int64 indices into
    one example's [H, W, C], `((y * W) + x) * C + c`, as
    `MaxPoolingWithArgmax2D` and `tf.nn.max_pool_with_argmax(...,
    include_batch_in_index=False)` give). Where two windows chose the same
    position (overlapping windows, strides smaller than the pool), the
    position gets the larger of their values, not their sum (with the
    pooling's switches both values are the same maximum, so unpooling
    restores it); the gradient then goes to the value that was kept. The
    scatter is a segment maximum (`keras.ops.segment_max`), which compiles
    with XLA. Switches outside [0, H * W * C) are dropped.

    Unlike `tensorflow-addons`' `MaxUnpooling2D`, indices stay int64 (no
    overflow past 2**31 elements), overlapping windows keep the maximum, and
    odd sizes come out exact when `output_size` is given.

    Args:
        pool_size: an int or a tuple of two, the pooling's. Defaults to 2.
        strides: an int or a tuple of two, the pooling's; defaults to
            `pool_size`.
        padding: `"valid"` or `"same"`, the pooling's; used only to infer
            the output size.
        output_size: `(H, W)`, the size of the input that was pooled. The
            switches are decoded with this W, so give it whenever the pooled
            input was not `h * stride` ("same") or `(h - 1) * stride + pool`
            ("valid") on an axis, as with odd sizes; None (default) infers
            these sizes.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[values, switches]` of the same shape [B, h, w, C];
            `switches` integers.

    Returns:
        [B, H, W, C]: each value at its switch, zeros elsewhere.

    Example:

    >>> x = np.random.rand(2, 7, 7, 3).astype("float32")
    >>> pooled, switches = MaxPoolingWithArgmax2D(3, strides=2, padding="same")(x)
    >>> MaxUnpooling2D(3, strides=2, output_size=(7, 7))([pooled, switches]).shape  # (2, 7, 7, 3)
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", output_size=None, **kwargs):
        super().__init__(**kwargs)
        name = "MaxUnpooling2D"
        self.pool_size = int_pair(pool_size, "pool_size", name)
        self.strides = self.pool_size if strides is None else int_pair(strides, "strides", name)
        self.padding = check_padding(padding, name)
        self.output_size = None if output_size is None else int_pair(output_size, "output_size", name)

    def _size(self, values_shape):
        if self.output_size is not None:
            return self.output_size
        return tuple(unpooled_size(values_shape[a], p, s, self.padding)
                     for a, p, s in zip((1, 2), self.pool_size, self.strides))

    def build(self, input_shape):
        values, switches = two_input_shapes(input_shape, "MaxUnpooling2D", "a list [values, switches]")
        check_image_shape(values, "values", "MaxUnpooling2D")
        if len(switches) != 4 or any(
                a is not None and b is not None and a != b for a, b in zip(values, switches)):
            raise ValueError(
                "MaxUnpooling2D: `switches` must have the shape of `values` "
                f"{tuple(values)}; received {tuple(switches)}."
            )

    def call(self, inputs):
        values, switches = inputs
        if not keras.backend.is_int_dtype(keras.backend.standardize_dtype(switches.dtype)):
            raise ValueError(
                f"MaxUnpooling2D: `switches` must be integers; received dtype {switches.dtype}."
            )
        values = ops.cast(values, self.compute_dtype)
        shape = ops.shape(values)
        batch, channels = shape[0], shape[3]
        height, width = self._size(shape)
        size = height * width * channels  # one example's positions
        switches = ops.cast(switches, "int64")
        size64 = ops.cast(size, "int64")
        inside = (switches >= 0) & (switches < size64)
        offsets = ops.reshape(ops.arange(batch, dtype="int64") * size64, (-1, 1, 1, 1))
        # Dropped switches go to one extra segment past the end.
        segments = ops.where(inside, switches + offsets, ops.cast(batch, "int64") * size64)
        segments = ops.reshape(segments, (-1,))
        count = batch * size + 1
        scattered = ops.segment_max(ops.reshape(values, (-1,)), segments, num_segments=count)
        chosen = ops.segment_max(ops.ones_like(segments, dtype=values.dtype), segments,
                                 num_segments=count) > 0
        # Positions no switch names come out of the segment max as the lowest value: 0 instead.
        unpooled = ops.where(chosen, scattered, ops.zeros_like(scattered))[:-1]
        return ops.reshape(unpooled, (batch, height, width, channels))

    def compute_output_shape(self, input_shape):
        values = input_shape[0]
        return (values[0], *self._size(values), values[3])

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                      output_size=self.output_size)
        return config
