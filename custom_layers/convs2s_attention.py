"""ConvS2S's multi-step attention: one attention in every decoder layer."""

import math

import keras
from keras import ops

# Added to the scores of padded source positions (scores are float32 under any policy).
MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="special_networks")
class ConvS2SAttention(keras.layers.Layer):
    """Dot-product attention of a decoder layer over the encoder's outputs.

    From "Convolutional Sequence to Sequence Learning" (Gehring et al., ICML
    2017), section 3.3. The decoder state h_i (C channels) is projected to
    the embedding size and joined with the embedding g_i of the previous
    target word: d_i = (W_d h_i + b_d + g_i) * sqrt(0.5). Attention
    a_ij = softmax_j(d_i . z_j) over the encoder outputs z_j, padded source
    positions masked; the context c_i = sum_j a_ij (z_j + e_j) reads the
    encoder outputs plus the source embeddings, and is scaled by
    s * sqrt(1 / s) (s: the row's real source length; the paper's section
    3.4, which keeps the variance of a sum of s vectors). The output is
    (h_i + W_o c_i + b_o) * sqrt(0.5): the state with the context, C
    channels. Scores and the softmax are float32 under any dtype policy (float64 under
    float64).

    Args:
        return_attention: whether to return the attention weights too.
            Defaults to False.
        kernel_initializer: initializer of W_d [C, E] and W_o [E, C].
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[state, target_embedding, encoder_outputs,
            encoder_sums]`: state [B, T, C], target_embedding [B, T, E],
            encoder_outputs z [B, S, E], encoder_sums z + e [B, S, E].
        mask: Keras masks, a list of four; the third (or else the fourth),
            bool [B, S] (True = a real source word), masks the attention;
            the first passes through.

    Returns:
        [B, T, C]; with `return_attention`, also the weights, float32 [B, T, S].

    Example:

    >>> h, g = keras.Input((None, 32)), keras.Input((None, 16))
    >>> z, ze = keras.Input((None, 16)), keras.Input((None, 16))
    >>> out = ConvS2SAttention()([h, g, z, ze])  # (None, None, 32)
    """

    def __init__(self, return_attention=False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.return_attention = bool(return_attention)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    @staticmethod
    def _shapes(input_shape, layer="ConvS2SAttention"):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 4 or \
                not all(isinstance(s, (list, tuple)) and len(s) == 3 for s in input_shape):
            raise ValueError(f"{layer}: `inputs` must be [state [B, T, C], target_embedding [B, T, E], "
                             f"encoder_outputs [B, S, E], encoder_sums [B, S, E]]; received shapes "
                             f"{input_shape}.")
        state, embedding, outputs, sums = input_shape
        size = embedding[-1]
        if size is None or state[-1] is None or outputs[-1] != size or sums[-1] != size:
            raise ValueError(f"{layer}: `target_embedding`, `encoder_outputs` and `encoder_sums` must have "
                             f"the same known size E, and `state` known channels; received shapes "
                             f"{input_shape}.")
        return state, embedding, outputs, sums

    def build(self, input_shape):
        state, embedding, _, _ = self._shapes(input_shape)
        self.channels, self.embedding_size = int(state[-1]), int(embedding[-1])
        self.in_kernel = self.add_weight(name="in_kernel", shape=(self.channels, self.embedding_size),
                                         initializer=self.kernel_initializer)
        self.in_bias = self.add_weight(name="in_bias", shape=(self.embedding_size,), initializer="zeros")
        self.out_kernel = self.add_weight(name="out_kernel", shape=(self.embedding_size, self.channels),
                                          initializer=self.kernel_initializer)
        self.out_bias = self.add_weight(name="out_bias", shape=(self.channels,), initializer="zeros")

    def call(self, inputs, mask=None):
        self._shapes([tuple(x.shape) for x in inputs] if isinstance(inputs, (list, tuple)) else inputs)
        state, embedding, outputs, sums = (ops.cast(x, self.compute_dtype) for x in inputs)
        cast = lambda w: ops.cast(w, self.compute_dtype)  # noqa: E731
        query = (ops.matmul(state, cast(self.in_kernel)) + cast(self.in_bias) + embedding) * math.sqrt(0.5)
        score_dtype = "float64" if self.compute_dtype == "float64" else "float32"
        scores = ops.cast(ops.matmul(query, ops.transpose(outputs, (0, 2, 1))), score_dtype)  # [B, T, S]
        source_mask = None
        if mask is not None:
            source_mask = mask[2] if mask[2] is not None else mask[3]
        if source_mask is None:
            length = ops.cast(ops.shape(outputs)[1], score_dtype) * ops.ones_like(scores[:, :1, :1])
        else:
            real = ops.cast(source_mask, score_dtype)[:, None, :]  # [B, 1, S]
            scores = scores + (1.0 - real) * MASKED_SCORE
            length = ops.sum(real, axis=-1, keepdims=True)  # [B, 1, 1]
        attention = ops.softmax(scores, axis=-1)
        context = ops.matmul(ops.cast(attention, self.compute_dtype), sums)
        context = context * ops.cast(ops.sqrt(ops.maximum(length, 1.0)), self.compute_dtype)  # s * sqrt(1/s)
        result = (state + ops.matmul(context, cast(self.out_kernel)) + cast(self.out_bias)) * math.sqrt(0.5)
        return (result, attention) if self.return_attention else result

    def compute_output_shape(self, input_shape):
        state, _, outputs, _ = self._shapes(input_shape)
        result = tuple(state)
        return (result, tuple(state[:2]) + (outputs[1],)) if self.return_attention else result

    def compute_mask(self, inputs, mask=None):
        state_mask = None if mask is None else mask[0]
        return (state_mask, state_mask) if self.return_attention else state_mask

    def get_config(self):
        return {
            **super().get_config(),
            "return_attention": self.return_attention,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
