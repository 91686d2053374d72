"""Highway layer (Srivastava, Greff & Schmidhuber, 2015)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class Highway(keras.layers.Layer):
    """Fully connected highway layer: `y = T(x) * H(x) + (1 - T(x)) * x`.

    From "Training Very Deep Networks" (Srivastava, Greff & Schmidhuber,
    NIPS 2015). `H(x) = activation(x W_H + b_H)` is a dense transform and
    `T(x) = sigmoid(x W_T + b_T)` the transform gate; `1 - T` is the carry
    gate. Input and output have the same size, so layers stack to any depth.

    The sign of `transform_bias` (the initial `b_T`) decides what a fresh
    layer does: negative values close the transform gate, so at the start of
    training each layer carries its input through almost unchanged and a deep
    stack behaves like a short one; this is what lets 100-layer highway nets
    train. The paper used -1 to -3 (deeper nets, more negative). Keras 1's
    `Highway` layer silently changed its default to +1 in 1.2.0, which opens
    the gates and loses that property; we keep the paper's sign.

    Args:
        activation: activation of the transform `H`. Defaults to `"relu"`.
        transform_bias: initial value of the gate bias `b_T`. Defaults to -2.
        kernel_initializer: initializer of `W_H` and `W_T`.
        bias_initializer: initializer of `b_H`.
        kernel_regularizer: regularizer of `W_H` and `W_T`.
        bias_regularizer: regularizer of `b_H` and `b_T`.
        kernel_constraint: constraint on `W_H` and `W_T`.
        bias_constraint: constraint on `b_H` and `b_T`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any rank >= 2; the layer acts on the last axis,
            whose size must be known.

    Returns:
        A tensor of the input's shape. Masks pass through unchanged.

    Example:

    >>> x = keras.Input((784,))
    >>> h = keras.layers.Dense(50, activation="relu")(x)
    >>> for _ in range(20):
    ...     h = Highway(activation="relu")(h)
    >>> y = keras.layers.Dense(10, activation="softmax")(h)
    >>> model = keras.Model(x, y)
    """

    def __init__(
        self,
        activation="relu",
        transform_bias=-2.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.transform_bias = float(transform_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "Highway: `inputs` must have rank >= 2 (batch, ..., features); "
                f"received shape {tuple(input_shape)}."
            )
        units = input_shape[-1]
        if units is None:
            raise ValueError(
                "Highway: the last axis of `inputs` must be known to build the "
                f"layer; received shape {tuple(input_shape)}."
            )
        weight_args = dict(
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint
        )
        bias_args = dict(
            regularizer=self.bias_regularizer, constraint=self.bias_constraint
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(units, units),
            initializer=self.kernel_initializer,
            **weight_args,
        )
        self.bias = self.add_weight(
            name="bias", shape=(units,), initializer=self.bias_initializer, **bias_args
        )
        self.gate_kernel = self.add_weight(
            name="gate_kernel",
            shape=(units, units),
            initializer=self.kernel_initializer,
            **weight_args,
        )
        self.gate_bias = self.add_weight(
            name="gate_bias",
            shape=(units,),
            initializer=keras.initializers.Constant(self.transform_bias),
            **bias_args,
        )
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: units})

    def transform_gate(self, inputs):
        """T(x), in (0, 1): how much of H(x) replaces x, per unit."""
        return ops.sigmoid(ops.matmul(inputs, self.gate_kernel) + self.gate_bias)

    def call(self, inputs):
        transformed = self.activation(ops.matmul(inputs, self.kernel) + self.bias)
        return inputs + self.transform_gate(inputs) * (transformed - inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            activation=keras.activations.serialize(self.activation),
            transform_bias=self.transform_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
        )
        return config
