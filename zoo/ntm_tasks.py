"""`ntm_repeat_copy` and `ntm_recall`: the repeat-copy and associative-recall
tasks of Graves, Wayne & Danihelka (2014).

As `zoo.ntm_copy`, each model holds its task's protocol in the graph:
- repeat copy: `bits` [B, T, 8] and `repeats` [B] are presented as the T
  vectors, one delimiter step carrying the normalised repeat count on its
  own channel, then R*T + 1 blank steps (R the batch's largest count); the
  model reads the copies and an end marker from the blank steps, and rows
  past an example's own R_i*T + 1 steps are padding (copy 0, end 1). The
  Keras model takes the read-out's length from the shape of a third input,
  `steps` [B, S] (zeros, S >= R_i*T + 1), which `repeat_copy_serving_fn`
  makes from `repeats`: a length from a shape, not from values, lets XLA
  compile one training step per T (training pads every batch to S = 10T + 1);
- recall: `items` [B, K, 3, 6] and `query` [B] are presented as K items,
  each after an item delimiter, then the query item between two query
  delimiters and three blank steps, from which the next item is read.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers import NTM
from zoo import registry
from zoo.ntm_copy import BITS, _check_bits

RECALL_BITS, RECALL_ROWS = 6, 3
# The repeat count's channel holds (R - mean) / std of R uniform in 1..10.
REPEATS_MEAN, REPEATS_STD = 5.5, float(np.sqrt(99 / 12))


@keras.saving.register_keras_serializable(package="special_networks")
class RepeatCopyPhases(keras.layers.Layer):
    """[bits [B, T, 8], repeats [B], steps [B, S]] -> [B, T + 1 + S, 10]:
    the T vectors (channels 8 and 9 off), one delimiter step (channel 8
    on, channel 9 the repeat count as (repeats - mean) / std), then S
    blank steps (S = R*T + 1 in serving, R the batch's largest count).

    Args:
        repeats_mean, repeats_std: the normalisation of the repeat count.
    """

    def __init__(self, repeats_mean=REPEATS_MEAN, repeats_std=REPEATS_STD, **kwargs):
        super().__init__(**kwargs)
        if not repeats_std > 0:
            raise ValueError(f"`repeats_std` must be positive; received {repeats_std!r}.")
        self.repeats_mean, self.repeats_std = float(repeats_mean), float(repeats_std)

    def call(self, inputs):
        bits, repeats, steps = inputs
        batch, length = ops.shape(bits)[0], ops.shape(bits)[1]
        count = (ops.cast(repeats, bits.dtype) - self.repeats_mean) / self.repeats_std
        vectors = ops.concatenate([bits, ops.zeros((batch, length, 2), bits.dtype)], axis=-1)
        delimiter = ops.concatenate([ops.zeros((batch, BITS), bits.dtype), ops.ones((batch, 1), bits.dtype),
                                     ops.reshape(count, (batch, 1))], axis=-1)
        blank = ops.zeros((batch, ops.shape(steps)[1], BITS + 2), bits.dtype)
        return ops.concatenate([vectors, delimiter[:, None], blank], axis=1)

    def compute_output_shape(self, input_shape):
        length, steps = input_shape[0][1], input_shape[2][1]
        total = None if length is None or steps is None else length + 1 + steps
        return (input_shape[0][0], total, BITS + 2)

    def get_config(self):
        return {**super().get_config(), "repeats_mean": self.repeats_mean, "repeats_std": self.repeats_std}


@keras.saving.register_keras_serializable(package="special_networks")
class RepeatCopyReadOut(keras.layers.Layer):
    """[sequence [B, L, H], steps [B, S]] -> the last S steps of `sequence`:
    the read-out phase of `RepeatCopyPhases`."""

    def call(self, inputs):
        sequence, steps = inputs
        return sequence[:, ops.shape(sequence)[1] - ops.shape(steps)[1]:]

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[1][1], input_shape[0][2])


@keras.saving.register_keras_serializable(package="special_networks")
class RepeatCopyMask(keras.layers.Layer):
    """[outputs [B, S, 9], bits, repeats] -> outputs with every step
    past an example's own R_i*T + 1 as padding: copy channels (0..7) 0 from
    step R_i*T on, the end channel (8) 1 after step R_i*T."""

    def call(self, inputs):
        outputs, bits, repeats = inputs
        steps = ops.arange(ops.shape(outputs)[1])[None, :]
        own = ops.cast(repeats, steps.dtype)[:, None] * ops.shape(bits)[1]
        copying = ops.cast(steps < own, outputs.dtype)[..., None]
        ended = ops.cast(steps > own, outputs.dtype)
        end = outputs[..., BITS] * (1.0 - ended) + ended
        return ops.concatenate([outputs[..., :BITS] * copying, end[..., None]], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="special_networks")
class RecallPhases(keras.layers.Layer):
    """[items [B, K, 3, 6], query [B]] -> [B, 4K + 8, 8]: each item after an
    item delimiter (channel 6), then a query delimiter (channel 7), the
    item `query`, a query delimiter, and 3 blank steps."""

    def call(self, inputs):
        items, query = inputs
        batch, count = ops.shape(items)[0], ops.shape(items)[1]
        dtype = items.dtype
        marks = ops.zeros((batch, count, RECALL_ROWS, 2), dtype)
        rows = ops.concatenate([items, marks], axis=-1)  # [B, K, 3, 8]
        item_delimiter = ops.concatenate([ops.zeros((batch, count, 1, RECALL_BITS), dtype),
                                          ops.ones((batch, count, 1, 1), dtype),
                                          ops.zeros((batch, count, 1, 1), dtype)], axis=-1)
        presented = ops.reshape(ops.concatenate([item_delimiter, rows], axis=2),
                                (batch, count * (RECALL_ROWS + 1), RECALL_BITS + 2))
        asked = ops.take_along_axis(rows, ops.reshape(ops.cast(query, "int32"), (batch, 1, 1, 1)), axis=1)[:, 0]
        query_delimiter = ops.concatenate([ops.zeros((batch, 1, RECALL_BITS + 1), dtype),
                                           ops.ones((batch, 1, 1), dtype)], axis=-1)
        blank = ops.zeros((batch, RECALL_ROWS, RECALL_BITS + 2), dtype)
        return ops.concatenate([presented, query_delimiter, asked, query_delimiter, blank], axis=1)

    def compute_output_shape(self, input_shape):
        count = input_shape[0][1]
        return (input_shape[0][0], None if count is None else 4 * count + 8, RECALL_BITS + 2)


@keras.saving.register_keras_serializable(package="special_networks")
class RecallReadOut(keras.layers.Layer):
    """sequence [B, L, 18] -> [B, 3, 6]: the last 3 steps' bit probabilities."""

    def call(self, sequence):
        return sequence[:, -RECALL_ROWS:]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], RECALL_ROWS, input_shape[2])


def _ntm(units, memory_size, memory_width, read_heads, write_heads, controller, seed):
    return NTM(units, memory_size, memory_width, read_heads=read_heads, write_heads=write_heads,
               controller=controller, seed=seed, name="ntm")


def build_repeat_copy_model(units=100, memory_size=128, memory_width=20, read_heads=1, write_heads=1,
                            controller="lstm", seed=0):
    """An NTM from `bits` [B, T, 8], `repeats` [B] and `steps` [B, S] (zeros,
    S >= every R_i*T + 1) to [B, S, 9]: the copies' bit probabilities
    (channels 0..7) and the end marker's (channel 8);
    `repeat_copy_serving_fn` makes `steps` and splits `copy` and `end`."""
    bits = keras.Input((None, BITS), name="bits")
    repeats = keras.Input((), dtype="int32", name="repeats")
    steps = keras.Input((None,), name="steps")
    h = RepeatCopyPhases(name="phases")([bits, repeats, steps])
    h = _ntm(units, memory_size, memory_width, read_heads, write_heads, controller, seed)(h)
    h = RepeatCopyReadOut(name="read_out")([h, steps])
    h = keras.layers.Dense(BITS + 1, activation="sigmoid", dtype="float32", name="copy_and_end")(h)
    out = RepeatCopyMask(name="padding", dtype="float32")([h, bits, repeats])
    return keras.Model({"bits": bits, "repeats": repeats, "steps": steps}, out, name="ntm_repeat_copy")


def build_recall_model(units=100, memory_size=128, memory_width=20, read_heads=1, write_heads=1,
                       controller="lstm", seed=0):
    """An NTM from `items` [B, K, 3, 6] and `query` [B] to the bit
    probabilities of item query + 1 [B, 3, 6]."""
    items = keras.Input((None, RECALL_ROWS, RECALL_BITS), name="items")
    query = keras.Input((), dtype="int32", name="query")
    h = RecallPhases(name="phases")([items, query])
    h = _ntm(units, memory_size, memory_width, read_heads, write_heads, controller, seed)(h)
    h = RecallReadOut(name="read_out")(h)
    next_item = keras.layers.Dense(RECALL_BITS, activation="sigmoid", dtype="float32", name="next_item")(h)
    return keras.Model({"items": items, "query": query}, next_item, name="ntm_recall")


def repeat_copy_serving_fn(model):
    def serve(bits, repeats):
        bits, repeats = tf.convert_to_tensor(bits, tf.float32), tf.convert_to_tensor(repeats, tf.int32)
        positive = tf.debugging.Assert(tf.reduce_all(repeats >= 1), ["`repeats` must be >= 1"])
        with tf.control_dependencies([_check_bits(bits), positive]):
            steps = tf.zeros([tf.shape(bits)[0], tf.reduce_max(repeats) * tf.shape(bits)[1] + 1])
            out = tf.cast(model({"bits": bits, "repeats": repeats, "steps": steps}, training=False), tf.float32)
        return {"copy": tf.ensure_shape(out[:, :-1, :BITS], [None, None, BITS]),
                "end": tf.ensure_shape(out[..., BITS], [None, None])}

    return tf.autograph.experimental.do_not_convert(serve)


def recall_serving_fn(model):
    def serve(items, query):
        count = tf.shape(items, out_type=tf.int32)[1]
        in_range = tf.debugging.Assert(
            tf.reduce_all((query >= 0) & (query <= count - 2)),
            ["`query` must be in [0, K-2] (an item with a successor), K =", count, "; received", query])
        with tf.control_dependencies([_check_bits(items), in_range]):
            next_item = tf.cast(model({"items": items, "query": query}, training=False), tf.float32)
            return {"next_item": tf.ensure_shape(next_item, [None, RECALL_ROWS, RECALL_BITS])}

    return tf.autograph.experimental.do_not_convert(serve)


def _repeat_copy_examples():
    rng = np.random.default_rng([2014, 21])
    return {"bits": rng.integers(0, 2, size=(4, 5, BITS)).astype(np.float32),
            "repeats": np.array([1, 3, 5, 2], np.int32)}


def _recall_examples():
    rng = np.random.default_rng([2014, 22])
    return {"items": rng.integers(0, 2, size=(4, 6, RECALL_ROWS, RECALL_BITS)).astype(np.float32),
            "query": np.array([0, 4, 2, 1], np.int32)}


MODEL = dict(units=100, memory_size=128, memory_width=20)
SMOKE = dict(units=8, memory_size=16, memory_width=4)


def repeat_copy_from_copy(copy_model, repeat_copy_model):
    """Sets `repeat_copy_model`'s weights from a trained `ntm_copy` of the
    same NTM sizes: the same cell and copy outputs; the controller's kernel
    row for the repeat count (an input channel copy has not) starts at zero,
    and the end marker's output column keeps its fresh initialisation. So
    that with one repeat the model copies as `ntm_copy` does."""
    def key(path):  # the cell's own name gets a suffix when several models are built in one process
        return "ntm_cell/" + path.split("/", 2)[2] if path.startswith("ntm/") else path

    source = {key(w.path): w.numpy() for w in copy_model.weights}
    for weight in repeat_copy_model.weights:
        path, value = key(weight.path), weight.numpy()
        if path == "ntm_cell/controller/kernel":  # rows: bits, delimiter, [count], read vectors
            old = source[path]
            value = np.concatenate([old[:BITS + 1], np.zeros_like(old[:1]), old[BITS + 1:]])
        elif path.startswith("ntm_cell/"):
            value = source[path]
        elif path == "copy_and_end/kernel":
            value[:, :BITS] = source["copy/kernel"]
        elif path == "copy_and_end/bias":
            value[:BITS] = source["copy/bias"]
        if value.shape != tuple(weight.shape):
            raise ValueError(f"`copy_model`: {path} has shape {value.shape}, repeat copy's "
                             f"{tuple(weight.shape)}: build both with the same NTM sizes.")
        weight.assign(value)


def _presets(task, smoke_task, jit_compile, epochs, train_examples, paper_description, warm_start=None):
    return {
        "smoke": registry.Preset(model=SMOKE, epochs=1, batch_size=8,
                                 task=dict(smoke_task, train_examples=32, validation_examples=16),
                                 description="seconds: a tiny net on 32 short sequences"),
        "quick": registry.Preset(model=MODEL, epochs=2, batch_size=32, clipnorm=10.0, jit_compile=jit_compile,
                                 task=dict(task, train_examples=4_000),
                                 description="minutes: the paper preset's net on 8,000 sequences"),
        "paper": registry.Preset(model=MODEL, epochs=epochs, batch_size=32, clipnorm=10.0,
                                 jit_compile=jit_compile, halve_every=None, warm_start=warm_start,
                                 task=dict(task, train_examples=train_examples), description=paper_description),
    }


NTM_REPEAT_COPY = registry.register(registry.ZooEntry(
    name="ntm_repeat_copy", builder=build_repeat_copy_model, task="ntm_repeat_copy",
    presets=_presets(dict(lengths=(1, 10), repeats=(1, 10), curriculum_epochs=4),
                     dict(lengths=(1, 3), repeats=(1, 2)), True, 20, 50_000,
                     "1M sequences of lengths 1..10, each repeated 1..10 times, fresh every epoch; "
                     "the largest length and count grow from 1 to 10 over the first 4 epochs; "
                     "starts from the trained ntm_copy", warm_start="ntm_copy"),
    warm_start_fn=repeat_copy_from_copy,
    inputs=(registry.TensorInfo("bits", "float32", (None, None, BITS), "T 8-bit vectors, 0 or 1"),
            registry.TensorInfo("repeats", "int32", (None,), "how many copies, >= 1")),
    outputs=(registry.TensorInfo("copy", "float32", (None, None, BITS),
                                 "R*T rows (R the batch's largest repeats): probability of each bit; "
                                 "0 past the example's own repeats*T"),
             registry.TensorInfo("end", "float32", (None, None),
                                 "R*T + 1 steps: probability that the output has ended after each")),
    serving_fn=repeat_copy_serving_fn, example_inputs=_repeat_copy_examples,
    paper_result="learns the task much faster than an LSTM; generalises to longer sequences, "
                 "less well to more repeats",
    weights_sha256="56785a09203da568960ab72f2e763fc9268b1afe5106444f811094de9370656b",
    summary="Neural Turing Machine repeating a sequence R times (Graves et al. 2014)",
))
NTM_RECALL = registry.register(registry.ZooEntry(
    name="ntm_recall", builder=build_recall_model, task="ntm_recall",
    presets=_presets(dict(items=(2, 6)), dict(items=(2, 3)), True, 30, 50_000,
                     "1.5M episodes of 2..6 items, fresh every epoch"),
    inputs=(registry.TensorInfo("items", "float32", (None, None, RECALL_ROWS, RECALL_BITS),
                                "K items of three 6-bit vectors, 0 or 1"),
            registry.TensorInfo("query", "int32", (None,), "the item whose successor is asked, 0..K-2")),
    outputs=(registry.TensorInfo("next_item", "float32", (None, RECALL_ROWS, RECALL_BITS),
                                 "probability of each bit of item query + 1"),),
    serving_fn=recall_serving_fn, example_inputs=_recall_examples,
    paper_result="near-zero cost within about 30,000 episodes; generalises to 12 items",
    weights_sha256="ca8a5407779983c0942afd0c0510101df9e0ebb488adfc97b96093633bb53358",
    summary="Neural Turing Machine recalling the item after a query (Graves et al. 2014)",
))
