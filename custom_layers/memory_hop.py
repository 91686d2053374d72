"""One hop of an end-to-end memory network, and the linear-start schedule."""

import keras
from keras import ops

from custom_layers.pointer_attention import MASKED_LOGIT

PRIOR_FLOOR = 1e-12  # the smallest location prior taken into the scores (log: -27.6)


@keras.saving.register_keras_serializable(package="special_networks")
class MemoryHop(keras.layers.Layer):
    """Reads a memory by content: p = softmax(u^T m_i), o = sum_i p_i c_i.

    From "End-To-End Memory Networks" (Sukhbaatar, Szlam, Weston & Fergus,
    NIPS 2015), section 2: the controller state u attends over the input
    memories m_i, reads the output memories c_i, and the next state is
    u + o, or H u + o with `state_transform=True` (layer-wise tying; reuse
    one `MemoryHop` for every hop to share H). Masked memory slots get
    exactly zero attention, or, with `capacity`, stand for the empty slots
    of a memory of that size. The attention is computed in float32
    (float64 under a float64 policy).

    Linear start (section 4.2): the non-trainable `softmax_gate` (1 by
    default) mixes softmax(u^T m) with the raw scores u^T m; `LinearStart`
    sets it to 0 at the start of training and back to 1 when the validation
    loss stops falling.

    Args:
        state_transform: u' = H u + o (H learned, no bias) instead of u + o.
        capacity: None, or the memory's size in slots: its `capacity - n`
            empty slots (n real ones) then take part in the softmax with
            score 0 and read nothing, as the zero vectors of the authors'
            fixed-size memory do; the attention then sums to less than 1.
            A real slot beyond `capacity` leaves no empty one.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[state, input_memory, output_memory]`: u [B, d], m [B, S, d]
            and c [B, S, d]; or `[state, input_memory, output_memory, prior]`
            with a location prior [B, S] of non-negative weights (e.g. from
            `AttentionShift`): p = softmax(u^T m_i + log prior_i), the
            content match times the prior, renormalised.
        mask: Keras masks; the input memory's ([B, S], True = a real slot).

        return_attention: also return the attention.

    Returns:
        u' [B, d]; with `return_attention`, `(u', p)`, p float32 [B, S].

    Example:

    >>> u = keras.Input((20,))
    >>> m, c = keras.Input((None, 20)), keras.Input((None, 20))
    >>> u_next, attention = MemoryHop()([u, m, c], return_attention=True)
    """

    def __init__(self, state_transform=False, capacity=None, **kwargs):
        super().__init__(**kwargs)
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)
                                     or capacity < 1):
            raise ValueError(f"MemoryHop: `capacity` must be a positive int or None; received "
                             f"{capacity!r}.")
        self.state_transform = bool(state_transform)
        self.capacity = capacity
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (3, 4):
            raise ValueError("MemoryHop: `inputs` must be [state, input_memory, output_memory] or "
                             f"[state, input_memory, output_memory, prior]; received shapes {input_shape}.")
        state, memory_in, memory_out = (tuple(s) for s in input_shape[:3])
        if len(input_shape) == 4 and (len(input_shape[3]) != 2 or (
                None not in (input_shape[3][1], memory_in[1]) and input_shape[3][1] != memory_in[1])):
            raise ValueError("MemoryHop: `prior` must be (batch, slots), one weight per memory slot; "
                             f"received {tuple(input_shape[3])} for a memory of shape {memory_in}.")
        if len(state) != 2 or len(memory_in) != 3 or len(memory_out) != 3:
            raise ValueError(
                "MemoryHop: expected state (batch, depth) and memories (batch, slots, depth); "
                f"received {state}, {memory_in}, {memory_out}.")
        if not state[-1] == memory_in[-1] == memory_out[-1]:
            raise ValueError("MemoryHop: state and memories must have the same depth; received "
                             f"{state[-1]}, {memory_in[-1]}, {memory_out[-1]}.")
        self.softmax_gate = self.add_weight(name="softmax_gate", shape=(), initializer="ones",
                                            trainable=False)
        if self.state_transform:
            self.state_kernel = self.add_weight(name="state_kernel", shape=(state[-1], state[-1]),
                                                initializer="glorot_uniform")

    def call(self, inputs, mask=None, return_attention=False):
        state, memory_in, memory_out = inputs[:3]
        slots = mask[1] if isinstance(mask, (list, tuple)) else None
        precision = "float64" if self.compute_dtype == "float64" else "float32"
        scores = ops.cast(ops.einsum("bd,bsd->bs", state, memory_in), precision)
        if len(inputs) == 4:  # a slot the prior rules out keeps a floor, so its gradient stays finite
            scores = scores + ops.log(ops.maximum(ops.cast(inputs[3], precision), PRIOR_FLOOR))
        real = ops.cast(slots, "bool") if slots is not None else ops.ones_like(scores, dtype="bool")
        soft, linear = self._softmax(scores, real), ops.where(real, scores, 0.0)
        gate = ops.cast(self.softmax_gate, precision)
        attention = gate * soft + (1 - gate) * linear
        read = ops.einsum("bs,bsd->bd", ops.cast(attention, memory_out.dtype), memory_out)
        if self.state_transform:
            state = ops.matmul(state, ops.cast(self.state_kernel, state.dtype))
        return (state + read, attention) if return_attention else state + read

    def _softmax(self, scores, real):
        """Softmax over the real slots (and the empty ones, with `capacity`)."""
        if self.capacity is None:
            return ops.where(real, ops.softmax(ops.where(real, scores, MASKED_LOGIT), axis=-1), 0.0)
        empty = ops.maximum(self.capacity - ops.sum(ops.cast(real, scores.dtype), axis=-1), 0.0)
        # the empty slots as one logit, log(count) (score 0 each); none left: no logit
        empty_logit = ops.where(empty > 0, ops.log(ops.maximum(empty, 1.0)), MASKED_LOGIT)
        logits = ops.where(real, scores, MASKED_LOGIT)
        # The shift cancels in the ratio, so no gradient goes through the max: JAX's
        # gradient of it (split among ties) came out inf for whole rows on an H100.
        top = ops.stop_gradient(ops.maximum(ops.max(logits, axis=-1), empty_logit))
        weights = ops.where(real, ops.exp(logits - top[:, None]), 0.0)
        total = ops.sum(weights, axis=-1) + ops.exp(empty_logit - top)
        return weights / total[:, None]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def compute_output_spec(self, inputs, mask=None, return_attention=False):
        state, memory_in = inputs[0], inputs[1]
        next_state = keras.KerasTensor(state.shape, dtype=self.compute_dtype)
        if not return_attention:
            return next_state
        precision = "float64" if self.compute_dtype == "float64" else "float32"
        return next_state, keras.KerasTensor(memory_in.shape[:2], dtype=precision)

    def get_config(self):
        config = super().get_config()
        config.update(state_transform=self.state_transform, capacity=self.capacity)
        return config


class LinearStart(keras.callbacks.Callback):
    """Trains without the memory softmaxes until the validation loss stops falling.

    Linear start (Sukhbaatar et al. 2015, section 4.2): every `MemoryHop`
    of the model starts with its softmax removed (`softmax_gate` = 0); when
    `monitor` has not improved for `patience` epochs, the softmaxes are put
    back, once. `restored_at` is the epoch that happened at (None: not
    yet; -1: before a resumed run started). Place it after
    `BackupAndRestore`: the gates are weights and come back with a resume.
    `epochs`: put the softmaxes back after exactly this many epochs instead
    (the authors' code trains 30 linear epochs on the joint tasks).
    A model without `MemoryHop` is an error, or, with
    `skip_without_hops=True`, trains as is (a task's baseline models).
    """

    def __init__(self, monitor="val_loss", patience=1, skip_without_hops=False, epochs=None):
        super().__init__()
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"`epochs` must be a positive int or None; received {epochs!r}.")
        self.monitor = monitor
        self.patience = patience
        self.epochs = epochs
        self.skip_without_hops = skip_without_hops
        self.restored_at = None

    def _hops(self):
        return [layer for layer in self.model._flatten_layers() if isinstance(layer, MemoryHop)]

    def _set(self, value):
        for hop in self._hops():
            hop.softmax_gate.assign(value)

    def on_train_begin(self, logs=None):
        if not self._hops():
            if self.skip_without_hops:
                self.restored_at = -1  # nothing to switch
                return
            raise ValueError("LinearStart: the model has no MemoryHop layer.")
        self.best, self.wait = float("inf"), 0
        if int(self.model.optimizer.iterations.numpy()) == 0:
            self._set(0.0)  # a fresh start
        elif float(self._hops()[0].softmax_gate.numpy()) == 1.0:
            self.restored_at = -1  # resumed (the gates are weights) after the switch

    def on_epoch_end(self, epoch, logs=None):
        if self.restored_at is not None:
            return
        if self.epochs is not None:
            if epoch + 1 >= self.epochs:
                self._restore(epoch)
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"LinearStart: no {self.monitor!r} in the epoch's logs "
                             "(pass validation data to fit).")
        if value < self.best:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self._restore(epoch)

    def _restore(self, epoch):
        self._set(1.0)
        self.restored_at = epoch
        print(f"LinearStart: the memory softmax is back after epoch {epoch + 1}", flush=True)
