"""An embedding whose rows also score the answers: W^T = C^K of a memory network."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class AnswerEmbedding(keras.layers.Embedding):
    """A word embedding that, called with `readout=True`, scores answer classes.

    The end-to-end memory network ties its answer matrix to the last memory
    embedding (W^T = C^K, Sukhbaatar et al. 2015): the logit of an answer
    that is a word is u . C^K[word]. Answers that are not one input word
    (bAbI's "yes", "n,w" or "apple,football") are classes of their own, each
    with a free row, as the paper's answer-only vocabulary entries are.

    Args:
        input_dim, output_dim: as `keras.layers.Embedding`.
        answer_ids: one int per answer class: the word id whose row scores
            it, or -1 for a class with a free row of its own.
        free_initializer: initializer of the free rows (default: the
            embeddings' initializer).
        **kwargs: the rest of `keras.layers.Embedding`'s arguments.

    Call arguments:
        inputs: word ids [...] (`readout=False`), or states [..., output_dim]
            (`readout=True`).
        readout: False: look up the ids, [..., output_dim]; True: answer
            logits [..., len(answer_ids)].

    Example:
        >>> layer = AnswerEmbedding(10, 4, answer_ids=[3, 5, -1])
        >>> memory = layer(np.array([[3, 4, 0]]))      # [1, 3, 4]
        >>> logits = layer(memory[:, 0], readout=True)  # [1, 3]: row 3 scores class 0
    """

    def __init__(self, input_dim, output_dim, answer_ids, free_initializer=None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        answer_ids = [int(i) for i in answer_ids]
        if not answer_ids or any(i < -1 or i >= input_dim for i in answer_ids):
            raise ValueError("`answer_ids` must be a non-empty list of word ids in "
                             f"[0, {input_dim}) or -1; received {answer_ids!r}.")
        self.answer_ids = answer_ids
        self.free_initializer = keras.initializers.get(free_initializer or self.embeddings_initializer)

    def build(self, input_shape=None):
        super().build(input_shape)
        free = sum(i < 0 for i in self.answer_ids)
        self.free = (self.add_weight(shape=(free, self.output_dim),
                                     initializer=self.free_initializer, name="free")
                     if free else None)

    def call(self, inputs, readout=False):
        if not readout:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"`inputs` must end in {self.output_dim} features when `readout=True`; "
                             f"received shape {inputs.shape}.")
        ids = ops.convert_to_tensor(self.answer_ids, dtype="int32")
        rows = ops.take(self.embeddings, ops.maximum(ids, 0), axis=0)
        if self.free is not None:
            # Free class k (in order) reads row k of `free`.
            free_rows = ops.take(self.free, ops.maximum(ops.cumsum(ops.cast(ids < 0, "int32")) - 1, 0),
                                 axis=0)
            rows = ops.where(ops.expand_dims(ids >= 0, -1), rows, free_rows)
        # Embedding turns autocasting off (ids stay ints): cast the states here.
        inputs = ops.cast(inputs, self.compute_dtype)
        return ops.matmul(inputs, ops.transpose(ops.cast(rows, self.compute_dtype)))

    @property
    def variable_serialization_spec(self):
        # Embedding saves only the variables it lists: add the free rows.
        extra = ["free"] if getattr(self, "free", None) is not None else []
        return {mode: names + extra for mode, names in super().variable_serialization_spec.items()}

    def compute_output_shape(self, input_shape, readout=False):
        if readout:
            return (*input_shape[:-1], len(self.answer_ids))
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, readout=False):
        shape = self.compute_output_shape(inputs.shape, readout)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero or not ("int" in str(inputs.dtype)):
            return None  # a readout carries no mask
        return ops.not_equal(inputs, 0)

    def get_config(self):
        return {**super().get_config(), "answer_ids": list(self.answer_ids),
                "free_initializer": keras.initializers.serialize(self.free_initializer)}
