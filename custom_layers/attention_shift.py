"""Location addressing on a 2D grid: an attention map moved by offsets a state chooses."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class AttentionShift(keras.layers.Layer):
    """Moves an attention map over a grid by offsets that a state chooses.

    The location addressing of the Neural Turing Machine (Graves, Wayne &
    Danihelka 2014, section 3.3.2), in two dimensions and without wrapping
    round the edges: the state u chooses a distribution s over the
    (2r + 1)^2 offsets (dy, dx) with |dy|, |dx| <= r and a gate g, and the
    map a becomes

        moved[i, j] = sum_{dy, dx} s[dy, dx] a[i - dy, j - dx]   (0 off the grid)
        prior = g moved + (1 - g) / (h w)

    s = softmax(W_s u + b_s), g = sigmoid(w_g u + b_g). Given to a
    `MemoryHop` as its location prior, the next hop reads "the place next to
    where the last hop read" (g near 1, s on one offset) or anywhere its
    content matches (g near 0). A map that sums to 1 gives a prior that sums
    to at most 1 (less where mass moves off the grid).

    Args:
        radius: r, the largest move along each axis, in grid locations.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[state, attention]`: u [B, d] and a [B, h, w] (h and w known).

    Returns:
        The prior [B, h, w], in float32 (float64 under a float64 policy).

    Example:

    >>> u, a = keras.Input((16,)), keras.Input((6, 6))
    >>> AttentionShift(radius=2)([u, a]).shape
    (None, 6, 6)
    """

    def __init__(self, radius=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
            raise ValueError(f"AttentionShift: `radius` must be a positive int; received {radius!r}.")
        self.radius = radius

    @property
    def offsets(self):
        """The (dy, dx) of each entry of s, row by row."""
        r = self.radius
        return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError("AttentionShift: `inputs` must be [state, attention]; "
                             f"received shapes {input_shape}.")
        state, attention = (tuple(s) for s in input_shape)
        if len(state) != 2 or state[-1] is None:
            raise ValueError(f"AttentionShift: `state` must be (batch, depth) with a known depth; "
                             f"received {state}.")
        if len(attention) != 3 or attention[1] is None or attention[2] is None:
            raise ValueError("AttentionShift: `attention` must be (batch, height, width) with a known "
                             f"height and width; received {attention}.")
        count = len(self.offsets)
        self.shift_kernel = self.add_weight(name="shift_kernel", shape=(state[-1], count),
                                            initializer="glorot_uniform")
        self.shift_bias = self.add_weight(name="shift_bias", shape=(count,), initializer="zeros")
        self.gate_kernel = self.add_weight(name="gate_kernel", shape=(state[-1], 1),
                                           initializer="glorot_uniform")
        self.gate_bias = self.add_weight(name="gate_bias", shape=(1,), initializer="zeros")

    def _precision(self):
        return "float64" if self.compute_dtype == "float64" else "float32"

    def call(self, inputs):
        state, attention = inputs
        precision, r = self._precision(), self.radius
        state = ops.cast(state, precision)
        shift = ops.softmax(ops.matmul(state, ops.cast(self.shift_kernel, precision))
                            + ops.cast(self.shift_bias, precision), axis=-1)
        gate = ops.sigmoid(ops.matmul(state, ops.cast(self.gate_kernel, precision))
                           + ops.cast(self.gate_bias, precision))[:, :, None]
        height, width = attention.shape[1], attention.shape[2]
        padded = ops.pad(ops.cast(attention, precision), ((0, 0), (r, r), (r, r)))
        moved = ops.stack([padded[:, r - dy:r - dy + height, r - dx:r - dx + width]
                           for dy, dx in self.offsets], axis=1)  # [B, offsets, h, w]
        moved = ops.einsum("bk,bkhw->bhw", shift, moved)
        return gate * moved + (1.0 - gate) / float(height * width)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs[1].shape, dtype=self._precision())

    def get_config(self):
        config = super().get_config()
        config.update(radius=self.radius)
        return config
