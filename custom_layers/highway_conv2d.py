"""Convolutional highway layer (Srivastava, Greff & Schmidhuber, 2015)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class HighwayConv2D(keras.layers.Layer):
    """Convolutional highway layer: `y = T(x) * H(x) + (1 - T(x)) * x`.

    The gate of `Highway` over 2D convolutions, as in the convolutional
    highway networks of "Training Very Deep Networks" (Srivastava et al.,
    NIPS 2015): `H` and `T` are convolutions with stride 1 and "same"
    padding whose number of filters equals the input's channels, so the
    output has the input's shape. A negative `transform_bias` closes the
    gates at the start, so a fresh layer carries its input (see `Highway`).

    Args:
        kernel_size: int or pair of ints, the size of both convolutions.
        activation: activation of the transform `H`. Defaults to `"relu"`.
        transform_bias: initial value of the gate bias. Defaults to -2.
        data_format: `"channels_last"` (default) or `"channels_first"`.
        kernel_initializer: initializer of both kernels.
        bias_initializer: initializer of the transform's bias.
        kernel_regularizer: regularizer of both kernels.
        bias_regularizer: regularizer of both biases.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a rank-4 image tensor whose channel axis is known.

    Returns:
        A tensor of the input's shape.

    Example:

    >>> x = keras.Input((28, 28, 1))
    >>> h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    >>> h = HighwayConv2D(3)(h)
    >>> h.shape
    (None, 28, 28, 32)
    """

    def __init__(
        self,
        kernel_size,
        activation="relu",
        transform_bias=-2.0,
        data_format=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(kernel_size, int):
            kernel_size = (kernel_size, kernel_size)
        kernel_size = tuple(kernel_size)
        if len(kernel_size) != 2 or any(
            not isinstance(k, int) or k < 1 for k in kernel_size
        ):
            raise ValueError(
                "HighwayConv2D: `kernel_size` must be a positive int or a pair "
                f"of positive ints; received {kernel_size!r}."
            )
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.transform_bias = float(transform_bias)
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "HighwayConv2D: `data_format` must be 'channels_last' or "
                f"'channels_first'; received {data_format!r}."
            )
        self.data_format = data_format
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "HighwayConv2D: `inputs` must have rank 4 (batch, height, width, "
                f"channels); received shape {tuple(input_shape)}."
            )
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(
                "HighwayConv2D: the channel axis of `inputs` must be known; "
                f"received shape {tuple(input_shape)}."
            )
        shape = self.kernel_size + (channels, channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(channels,),
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
        )
        self.gate_kernel = self.add_weight(
            name="gate_kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.gate_bias = self.add_weight(
            name="gate_bias",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.transform_bias),
            regularizer=self.bias_regularizer,
        )
        self.input_spec = keras.InputSpec(
            ndim=4, axes={self._channel_axis(): channels}
        )

    def _conv(self, inputs, kernel, bias):
        outputs = ops.conv(
            inputs, kernel, strides=1, padding="same", data_format=self.data_format
        )
        if self.data_format == "channels_first":
            bias = ops.reshape(bias, (1, -1, 1, 1))
        return outputs + bias

    def transform_gate(self, inputs):
        """T(x), in (0, 1): how much of H(x) replaces x, per position and channel."""
        return ops.sigmoid(self._conv(inputs, self.gate_kernel, self.gate_bias))

    def call(self, inputs):
        transformed = self.activation(self._conv(inputs, self.kernel, self.bias))
        return inputs + self.transform_gate(inputs) * (transformed - inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
            transform_bias=self.transform_bias,
            data_format=self.data_format,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        )
        return config
