"""Fixed position channels appended to a feature map (CoordConv)."""

import keras
from keras import ops

ENCODINGS = ("linear", "one_hot")


@keras.saving.register_keras_serializable(package="special_networks")
class CoordinateChannels(keras.layers.Layer):
    """Appends where each location is to its features.

    From "An Intriguing Failing of Convolutional Neural Networks and the
    CoordConv Solution" (Liu et al., NeurIPS 2018): a convolution cannot
    tell locations apart, so the row and column of each location are
    appended as two more channels, scaled to [-1, 1] (`encoding="linear"`).
    With `encoding="one_hot"` each of the h * w locations gets a channel of
    its own (1 there, 0 elsewhere); a Dense layer after it then learns one
    vector per location, as the temporal encoding of end-to-end memory
    networks learns one per memory slot.

    Args:
        encoding: "linear" (2 channels: row, column) or "one_hot" (h * w).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: features [B, h, w, C] (h and w known).

    Returns:
        [B, h, w, C + 2] or [B, h, w, C + h * w], in the input's dtype.

    Example:

    >>> grid = keras.Input((6, 6, 64))
    >>> CoordinateChannels("one_hot")(grid).shape
    (None, 6, 6, 100)
    """

    def __init__(self, encoding="linear", **kwargs):
        super().__init__(**kwargs)
        if encoding not in ENCODINGS:
            raise ValueError(f"CoordinateChannels: `encoding` must be one of {ENCODINGS}; "
                             f"received {encoding!r}.")
        self.encoding = encoding

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError("CoordinateChannels: `inputs` must be (batch, height, width, channels) "
                             f"with a known height and width; received shape {tuple(input_shape)}.")

    def _channels(self, height, width):
        return 2 if self.encoding == "linear" else height * width

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if self.encoding == "linear":
            rows = ops.linspace(-1.0, 1.0, height) if height > 1 else ops.zeros((1,))
            columns = ops.linspace(-1.0, 1.0, width) if width > 1 else ops.zeros((1,))
            rows, columns = ops.meshgrid(rows, columns, indexing="ij")
            position = ops.stack([rows, columns], axis=-1)
        else:
            position = ops.reshape(ops.eye(height * width), (height, width, height * width))
        position = ops.cast(position, inputs.dtype)[None]
        batch = ops.shape(inputs)[0]
        position = ops.broadcast_to(position, (batch, height, width, self._channels(height, width)))
        return ops.concatenate([inputs, position], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[3] is None else (
            input_shape[3] + self._channels(input_shape[1], input_shape[2]))
        return (*input_shape[:3], channels)

    def get_config(self):
        config = super().get_config()
        config.update(encoding=self.encoding)
        return config
