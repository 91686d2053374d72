"""Pointer-generator output layer (See, Liu & Manning, 2017)."""

import keras
from keras import ops

INPUT_NAMES = (
    "decoder_states", "context", "decoder_inputs", "vocabulary_logits", "attention", "source_ids",
)


@keras.saving.register_keras_serializable(package="special_networks")
class PointerGenerator(keras.layers.Layer):
    """Mixes a vocabulary softmax with a copy distribution over the source.

    From "Get To The Point: Summarization with Pointer-Generator Networks"
    (See, Liu & Manning, ACL 2017), eqs. 8-9: a generation probability

        p_gen = sigmoid(w_h . h*_t + w_s . s_t + w_x . x_t + b)

    from the attention context h*_t, the decoder state s_t and the decoder
    input x_t, and the final distribution over an *extended vocabulary* (the
    `vocab_size` words, then `max_oov` slots for source words outside it)

        P(w) = p_gen P_vocab(w) + (1 - p_gen) sum_{i: source_i = w} a_i.

    The copy term is a scatter-add of the attention `a` onto the source ids,
    done as a matmul with their one-hot encoding (no segment sums, so it
    runs under XLA). Repeated source words add up. The mixture is computed in
    float32 under any dtype policy (float64 under a float64 one), whatever
    the dtype of the inputs, so the probabilities keep their precision under
    `mixed_float16`. The output is a distribution (sums to 1 when the
    attention does and every source id is below `vocab_size + max_oov`); it
    holds no logarithm: clip it before taking one (Keras's cross-entropy on
    probabilities does).

    Args:
        max_oov: number of extended-vocabulary slots, ids `vocab_size` to
            `vocab_size + max_oov - 1`, for source words outside the
            vocabulary (`vocab_size` is the last dimension of the logits).
        return_p_gen: if True, also return p_gen.
        kernel_initializer: initializer of w_h, w_s and w_x.
        bias_initializer: initializer of b (e.g. a positive constant to start
            by generating).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[decoder_states, context, decoder_inputs,
            vocabulary_logits, attention, source_ids]`: decoder states
            [B, T, D_s], attention contexts [B, T, D_c], decoder inputs
            (embeddings) [B, T, D_x], vocabulary logits [B, T, V], the
            attention over source positions [B, T, S] (a distribution;
            padding positions 0) and the source token ids in the extended
            vocabulary, int [B, S] (ids < V for vocabulary words, V + k for
            the k-th distinct out-of-vocabulary source word; ids outside
            [0, V + max_oov) receive nothing). The T axis may be left out
            (one decoder step: [B, D], [B, V], [B, S]).
        mask: Keras masks; the decoder states' mask (over T) is passed on.

    Returns:
        Probabilities over the extended vocabulary, float32 [B, T, V +
        max_oov] (or [B, V + max_oov]); with `return_p_gen`, also p_gen,
        float32 [B, T] (or [B]).

    Example:

    >>> states, context, inputs = [keras.Input((None, d)) for d in (32, 64, 16)]
    >>> logits, attention = keras.Input((None, 100)), keras.Input((None, 12))
    >>> source_ids = keras.Input((12,), dtype="int32")
    >>> probs = PointerGenerator(max_oov=4)(
    ...     [states, context, inputs, logits, attention, source_ids])  # (None, None, 104)
    """

    def __init__(self, max_oov, return_p_gen=False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        # No autocast: mixed_float16 would round the attention and the logits
        # to float16; call() casts every input to float32 itself.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if isinstance(max_oov, bool) or not isinstance(max_oov, int) or max_oov < 0:
            raise ValueError(
                f"PointerGenerator: `max_oov` must be an int >= 0; received {max_oov!r}."
            )
        self.max_oov = max_oov
        self.return_p_gen = bool(return_p_gen)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    @staticmethod
    def _shapes(input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != len(INPUT_NAMES)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                "PointerGenerator: `inputs` must be [" + ", ".join(INPUT_NAMES)
                + f"]; received shapes {input_shape}."
            )
        return [tuple(s) for s in input_shape]

    def build(self, input_shape):
        shapes = self._shapes(input_shape)
        states, context, dec_inputs, logits, attention, source = shapes
        rank = len(states)
        if rank not in (2, 3):
            raise ValueError(
                "PointerGenerator: `decoder_states` must have shape (batch, steps, features) or "
                f"(batch, features); received {states}."
            )
        for name, shape in zip(INPUT_NAMES[:5], shapes[:5]):
            if len(shape) != rank or (shape[-1] is None and name != "attention"):
                raise ValueError(
                    f"PointerGenerator: `{name}` must have rank {rank} like `decoder_states` and "
                    f"a known last dimension (the positions may vary); received {shape}."
                )
        if len(source) != 2:
            raise ValueError(
                f"PointerGenerator: `source_ids` must have shape (batch, positions); received "
                f"{source}."
            )
        if None not in (source[1], attention[-1]) and source[1] != attention[-1]:
            raise ValueError(
                f"PointerGenerator: `attention` has {attention[-1]} source positions but "
                f"`source_ids` {source[1]}; they must be equal."
            )
        self.vocab_size = logits[-1]
        self.context_kernel = self.add_weight(
            name="context_kernel", shape=(context[-1], 1), initializer=self.kernel_initializer
        )
        self.state_kernel = self.add_weight(
            name="state_kernel", shape=(states[-1], 1), initializer=self.kernel_initializer
        )
        self.input_kernel = self.add_weight(
            name="input_kernel", shape=(dec_inputs[-1], 1), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(1,), initializer=self.bias_initializer)

    @property
    def _mixture_dtype(self):
        return "float64" if self.compute_dtype == "float64" else "float32"

    def call(self, inputs, mask=None):
        dtype = self._mixture_dtype
        states, context, dec_inputs, logits, attention = [ops.cast(x, dtype) for x in inputs[:5]]
        source_ids = ops.cast(inputs[5], "int32")
        kernel = lambda w: ops.cast(w, dtype)  # noqa: E731  (float32 variables)
        gate = (
            ops.matmul(context, kernel(self.context_kernel))
            + ops.matmul(states, kernel(self.state_kernel))
            + ops.matmul(dec_inputs, kernel(self.input_kernel))
            + kernel(self.bias)
        )
        p_gen = ops.sigmoid(gate)  # [B, (T,) 1]
        vocabulary = ops.softmax(logits, axis=-1)
        if self.max_oov:
            padding = [[0, 0]] * (len(vocabulary.shape) - 1) + [[0, self.max_oov]]
            vocabulary = ops.pad(vocabulary, padding)
        extended = self.vocab_size + self.max_oov
        # Scatter-add as a matmul: one_hot(ids) [B, S, V'] gathers a_i onto
        # the id of source_i, adding up repeated words; ids out of range are
        # all-zero rows.
        source_one_hot = ops.one_hot(source_ids, extended, dtype=dtype)
        if len(attention.shape) == 2:
            copy = ops.matmul(attention[:, None, :], source_one_hot)[:, 0]
        else:
            copy = ops.matmul(attention, source_one_hot)
        probabilities = p_gen * vocabulary + (1.0 - p_gen) * copy
        if self.return_p_gen:
            return probabilities, p_gen[..., 0]
        return probabilities

    def compute_mask(self, inputs, mask=None):
        state_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        if self.return_p_gen:
            return [state_mask, state_mask]
        return state_mask

    def compute_output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        states, logits = shapes[0], shapes[3]
        vocab = None if logits[-1] is None else logits[-1] + self.max_oov
        probabilities = tuple(states[:-1]) + (vocab,)
        if self.return_p_gen:
            return probabilities, tuple(states[:-1])
        return probabilities

    def compute_output_spec(self, inputs, mask=None):
        shapes = self.compute_output_shape([tuple(x.shape) for x in inputs])
        if self.return_p_gen:
            return tuple(keras.KerasTensor(s, dtype=self._mixture_dtype) for s in shapes)
        return keras.KerasTensor(shapes, dtype=self._mixture_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            max_oov=self.max_oov,
            return_p_gen=self.return_p_gen,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
