"""A learned "nothing here" slot prepended to a memory."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="special_networks")
class NullMemory(keras.layers.Layer):
    """Prepends one learned slot to a memory, so that attention can look nowhere.

    A softmax over memory slots always lands somewhere; with a learned null
    slot (a sentinel, as in Merity et al. 2017's pointer sentinel or the
    "no object" slot of detection models) the reader can put its weight on
    "none of these", which is how a question like "is there a red square?"
    gets its "no". Use one `NullMemory` for the input memory and one for
    the output memory of a `MemoryHop`.

    Args:
        initializer: of the slot's vector (default: zeros).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: memory [B, S, d].
        mask: optional [B, S] (True = a real slot); the null slot is always real.

    Returns:
        [B, S + 1, d]: the null slot first, then `inputs`.

    Example:

    >>> memory = keras.Input((36, 64))
    >>> NullMemory()(memory).shape
    (None, 37, 64)
    """

    def __init__(self, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("NullMemory: `inputs` must be a memory (batch, slots, depth) with a "
                             f"known depth; received shape {tuple(input_shape)}.")
        self.slot = self.add_weight(shape=(input_shape[-1],), initializer=self.initializer,
                                    name="slot")

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        slot = ops.cast(ops.reshape(self.slot, (1, 1, -1)), inputs.dtype)
        return ops.concatenate([ops.broadcast_to(slot, (batch, 1, ops.shape(inputs)[-1])), inputs],
                               axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)

    def compute_output_shape(self, input_shape):
        slots = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], slots, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(initializer=keras.initializers.serialize(self.initializer))
        return config
