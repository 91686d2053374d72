"""The last words of a padded word-id tensor, as one fixed-length sequence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class LastWords(keras.layers.Layer):
    """The last `length` non-padding ids of each example, in order, left-padded.

    Flattens everything after the batch axis (a story's sentences one after
    the other) and drops the padding ids (0) wherever they are, so that
    [[3, 4, 0], [0, 0, 0], [5, 0, 0]] with `length=4` gives [0, 3, 4, 5]:
    the fixed-length word sequence that `pad_sequences` makes in the Keras
    example (padding and truncation at the front). Longer inputs keep their
    last `length` words.

    Args:
        length: the number of ids returned per example.

    Call arguments:
        ids: int tensor [B, ...] (rank >= 2), 0 as padding.

    Returns:
        int32 [B, length].

    Example:
        >>> LastWords(3)(np.array([[[1, 2], [0, 0], [3, 0]]]))  # [[1, 2, 3]]
    """

    def __init__(self, length, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"`length` must be a positive int; received {length!r}.")
        self.length = length

    def call(self, ids):
        if len(ids.shape) < 2:
            raise ValueError(f"`ids` must have rank >= 2 ([B, ...]); received shape {ids.shape}.")
        ids = ops.cast(ids, "int32")
        flat = ops.reshape(ids, (ops.shape(ids)[0], -1))
        flat = ops.pad(flat, [[0, 0], [self.length, 0]])  # at least `length` columns
        # Key of a word: its position + 1; of padding: 0. Sorted, the padding
        # comes first and the words follow in their order (their keys differ).
        positions = ops.arange(1, ops.shape(flat)[1] + 1, dtype="int32")
        keys = ops.sort(ops.where(flat != 0, positions[None, :], 0), axis=-1)[:, -self.length:]
        words = ops.take_along_axis(flat, ops.maximum(keys - 1, 0), axis=1)
        return ops.where(keys > 0, words, 0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def compute_mask(self, inputs, mask=None):
        return None  # ids out; an Embedding downstream may mask them

    def get_config(self):
        return {**super().get_config(), "length": self.length}
