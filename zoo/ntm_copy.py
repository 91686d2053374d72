"""`ntm_copy` and `lstm_copy`: the copy task of Graves, Wayne & Danihelka (2014).

The model holds the task's protocol, so that training, `predict` and the
export all take `bits` [B, T, 8] and give `copy` [B, T, 8]: it appends a
delimiter channel, presents the T vectors, one delimiter step and T blank
steps, and reads the copy from the blank steps.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers import NTM
from zoo import registry

BITS = 8


@keras.saving.register_keras_serializable(package="special_networks")
class CopyPhases(keras.layers.Layer):
    """bits [B, T, 8] -> [B, 2T+1, 9]: the T vectors (delimiter channel 0),
    one delimiter step (only the delimiter channel on), T blank steps."""

    def call(self, bits):
        batch, length = ops.shape(bits)[0], ops.shape(bits)[1]
        zeros = ops.zeros((batch, length, 1), bits.dtype)
        delimiter = ops.concatenate([ops.zeros((batch, 1, BITS), bits.dtype),
                                     ops.ones((batch, 1, 1), bits.dtype)], axis=-1)
        blank = ops.zeros((batch, length, BITS + 1), bits.dtype)
        return ops.concatenate([ops.concatenate([bits, zeros], -1), delimiter, blank], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else 2 * input_shape[1] + 1
        return (input_shape[0], length, BITS + 1)


@keras.saving.register_keras_serializable(package="special_networks")
class LastSteps(keras.layers.Layer):
    """[sequence [B, L, H], bits [B, T, ...]] -> sequence[:, L-T:]: the read-out phase."""

    def call(self, inputs):
        sequence, bits = inputs
        start = ops.shape(sequence)[1] - ops.shape(bits)[1]
        return sequence[:, start:]

    def compute_output_shape(self, input_shape):
        sequence, bits = input_shape
        return (sequence[0], bits[1], sequence[2])


def build_copy_model(memory="ntm", units=100, memory_size=128, memory_width=20, read_heads=1,
                     write_heads=1, controller="lstm", layers=1, seed=0):
    """`memory="ntm"`: an NTM (`units` controller, N x M memory); `"lstm"`:
    `layers` stacked LSTMs of `units` each. Returns a `keras.Model` from
    `bits` [B, T, 8] to `copy` [B, T, 8] (bit probabilities, float32)."""
    if memory not in ("ntm", "lstm"):
        raise ValueError(f"`memory` must be 'ntm' or 'lstm'; received {memory!r}.")
    bits = keras.Input((None, BITS), name="bits")
    h = CopyPhases(name="phases")(bits)
    if memory == "ntm":
        h = NTM(units, memory_size, memory_width, read_heads=read_heads, write_heads=write_heads,
                controller=controller, seed=seed, name="ntm")(h)
    else:
        for i in range(layers):
            h = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}")(h)
    h = LastSteps(name="read_out")([h, bits])
    copy = keras.layers.Dense(BITS, activation="sigmoid", dtype="float32", name="copy")(h)
    return keras.Model(bits, copy, name=f"{memory}_copy")


def _check_bits(bits):
    binary = tf.reduce_all(tf.logical_or(tf.equal(bits, 0.0), tf.equal(bits, 1.0)))
    return tf.debugging.Assert(binary, ["`bits` must hold only 0 and 1"])


def serving_fn(model):
    def serve(bits):
        with tf.control_dependencies([_check_bits(bits)]):
            return {"copy": tf.cast(model(bits, training=False), tf.float32)}

    return tf.autograph.experimental.do_not_convert(serve)


def _examples():
    rng = np.random.default_rng([2014, 20])
    return {"bits": rng.integers(0, 2, size=(4, 20, BITS)).astype(np.float32)}


def presets(memory, model):
    smoke = dict(model, units=8, memory_size=16, memory_width=4) if memory == "ntm" else dict(model, units=8)
    return {
        "smoke": registry.Preset(
            model=smoke, epochs=1, batch_size=8,
            task=dict(lengths=(1, 5), train_examples=32, validation_examples=16),
            description="seconds: a tiny net on 32 short sequences",
        ),
        "quick": registry.Preset(
            model=model, epochs=2, batch_size=32, clipnorm=10.0, jit_compile=True,
            task=dict(lengths=(1, 20), train_examples=16_000),
            description="minutes: the paper preset's net on 32,000 sequences",
        ),
        "paper": registry.Preset(
            model=model, epochs=20, batch_size=32, clipnorm=10.0, jit_compile=True, halve_every=None,
            task=dict(lengths=(1, 20), train_examples=50_000),
            description="1M sequences of lengths 1..20 (Collier & Beel's 31,250 steps of 32), "
                        "fresh every epoch",
        ),
    }


COPY_INPUTS = (registry.TensorInfo("bits", "float32", (None, None, BITS), "T 8-bit vectors, 0 or 1"),)
COPY_OUTPUTS = (registry.TensorInfo("copy", "float32", (None, None, BITS),
                                    "probability of each bit of the copy"),)
NTM_MODEL = dict(memory="ntm", units=100, memory_size=128, memory_width=20)
# One LSTM of 118 units: 61,368 weights against the NTM's 62,536.
LSTM_MODEL = dict(memory="lstm", units=118, layers=1)


def _entry(name, model, paper_result, summary, sha):
    return registry.register(registry.ZooEntry(
        name=name, builder=build_copy_model, task="ntm_copy", presets=presets(model["memory"], model),
        inputs=COPY_INPUTS, outputs=COPY_OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
        paper_result=paper_result, weights_sha256=sha, summary=summary,
    ))


NTM_COPY = _entry(
    "ntm_copy", NTM_MODEL,
    "converges to ~0 bits per sequence after about 200k sequences; copies beyond length 20",
    "Neural Turing Machine copying 8-bit vectors (Graves et al. 2014)",
    "db672eb2e4a7af140391c0d65f68643886945bbaaf4cdd89708fa475f74e85c0",
)
LSTM_COPY = _entry(
    "lstm_copy", LSTM_MODEL,
    "3 x 256 LSTM: slower to learn, fails beyond the trained lengths",
    "LSTM baseline of the NTM copy task, about the NTM's parameter count",
    "86d9332a95d850ce38bd846d0e22968eb1c379153c4b62447fbcf8f2b25b5af8",
)
