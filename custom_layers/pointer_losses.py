"""Loss and accuracy for pointer outputs with padded targets."""

import keras
from keras import ops


def _valid_and_nll(y_true, y_pred):
    y_true = ops.cast(y_true, "int32")
    valid = y_true >= 0
    picked = ops.take_along_axis(ops.cast(y_pred, "float32"),
                                 ops.where(valid, y_true, 0)[..., None], axis=-1)[..., 0]
    return valid, -picked


@keras.saving.register_keras_serializable(package="special_networks")
class PointerLoss(keras.losses.Loss):
    """Negative log-likelihood of pointer targets, averaged over the real steps.

    `y_pred` are log-probabilities [B, T, N] (as `PointerAttention` and
    `PointerDecoder` return), `y_true` target indices [B, T] where -1 marks
    padding after a sequence's end; padded steps count for nothing.
    """

    def __init__(self, name="pointer_loss", **kwargs):
        super().__init__(name=name, reduction="sum", **kwargs)

    def call(self, y_true, y_pred):
        valid, nll = _valid_and_nll(y_true, y_pred)
        valid = ops.cast(valid, "float32")
        return ops.sum(nll * valid) / ops.maximum(ops.sum(valid), 1.0)


@keras.saving.register_keras_serializable(package="special_networks")
class PointerAccuracy(keras.metrics.Mean):
    """Fraction of real (non-padding) steps whose most likely position is the target."""

    def __init__(self, name="pointer_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        valid = y_true >= 0
        hit = ops.cast(ops.argmax(y_pred, axis=-1), "int32") == y_true
        return super().update_state(ops.cast(hit, "float32"), sample_weight=ops.cast(valid, "float32"))
