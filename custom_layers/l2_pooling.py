"""L2 pooling (Sermanet, Chintala & LeCun, 2012)."""

import keras
from keras import ops

from custom_layers.pool_geometry import check_image_shape, check_padding, int_pair, pooled_size


@keras.saving.register_keras_serializable(package="special_networks")
class L2Pooling2D(keras.layers.Layer):
    """L2 pooling: the square root of the mean of the squares over each window.

    From "Convolutional Neural Networks Applied to House Numbers Digit
    Classification" (Sermanet, Chintala & LeCun, ICPR 2012), where L2
    pooling (Lp pooling with p = 2, between average pooling at p = 1 and max
    pooling at p = inf) gave the best SVHN error. Each output is
    `sqrt(mean(x ** 2))` over the window's positions inside the input:
    with `padding="same"` the padded positions are not counted (as in
    `keras.layers.AveragePooling2D`). Squares and their mean are computed in
    float32 at least (in float16 a value of 256 already overflows), and the
    square root has gradient 0 where a whole window is 0 (not inf or NaN).

    Args:
        pool_size: an int or a tuple of two (rows, cols). Defaults to 2.
        strides: an int or a tuple of two; defaults to `pool_size`.
        padding: `"valid"` (default; only whole windows) or `"same"` (the
            output has `ceil(size / stride)` positions per axis).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images [B, H, W, C], channels last.

    Returns:
        [B, H', W', C] with `H' = (H - pool) // stride + 1` ("valid") or
        `ceil(H / stride)` ("same"), and likewise W'.

    Example:

    >>> x = keras.Input((32, 32, 3))
    >>> h = keras.layers.Conv2D(16, 5, activation="relu")(x)  # (None, 28, 28, 16)
    >>> h = L2Pooling2D(pool_size=3, strides=2, padding="same")(h)  # (None, 14, 14, 16)
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int_pair(pool_size, "pool_size", "L2Pooling2D")
        self.strides = self.pool_size if strides is None else int_pair(strides, "strides", "L2Pooling2D")
        self.padding = check_padding(padding, "L2Pooling2D")

    def build(self, input_shape):
        check_image_shape(input_shape, "inputs", "L2Pooling2D")
        if self.padding == "valid":
            for axis, pool in zip((1, 2), self.pool_size):
                if input_shape[axis] is not None and input_shape[axis] < pool:
                    raise ValueError(
                        f"L2Pooling2D: with padding='valid', `inputs` must be at least `pool_size` "
                        f"{self.pool_size} on its spatial axes; received shape {tuple(input_shape)}."
                    )

    def call(self, inputs):
        dtype = "float64" if self.compute_dtype == "float64" else "float32"
        x = ops.cast(inputs, dtype)
        mean = ops.average_pool(ops.square(x), self.pool_size, self.strides, self.padding)
        positive = mean > 0
        # sqrt(0) has an infinite derivative: route zeros around it (the double `where`).
        root = ops.where(positive, ops.sqrt(ops.where(positive, mean, ops.ones_like(mean))), 0.0)
        return ops.cast(root, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],
                *(pooled_size(input_shape[a], p, s, self.padding)
                  for a, p, s in zip((1, 2), self.pool_size, self.strides)),
                input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config
