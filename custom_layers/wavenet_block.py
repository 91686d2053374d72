"""WaveNet's residual block: gated dilated causal convolution, residual and skip outputs."""

import keras
from keras import ops

from custom_layers.causal_conv1d import CausalConv1D, _positive_int, check_sequence_shape


@keras.saving.register_keras_serializable(package="special_networks")
class WaveNetBlock(keras.layers.Layer):
    """One residual block of WaveNet (van den Oord et al., 2016, sections
    2.3-2.5, figure 4).

    `z = tanh(W_f * x + V_f h) . sigmoid(W_g * x + V_g h)`, where `*` is a
    dilated causal convolution (`CausalConv1D`, both gates in one of
    2 x `dilation_channels` filters) and `h` an optional global conditioning
    vector (e.g. a speaker or a digit embedding), projected and added to
    both gates at every time step. Then a 1x1 convolution of z gives the
    residual output `x + W_r z` (the next block's input) and another the
    skip output `W_s z` (summed over the blocks into the output stack).

    `step(x_t, cache, condition)` is the block one time step at a time (the
    fast generation of Paine et al. 2016): only the dilated convolution has
    a past, the last (K - 1) d inputs of the block, kept in `cache`.

    Args:
        residual_channels: channels of the input and of the residual output.
        dilation_channels: channels of each gate (z has this many).
        skip_channels: channels of the skip output.
        kernel_size: taps of the dilated convolution. Defaults to 2.
        dilation_rate: its dilation. Defaults to 1.
        kernel_initializer: initializer of every kernel.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: x [B, T, residual_channels], or a list [x, h] with the
            conditioning vector h [B, H] (the block then learns V [H, 2 x
            dilation_channels]; built with or without h, it must be called
            the same way). A mask on x passes through to both outputs.

    Returns:
        A tuple `(residual, skip)`: [B, T, residual_channels] and
        [B, T, skip_channels].

    Example:

    >>> x = keras.Input((None, 32))
    >>> digit = keras.Input((16,))
    >>> skips = []
    >>> for d in (1, 2, 4, 8):
    ...     x, skip = WaveNetBlock(32, 32, 64, dilation_rate=d)([x, digit])
    ...     skips.append(skip)
    >>> out = keras.layers.Add()(skips)
    """

    def __init__(self, residual_channels, dilation_channels, skip_channels, kernel_size=2, dilation_rate=1,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.residual_channels = _positive_int("residual_channels", residual_channels)
        self.dilation_channels = _positive_int("dilation_channels", dilation_channels)
        self.skip_channels = _positive_int("skip_channels", skip_channels)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.dilation_rate = _positive_int("dilation_rate", dilation_rate)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    @property
    def cache_length(self):
        return (self.kernel_size - 1) * self.dilation_rate

    def _shapes(self, input_shape):
        """(x shape, h shape or None), with checks."""
        conditioned = isinstance(input_shape, (list, tuple)) and len(input_shape) > 0 \
            and isinstance(input_shape[0], (list, tuple))
        x_shape, h_shape = (input_shape[0], input_shape[1]) if conditioned else (input_shape, None)
        if conditioned and len(input_shape) != 2:
            raise ValueError(f"WaveNetBlock: `inputs` must be x or [x, h]; received {len(input_shape)} shapes.")
        check_sequence_shape(x_shape, "WaveNetBlock", "x")
        if x_shape[-1] != self.residual_channels:
            raise ValueError(f"WaveNetBlock: `x` must have residual_channels={self.residual_channels} channels; "
                             f"received shape {tuple(x_shape)}.")
        if h_shape is not None and (len(h_shape) != 2 or h_shape[-1] is None):
            raise ValueError(f"WaveNetBlock: the conditioning `h` must be [batch, features] with known "
                             f"features; received shape {tuple(h_shape)}.")
        return x_shape, h_shape

    def build(self, input_shape):
        x_shape, h_shape = self._shapes(input_shape)
        init = self.kernel_initializer
        self.conv = CausalConv1D(2 * self.dilation_channels, self.kernel_size, self.dilation_rate,
                                 kernel_initializer=init, dtype=self.dtype_policy, name="dilated_conv")
        self.conv.build(x_shape)
        self.conditioned = h_shape is not None
        self.condition_kernel = self.add_weight(
            name="condition_kernel", shape=(h_shape[-1], 2 * self.dilation_channels), initializer=init) \
            if self.conditioned else None
        self.residual_kernel = self.add_weight(
            name="residual_kernel", shape=(self.dilation_channels, self.residual_channels), initializer=init)
        self.residual_bias = self.add_weight(name="residual_bias", shape=(self.residual_channels,),
                                             initializer="zeros")
        self.skip_kernel = self.add_weight(
            name="skip_kernel", shape=(self.dilation_channels, self.skip_channels), initializer=init)
        self.skip_bias = self.add_weight(name="skip_bias", shape=(self.skip_channels,), initializer="zeros")

    def _split(self, inputs, x_name="x"):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"WaveNetBlock: `inputs` must be x or [x, h]; received {len(inputs)} tensors.")
            x, h = inputs
        else:
            x, h = inputs, None
        if (h is not None) != self.conditioned:
            raise ValueError("WaveNetBlock: the block was built " + ("with" if self.conditioned else "without")
                             + " a conditioning vector `h`; call it the same way.")
        return x, h

    def _condition(self, h):
        """V h [B, 2 x dilation_channels] in the compute dtype, or None."""
        if h is None:
            return None
        return ops.matmul(ops.cast(h, self.compute_dtype), ops.cast(self.condition_kernel, self.compute_dtype))

    def _outputs(self, x, gates):
        dtype = self.compute_dtype
        filters, gate = gates[..., :self.dilation_channels], gates[..., self.dilation_channels:]
        z = ops.tanh(filters) * ops.sigmoid(gate)
        residual = x + ops.matmul(z, ops.cast(self.residual_kernel, dtype)) + ops.cast(self.residual_bias, dtype)
        skip = ops.matmul(z, ops.cast(self.skip_kernel, dtype)) + ops.cast(self.skip_bias, dtype)
        return residual, skip

    def call(self, inputs):
        x, h = self._split(inputs)
        x = ops.cast(x, self.compute_dtype)
        gates = self.conv(x)
        condition = self._condition(h)
        if condition is not None:
            gates = gates + condition[:, None, :]
        return self._outputs(x, gates)

    def initial_cache(self, batch_size, dtype=None):
        """Zeros [batch_size, (K - 1) d, residual_channels]."""
        return self.conv.initial_cache(batch_size, dtype)

    def step(self, x_t, cache, condition=None):
        """One time step: `x_t` [B, residual_channels], `cache` [B, (K - 1) d,
        residual_channels] (the block's last inputs, oldest first), `condition`
        h [B, H] if the block is conditioned -> (residual_t, skip_t, next cache)."""
        x_t, h = self._split([x_t, condition] if condition is not None else x_t)
        x_t = ops.cast(x_t, self.compute_dtype)
        gates, cache = self.conv.step(x_t, cache)
        projected = self._condition(h)
        if projected is not None:
            gates = gates + projected
        residual, skip = self._outputs(x_t, gates)
        return residual, skip, cache

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._shapes(input_shape)
        return tuple(x_shape), tuple(x_shape[:-1]) + (self.skip_channels,)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask, mask

    def get_config(self):
        return {
            **super().get_config(),
            "residual_channels": self.residual_channels,
            "dilation_channels": self.dilation_channels,
            "skip_channels": self.skip_channels,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
