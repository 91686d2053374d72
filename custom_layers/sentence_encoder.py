"""Sentence encoder of end-to-end memory networks: bag of words, position and temporal encoding."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class SentenceEncoder(keras.layers.Layer):
    """Sums a sentence's word embeddings into one memory vector.

    From "End-To-End Memory Networks" (Sukhbaatar, Szlam, Weston & Fergus,
    NIPS 2015), section 4.1: m_i = sum_j l_j * A x_ij, a bag of words
    (`position_encoding=False`, l_j = 1) or weighted by the position
    encoding l_kj = (1 - j/J) - (k/d)(1 - 2j/J), with J the sentence's own
    number of words (padding words, masked, count for nothing). With
    `temporal=True` a learned vector T(i) is added to the i-th most recent
    sentence (temporal encoding): i counts the slots back to the last real
    sentence (i = 0), so an empty sentence (every word masked) between real
    ones takes a time step — the paper's random noise (RN) inserts such
    empty memories to jitter the ages — and padding after the last one
    counts for nothing.

    Args:
        position_encoding: weight words by position (PE) instead of a plain sum.
        temporal: add a learned temporal encoding per memory slot (TE).
        max_sentences: number of temporal vectors (slots beyond share the last).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: embedded words, [B, S, W, d] (a story: S sentences of W
            words) or [B, W, d] (one sentence, e.g. the question; no
            temporal encoding then).
        mask: the words' mask ([B, S, W] or [B, W], True = a real word), as
            `Embedding(mask_zero=True)` propagates it.

    Returns:
        [B, S, d] (or [B, d]); for a story, the mask of non-empty sentences.

    Example:

    >>> words = keras.Input((None, None), dtype="int32")  # [B, S, W], 0 = padding
    >>> embedded = keras.layers.Embedding(100, 20, mask_zero=True)(words)
    >>> memories = SentenceEncoder(temporal=True)(embedded)  # [B, S, 20]
    """

    def __init__(self, position_encoding=True, temporal=False, max_sentences=50, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(max_sentences, int) or max_sentences < 1:
            raise ValueError("SentenceEncoder: `max_sentences` must be a positive int; "
                             f"received {max_sentences!r}.")
        self.position_encoding = bool(position_encoding)
        self.temporal = bool(temporal)
        self.max_sentences = max_sentences
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) not in (3, 4) or input_shape[-1] is None:
            raise ValueError(
                "SentenceEncoder: inputs must be embedded words (batch, sentences, words, depth) "
                f"or (batch, words, depth) with known depth; received {tuple(input_shape)}.")
        if self.temporal:
            self.temporal_encoding = self.add_weight(
                name="temporal_encoding", shape=(self.max_sentences, input_shape[-1]),
                initializer=keras.initializers.RandomNormal(stddev=0.1))

    def call(self, inputs, mask=None):
        words = ops.shape(inputs)[-2]
        depth = inputs.shape[-1]
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:-1], "bool")
        present = ops.cast(mask, inputs.dtype)[..., None]
        if self.position_encoding:
            lengths = ops.sum(present, axis=-2, keepdims=True)  # J of each sentence
            j = ops.cast(ops.arange(1, words + 1), inputs.dtype)[:, None]
            k = ops.cast(ops.arange(1, depth + 1), inputs.dtype)[None, :]
            big_j = ops.maximum(lengths, 1)
            weights = (1 - j / big_j) - (k / depth) * (1 - 2 * j / big_j)
        else:
            weights = 1
        encoded = ops.sum(inputs * weights * present, axis=-2)
        if self.temporal and len(inputs.shape) == 4:
            # A sentence's age: slots from it to the last real sentence.
            real = ops.any(mask, axis=-1)
            slot = ops.arange(ops.shape(real)[1], dtype="int32")[None, :]
            last = ops.max(ops.where(real, slot, -1), axis=1, keepdims=True)
            age = ops.clip(last - slot, 0, self.max_sentences - 1)
            encoded = encoded + ops.cast(ops.take(self.temporal_encoding, age, axis=0),
                                         encoded.dtype)
        return encoded

    def compute_mask(self, inputs, mask=None):
        if mask is None or len(inputs.shape) != 4:
            return None
        return ops.any(mask, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-2]) + (input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(position_encoding=self.position_encoding, temporal=self.temporal,
                      max_sentences=self.max_sentences)
        return config
