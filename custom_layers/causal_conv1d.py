"""Dilated causal 1-D convolution with a streaming step (WaveNet's building block)."""

import keras
from keras import ops


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int; received {value!r}.")
    return value


def check_sequence_shape(input_shape, layer, name="inputs"):
    """A ValueError unless `input_shape` is [batch, time, channels] with known channels."""
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(f"{layer}: `{name}` must be [batch, time, channels] with known channels; "
                         f"received shape {tuple(input_shape)}.")


@keras.saving.register_keras_serializable(package="special_networks")
class CausalConv1D(keras.layers.Layer):
    """Dilated causal convolution over time: an output never sees the future.

    From "WaveNet: A Generative Model for Raw Audio" (van den Oord et al.,
    2016), section 2.1: `y[t] = b + sum_j W[j] x[t - (K - 1 - j) d]` for
    taps j = 0..K-1 (K = `kernel_size`, d = `dilation_rate`), with
    `x[t] = 0` for t < 0. It is causal by construction: the input is padded
    with (K - 1) d zeros at the start only, and the sum is the K shifted
    slices of that padded input, each times its tap's matrix (K matmuls; no
    dilated-convolution kernel, so it compiles under XLA and keeps
    `mixed_float16` matmuls in half precision). Its receptive field is
    (K - 1) d + 1 samples.

    `step(x_t, cache)` is the same convolution one time step at a time
    (fast generation, Paine et al. 2016, "Fast WaveNet Generation
    Algorithm"): `cache` holds the last (K - 1) d inputs, oldest first
    (zeros at the start, as the padding), and each step returns the output
    and the cache shifted by one. Stepping through a sequence gives the
    outputs of `call` on it.

    Args:
        filters: output channels.
        kernel_size: taps K. Defaults to 2.
        dilation_rate: spacing d of the taps in time. Defaults to 1.
        use_bias: whether to add a bias. Defaults to True.
        kernel_initializer: initializer of the kernel [K, in, filters].
        bias_initializer: initializer of the bias.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: [B, T, C] (T may be dynamic). A mask passes through unchanged:
            padding at the end cannot change the outputs before it.

    Returns:
        [B, T, filters].

    Example:

    >>> x = keras.Input((None, 1))
    >>> h = x
    >>> for d in (1, 2, 4, 8):
    ...     h = CausalConv1D(16, kernel_size=2, dilation_rate=d)(h)  # receptive field 16
    >>> model = keras.Model(x, h)
    """

    def __init__(self, filters, kernel_size=2, dilation_rate=1, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = _positive_int("filters", filters)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.dilation_rate = _positive_int("dilation_rate", dilation_rate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    @property
    def cache_length(self):
        """Past inputs a streaming step needs: (kernel_size - 1) * dilation_rate."""
        return (self.kernel_size - 1) * self.dilation_rate

    @property
    def receptive_field(self):
        return self.cache_length + 1

    def build(self, input_shape):
        check_sequence_shape(input_shape, "CausalConv1D")
        self.input_channels = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, self.input_channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer) \
            if self.use_bias else None

    def _check_channels(self, x, name):
        if x.shape[-1] is not None and x.shape[-1] != self.input_channels:
            raise ValueError(f"CausalConv1D: `{name}` must have {self.input_channels} channels (the "
                             f"layer was built for them); received shape {tuple(x.shape)}.")

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"CausalConv1D: `inputs` must be [batch, time, channels]; received shape "
                             f"{tuple(inputs.shape)}.")
        self._check_channels(inputs, "inputs")
        inputs = ops.cast(inputs, self.compute_dtype)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        length = ops.shape(inputs)[1]
        padded = ops.pad(inputs, [[0, 0], [self.cache_length, 0], [0, 0]])
        outputs = None
        for j in range(self.kernel_size):
            start = j * self.dilation_rate  # tap j reads x[t - (K - 1 - j) d]
            term = ops.matmul(padded[:, start:start + length], kernel[j])
            outputs = term if outputs is None else outputs + term
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return outputs

    def initial_cache(self, batch_size, dtype=None):
        """Zeros [batch_size, cache_length, input channels]: the padding before the start."""
        return ops.zeros((batch_size, self.cache_length, self.input_channels), dtype or self.compute_dtype)

    def step(self, x_t, cache):
        """One time step: `x_t` [B, C], `cache` [B, (K - 1) d, C] (the last
        inputs, oldest first) -> (`y_t` [B, filters], the next cache)."""
        if len(x_t.shape) != 2:
            raise ValueError(f"CausalConv1D.step: `x_t` must be [batch, channels]; received shape "
                             f"{tuple(x_t.shape)}.")
        if not self.built:
            self.build((None, None, x_t.shape[-1]))
        self._check_channels(x_t, "x_t")
        if len(cache.shape) != 3 or (cache.shape[1] is not None and cache.shape[1] != self.cache_length):
            raise ValueError(f"CausalConv1D.step: `cache` must be [batch, {self.cache_length}, "
                             f"{self.input_channels}] (the last (kernel_size - 1) * dilation_rate "
                             f"inputs); received shape {tuple(cache.shape)}.")
        x_t = ops.cast(x_t, self.compute_dtype)
        window = ops.concatenate([ops.cast(cache, self.compute_dtype), x_t[:, None]], axis=1)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        y = None
        for j in range(self.kernel_size):
            term = ops.matmul(window[:, j * self.dilation_rate], kernel[j])
            y = term if y is None else y + term
        if self.use_bias:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return y, window[:, 1:]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
