"""Max pooling that also returns where each maximum was (the "switches")."""

import keras
from keras import ops

from custom_layers.pool_geometry import (
    check_image_shape, check_padding, int_pair, padding_amounts, pooled_size)


def window_slices(inputs, pool_size, strides, padding):
    """The pool's windows as `[B, H', W', C, K]` (K = rows * cols of a window,
    row-major), the pooled sizes, and the padding before each axis.

    Built from K strided slices of the input (padded with -inf for "same"),
    so it needs no patch-extraction or argmax-pooling kernel and compiles
    with XLA.
    """
    shape = ops.shape(inputs)
    (kh, kw), (sh, sw) = pool_size, strides
    out_h = pooled_size(shape[1], kh, sh, padding)
    out_w = pooled_size(shape[2], kw, sw, padding)
    top, bottom = padding_amounts(shape[1], kh, sh, padding)
    left, right = padding_amounts(shape[2], kw, sw, padding)
    if padding == "same":
        inputs = ops.pad(inputs, [(0, 0), (top, bottom), (left, right), (0, 0)],
                         constant_values=float("-inf"))
    slices = [
        inputs[:, dy:, dx:][:, ::sh, ::sw][:, :out_h, :out_w]
        for dy in range(kh) for dx in range(kw)
    ]
    return ops.stack(slices, axis=-1), (out_h, out_w), (top, left)


@keras.saving.register_keras_serializable(package="special_networks")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Max pooling that also returns the position of each maximum.

    The pooling of the deconvolution networks: "Visualizing and
    Understanding Convolutional Networks" (Zeiler & Fergus, ECCV 2014)
    records the location of each maximum in "switch" variables so that
    `MaxUnpooling2D` can put it back; SegNet (Badrinarayanan, Kendall &
    Cipolla, 2017) and the deconvolution autoencoders decode the same way.

    Switches are int64 flat indices into one example of the input,
    `((y * W) + x) * C + c` for the maximum at row y, column x, channel c of
    that example's [H, W, C] (rows and columns of the unpadded input,
    counted from 0): `tf.nn.max_pool_with_argmax(...,
    include_batch_in_index=False)`'s definition. Where several positions of
    a window hold the maximum, the first in row-major window order (top
    row first, then left to right) is taken. With `padding="same"` the
    padding is -inf, so a switch always names a position inside the input.

    Unlike `tf.nn.max_pool_with_argmax`, which has no XLA kernel (a model
    using it fails under `jit_compile=True`), this layer builds the windows
    from strided slices and takes the argmax with `keras.ops`: it runs
    eagerly, under `tf.function` and under XLA, on every Keras backend. The gradient of the pooled values
    flows to the input position named by the switch.

    Args:
        pool_size: an int or a tuple of two (rows, cols). Defaults to 2.
        strides: an int or a tuple of two; defaults to `pool_size`. Strides
            smaller than the pool give overlapping windows.
        padding: `"valid"` (default; only whole windows) or `"same"` (the
            output has `ceil(size / stride)` positions per axis; the input is
            padded as by `keras.layers.MaxPooling2D`, half before, rounded
            down).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images [B, H, W, C], channels last.

    Returns:
        A tuple `(pooled, switches)`: the maxima [B, H', W', C] (as
        `keras.layers.MaxPooling2D` gives) and their int64 switches of the
        same shape, with `H' = (H - pool) // stride + 1` ("valid") or
        `ceil(H / stride)` ("same"), and likewise W'.

    Example:

    >>> x = keras.Input((28, 28, 1))
    >>> h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    >>> pooled, switches = MaxPoolingWithArgmax2D(2)(h)  # (None, 14, 14, 8) each
    >>> restored = MaxUnpooling2D(2, output_size=(28, 28))([pooled, switches])
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        name = "MaxPoolingWithArgmax2D"
        self.pool_size = int_pair(pool_size, "pool_size", name)
        self.strides = self.pool_size if strides is None else int_pair(strides, "strides", name)
        self.padding = check_padding(padding, name)

    def build(self, input_shape):
        check_image_shape(input_shape, "inputs", "MaxPoolingWithArgmax2D")
        if self.padding == "valid":
            for axis, pool in zip((1, 2), self.pool_size):
                if input_shape[axis] is not None and input_shape[axis] < pool:
                    raise ValueError(
                        "MaxPoolingWithArgmax2D: with padding='valid', `inputs` must be at least "
                        f"`pool_size` {self.pool_size} on its spatial axes; received shape "
                        f"{tuple(input_shape)}."
                    )

    def call(self, inputs):
        windows, (out_h, out_w), (top, left) = window_slices(
            inputs, self.pool_size, self.strides, self.padding)
        choice = ops.argmax(windows, axis=-1)  # [B, H', W', C]: the first maximum of each window
        pooled = ops.take_along_axis(windows, ops.expand_dims(choice, -1), axis=-1)[..., 0]
        shape = ops.shape(inputs)
        width, channels = ops.cast(shape[2], "int64"), ops.cast(shape[3], "int64")
        choice = ops.cast(choice, "int64")
        (kw, (sh, sw)) = (self.pool_size[1], self.strides)
        rows = ops.reshape(ops.arange(out_h, dtype="int64") * sh - ops.cast(top, "int64"),
                           (1, -1, 1, 1)) + choice // kw
        cols = ops.reshape(ops.arange(out_w, dtype="int64") * sw - ops.cast(left, "int64"),
                           (1, 1, -1, 1)) + choice % kw
        channel = ops.reshape(ops.arange(shape[3], dtype="int64"), (1, 1, 1, -1))
        switches = (rows * width + cols) * channels + channel
        return pooled, switches

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0],
                 *(pooled_size(input_shape[a], p, s, self.padding)
                   for a, p, s in zip((1, 2), self.pool_size, self.strides)),
                 input_shape[3])
        return shape, shape

    def compute_output_spec(self, inputs):
        shape, _ = self.compute_output_shape(inputs.shape)
        return (keras.KerasTensor(shape, dtype=self.compute_dtype),
                keras.KerasTensor(shape, dtype="int64"))

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config
