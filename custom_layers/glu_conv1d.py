"""A gated linear unit convolution block (ConvS2S's encoder and decoder layer)."""

import math

import keras
from keras import ops


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"GLUConv1D: `{name}` must be a positive int; received {value!r}.")
    return value


@keras.saving.register_keras_serializable(package="special_networks")
class GLUConv1D(keras.layers.Layer):
    """A 1-D convolution to 2C channels, gated: `A * sigmoid(B)`, plus a residual.

    From "Convolutional Sequence to Sequence Learning" (Gehring et al., ICML
    2017), sections 3.2 and 3.4: a convolution of the C input channels with
    `kernel_size` taps produces [A B] (2C channels); the gated linear unit
    A * sigmoid(B) keeps C channels, and with `residual` the block returns
    (x + A * sigmoid(B)) * sqrt(0.5), the scaling that keeps the variance of
    a sum of two terms. Non-causal (the encoder), the input is padded with
    (K - 1) // 2 zeros before and K - 1 - (K - 1) // 2 after, so output t is
    centred on input t; `causal` (the decoder), with K - 1 zeros before only,
    so output t sees inputs t - K + 1 .. t and never the future. The
    convolution is the sum of K shifted slices times each tap's matrix (it
    compiles under XLA and keeps `mixed_float16` matmuls in half precision).
    Masked (padding) positions are zeroed before the convolution, so padding
    changes no real position's output. The default initializer draws the
    kernel from N(0, 4 (1 - dropout) / (K C)), the paper's section 3.5 for a
    layer followed by a GLU. Weight normalisation (fairseq's) is left out.

    Args:
        kernel_size: taps K. Defaults to 3.
        causal: whether output t may see only inputs <= t. Defaults to False.
        residual: whether to add the input and scale by sqrt(0.5). Defaults to True.
        dropout: rate of dropout on the input of the convolution in training.
            Defaults to 0.
        use_bias: whether the convolution has a bias. Defaults to True.
        kernel_initializer: initializer of the kernel [K, C, 2C]; None: the
            paper's (above).
        bias_initializer: initializer of the bias [2C].
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, T, C] (T may be dynamic).
        mask: optional bool [B, T], True = a real position; passed through.
        training: whether dropout applies.

    Returns:
        [B, T, C].

    Example:

    >>> x = keras.Input((None, 64))
    >>> h = GLUConv1D(kernel_size=3)(x)                 # an encoder layer
    >>> y = GLUConv1D(kernel_size=3, causal=True)(h)    # a decoder layer
    """

    def __init__(self, kernel_size=3, causal=False, residual=True, dropout=0.0, use_bias=True,
                 kernel_initializer=None, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.causal = bool(causal)
        self.residual = bool(residual)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"GLUConv1D: `dropout` must be a rate in [0, 1); received {dropout!r}.")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer) if kernel_initializer \
            else keras.initializers.VarianceScaling(4.0 * (1.0 - self.dropout), "fan_in", "untruncated_normal")
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout_layer = keras.layers.Dropout(self.dropout) if self.dropout else None
        self.supports_masking = True

    @property
    def padding(self):
        """(zeros before, zeros after) the input."""
        before = self.kernel_size - 1 if self.causal else (self.kernel_size - 1) // 2
        return before, self.kernel_size - 1 - before

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("GLUConv1D: `inputs` must be [batch, time, channels] with known channels; "
                             f"received shape {tuple(input_shape)}.")
        self.channels = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, self.channels, 2 * self.channels),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(2 * self.channels,),
                                    initializer=self.bias_initializer) if self.use_bias else None

    def call(self, inputs, mask=None, training=None):
        if len(inputs.shape) != 3 or (inputs.shape[-1] is not None and inputs.shape[-1] != self.channels):
            raise ValueError(f"GLUConv1D: `inputs` must be [batch, time, {self.channels}] (the layer was "
                             f"built for {self.channels} channels); received shape {tuple(inputs.shape)}.")
        inputs = ops.cast(inputs, self.compute_dtype)
        x = inputs
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)[..., None]
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        length = ops.shape(x)[1]
        padded = ops.pad(x, [[0, 0], list(self.padding), [0, 0]])
        kernel = ops.cast(self.kernel, self.compute_dtype)
        gates = None
        for j in range(self.kernel_size):  # tap j reads x[t + j - before]
            term = ops.matmul(padded[:, j:j + length], kernel[j])
            gates = term if gates is None else gates + term
        return self._gated(gates, inputs)

    def _gated(self, gates, inputs):
        """A * sigmoid(B) of the convolution's [A B], plus the bias and the residual."""
        if self.use_bias:
            gates = gates + ops.cast(self.bias, self.compute_dtype)
        outputs = gates[..., :self.channels] * ops.sigmoid(gates[..., self.channels:])
        if self.residual:
            outputs = (outputs + inputs) * math.sqrt(0.5)
        return outputs

    def _check_causal(self, method):
        if not self.causal:
            raise ValueError(f"GLUConv1D.{method}: only a causal layer runs a step at a time (this one "
                             "sees the next inputs too).")
        if not self.built:
            raise ValueError(f"GLUConv1D.{method}: build the layer first (call it, or `build((None, None, "
                             "channels))`): its channels size the cache.")

    def initial_cache(self, batch_size, dtype=None):
        """Zeros [batch_size, kernel_size - 1, channels]: the padding before the start."""
        self._check_causal("initial_cache")
        return ops.zeros((batch_size, self.kernel_size - 1, self.channels), dtype or self.compute_dtype)

    def step(self, x_t, cache):
        """One time step of a causal layer, in inference (no dropout): `x_t`
        [B, C] and `cache` [B, K - 1, C] (the last inputs, oldest first) ->
        (`y_t` [B, C], the next cache). Costs one position, not the window's."""
        self._check_causal("step")
        if len(x_t.shape) != 2 or (x_t.shape[-1] is not None and x_t.shape[-1] != self.channels):
            raise ValueError(f"GLUConv1D.step: `x_t` must be [batch, {self.channels}]; received shape "
                             f"{tuple(x_t.shape)}.")
        if len(cache.shape) != 3 or (cache.shape[1] is not None and cache.shape[1] != self.kernel_size - 1):
            raise ValueError(f"GLUConv1D.step: `cache` must be [batch, {self.kernel_size - 1}, {self.channels}] "
                             f"(the last kernel_size - 1 inputs); received shape {tuple(cache.shape)}.")
        x_t = ops.cast(x_t, self.compute_dtype)
        window = ops.concatenate([ops.cast(cache, self.compute_dtype), x_t[:, None]], axis=1)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        gates = None
        for j in range(self.kernel_size):
            term = ops.matmul(window[:, j], kernel[j])
            gates = term if gates is None else gates + term
        return self._gated(gates, x_t), window[:, 1:]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "causal": self.causal,
            "residual": self.residual,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
