"""Pointer attention (Vinyals, Fortunato & Jaitly, 2015)."""

import keras
from keras import ops

from custom_layers.input_checks import two_input_shapes

# Added to masked logits. Logits are float32 whatever the policy, so this
# stays finite (no -inf, so no NaN when every position is masked).
MASKED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="special_networks")
class PointerAttention(keras.layers.Layer):
    """Additive attention that points at encoder positions.

    From "Pointer Networks" (Vinyals, Fortunato & Jaitly, NIPS 2015), eq. 3:
    u_j = v^T tanh(W1 e_j + W2 d) for every encoder output e_j and the
    decoder state d; the output is log softmax(u) over the positions j, the
    distribution of "which input comes next". Two masks are kept apart:
    `mask` marks the real (non-padding) encoder positions, as Keras
    propagates it from the encoder, and `excluded` marks positions a decoder
    must not choose again (visited cities, sorted numbers). Logits are
    computed in float32 under any dtype policy, and masked positions get a
    large finite negative log-probability (`MASKED_LOGIT`), so their
    probability is exactly 0 and a row
    with every position masked gives a uniform distribution, never NaN.

    Args:
        units: size of the attention's hidden layer (W1, W2: -> units).
        kernel_initializer: initializer of W1, W2 and v.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[query, keys]`: `query` the decoder state, [B, D_q]
            (or [B, T, D_q] for T decoder steps at once), and `keys` the
            encoder outputs, [B, N, D_k].
        mask: Keras masks; the mask of `keys` ([B, N], True = real input) is
            used, the query's ignored.
        excluded: optional bool [B, N] (or [B, T, N]), True = may not be
            chosen.

    Returns:
        Log-probabilities over the N positions, float32 [B, N] (or
        [B, T, N]).

    Example:

    >>> keys = keras.Input((None, 16))
    >>> query = keras.Input((32,))
    >>> log_probs = PointerAttention(64)([query, keys])  # (None, None)
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"PointerAttention: `units` must be a positive int; received {units!r}.")
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        query, keys = two_input_shapes(input_shape, "PointerAttention", "[query, keys]")
        if len(keys) != 3 or keys[-1] is None:
            raise ValueError(
                "PointerAttention: `keys` must have shape (batch, positions, features) with "
                f"known features; received {tuple(keys)}."
            )
        if len(query) not in (2, 3) or query[-1] is None:
            raise ValueError(
                "PointerAttention: `query` must have shape (batch, features) or (batch, steps, "
                f"features) with known features; received {tuple(query)}."
            )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(keys[-1], self.units), initializer=self.kernel_initializer
        )
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query[-1], self.units), initializer=self.kernel_initializer
        )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.units,), initializer=self.kernel_initializer
        )

    def call(self, inputs, mask=None, excluded=None):
        query, keys = inputs
        steps = len(query.shape) == 3
        projected_keys = ops.matmul(keys, self.key_kernel)  # [B, N, U]
        projected_query = ops.matmul(query, self.query_kernel)  # [B, (T,) U]
        if steps:
            hidden = ops.tanh(projected_keys[:, None] + projected_query[:, :, None])
        else:
            hidden = ops.tanh(projected_keys + projected_query[:, None])
        logits = ops.cast(ops.matmul(hidden, self.score_vector[:, None])[..., 0], self._logit_dtype)
        blocked = None
        key_mask = mask[1] if isinstance(mask, (list, tuple)) else None
        if key_mask is not None:
            blocked = ops.logical_not(ops.cast(key_mask, "bool"))
            if steps:
                blocked = blocked[:, None]
        if excluded is not None:
            excluded = ops.cast(excluded, "bool")
            blocked = excluded if blocked is None else ops.logical_or(blocked, excluded)
        if blocked is None:
            return ops.log_softmax(logits, axis=-1)
        log_probs = ops.log_softmax(ops.where(blocked, MASKED_LOGIT, logits), axis=-1)
        # Blocked positions read exactly MASKED_LOGIT, a constant: no gradient
        # flows into them (unless every position is blocked: then uniform).
        everything = ops.all(blocked, axis=-1, keepdims=True)
        return ops.where(ops.logical_and(blocked, ops.logical_not(everything)), MASKED_LOGIT,
                         log_probs)

    @property
    def _logit_dtype(self):
        return "float64" if self.compute_dtype == "float64" else "float32"

    def compute_mask(self, inputs, mask=None):
        return None  # the output is a distribution over positions, not a sequence

    def compute_output_shape(self, input_shape):
        query, keys = input_shape
        return tuple(query[:-1]) + (keys[1],)

    def compute_output_spec(self, inputs, mask=None, excluded=None):
        shape = self.compute_output_shape([inputs[0].shape, inputs[1].shape])
        return keras.KerasTensor(shape, dtype=self._logit_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
