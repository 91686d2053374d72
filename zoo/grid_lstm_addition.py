"""`grid_lstm_addition` and `lstm_addition`: 15-digit integer addition
(Kalchbrenner, Danihelka & Graves, "Grid Long Short-Term Memory", ICLR
2016, section 4.2).

`grid_lstm_addition` is the paper's tied 2-LSTM: a 2D Grid LSTM over time
and depth (`GridLSTM2D`, one block applied at every depth and every step),
LSTM memory along both. `lstm_addition` is the paper's baseline, stacked
LSTM layers of the same depth and about the same number of weights.

The encoding (ours, not the paper's): the two numbers side by side, least
significant digit first, padded with zeros to 16 positions; at step t the
network reads digit t of `a` and of `b` (two one-hot vectors, 20 features)
and writes digit t of the sum (a softmax over 10). The paper reads the
two numbers one after the other and then writes the sum, which asks the
network to hold 15 digits as well as to add them; side by side it has only
the carries to hold, which the nets learn within a CPU budget.

Both export the same signature:

    a, b string [B]: decimal numbers of 1 to 15 digits  ->  sum string [B]

The parsing, the encoding and the formatting of the answer (decimal, no
leading zeros, "0" for zero) run in the graph. Leading zeros in `a` and
`b` are allowed ("007" is 7) as long as what remains has at most 15
digits. Anything else (an empty string, a sign, a space, a point, 16
significant digits) fails the whole request with an
`InvalidArgumentError` that names `a` and `b`, as the other string exports
do (`stack_rnn`).
"""

import keras
import numpy as np
import tensorflow as tf

from custom_layers import GridLSTM2D
from zoo import registry

MAX_DIGITS = 15  # of each number
POSITIONS = MAX_DIGITS + 1  # the sum's digits: one more for the last carry
FEATURES = 20  # one-hot digit of a, then of b


def _head(h, x, name):
    digits = keras.layers.Dense(10, activation="softmax", dtype="float32", name="sum_digits")(h)
    return keras.Model(x, digits, name=name)


def build_grid_lstm_addition(units=64, depth=4, tied=True):
    """digits float32 [B, T, 20] -> sum digit probabilities [B, T, 10]: a
    2D Grid LSTM of `depth` blocks along depth (one block, `tied`, as the
    paper's tied 2-LSTM) over the T positions, a softmax at each.

    Args:
        units: hidden and memory size of the blocks.
        depth: number of blocks along depth.
        tied: one block (one set of weights) at every depth.
    """
    registry.check_positive_ints(units=units, depth=depth)
    x = keras.Input((None, FEATURES), name="digits")
    h = GridLSTM2D(units, depth=depth, tied=tied, name="grid_lstm")(x)
    return _head(h, x, "grid_lstm_addition")


def build_lstm_addition(units=48, depth=4):
    """digits float32 [B, T, 20] -> sum digit probabilities [B, T, 10]:
    `depth` stacked LSTM layers of `units` units, a softmax at each position.

    Args:
        units: width of every LSTM layer.
        depth: number of LSTM layers.
    """
    registry.check_positive_ints(units=units, depth=depth)
    x = keras.Input((None, FEATURES), name="digits")
    h = x
    for d in range(depth):
        h = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{d}")(h)
    return _head(h, x, "lstm_addition")


def digits_of(numbers):
    """Numbers (strings [B] that passed `check_numbers`) -> their digits
    int32 [B, POSITIONS], least significant first, zero-padded."""
    length = tf.strings.length(numbers)
    padded = tf.strings.join([tf.fill(tf.shape(numbers), "0" * POSITIONS), numbers])
    last = tf.strings.substr(padded, length, tf.fill(tf.shape(numbers), POSITIONS))  # the last 16 characters
    codes = tf.io.decode_raw(last, tf.uint8, fixed_length=POSITIONS)
    return tf.reverse(tf.cast(codes, tf.int32) - ord("0"), axis=[1])


def encode(a_digits, b_digits):
    """Digits int32 [B, T] of a and b -> the network's input float32 [B, T, 20]."""
    return tf.concat([tf.one_hot(a_digits, 10), tf.one_hot(b_digits, 10)], axis=-1)


def strip_zeros(numbers):
    """Decimal strings without their leading zeros ("0" for zero)."""
    return tf.strings.regex_replace(numbers, "^0+([0-9])", "\\1")


def check_numbers(a, b):
    """An assertion (InvalidArgumentError when run) that `a` and `b` hold
    only decimal numbers of 1 to 15 digits (leading zeros aside)."""
    def valid(numbers):
        digits_only = tf.strings.regex_full_match(numbers, "[0-9]+")
        return digits_only & (tf.strings.length(strip_zeros(numbers)) <= MAX_DIGITS)

    ok = tf.reduce_all(valid(a)) & tf.reduce_all(valid(b))
    return tf.debugging.Assert(ok, [f"`a` and `b` must be decimal numbers of 1 to {MAX_DIGITS} digits "
                                    "(0-9 only; leading zeros allowed); received a", a, "b", b], summarize=8)


def answers(probabilities):
    """Sum digit probabilities [B, T, 10], least significant first -> the
    sums as decimal strings [B]."""
    digits = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    text = tf.strings.unicode_encode(tf.reverse(digits, axis=[1]) + ord("0"), "UTF-8")
    return strip_zeros(text)


def serving_fn(model):
    def serve(a, b):
        a, b = tf.convert_to_tensor(a, tf.string), tf.convert_to_tensor(b, tf.string)
        with tf.control_dependencies([check_numbers(a, b)]):
            a, b = strip_zeros(a), strip_zeros(b)
        probabilities = tf.cast(model(encode(digits_of(a), digits_of(b)), training=False), tf.float32)
        return {"sum": answers(probabilities)}

    return tf.autograph.experimental.do_not_convert(serve)


def _examples():
    nines = "9" * MAX_DIGITS
    return {"a": np.array(["0", nines, "007", "123456789012345", "5", "100000000000000"]),
            "b": np.array(["0", nines, "35", "987654321098765", "999999999999995", "1"])}


INPUTS = (registry.TensorInfo("a", "string", (None,), f"a decimal number of 1 to {MAX_DIGITS} digits"),
          registry.TensorInfo("b", "string", (None,), f"a decimal number of 1 to {MAX_DIGITS} digits"))
OUTPUTS = (registry.TensorInfo("sum", "string", (None,), "a + b in decimal, no leading zeros"),)

GRID_MODEL = dict(units=64, depth=4, tied=True)
LSTM_MODEL = dict(units=48, depth=4)  # 69,610 weights against the Grid LSTM's 67,978
TRAINING = dict(batch_size=64, learning_rate=3e-3, clipnorm=1.0, jit_compile=True)
EPOCHS, EPOCH_EXAMPLES = 30, 6_400


def _presets(model, smoke, what):
    task = dict(train_examples=EPOCH_EXAMPLES)
    return {
        "smoke": registry.Preset(model=dict(model, **smoke), epochs=1, batch_size=16,
                                 task=dict(train_examples=64, validation_examples=32),
                                 description="seconds: a tiny net on 64 pairs"),
        "quick": registry.Preset(model=model, epochs=3, **TRAINING, task=task,
                                 description=f"a few minutes: {what}, 3 epochs"),
        "paper": registry.Preset(model=model, epochs=EPOCHS, **TRAINING, task=task, held_out_every=1,
                                 description=f"{what}; {EPOCHS} epochs of {EPOCH_EXAMPLES:,} fresh pairs of "
                                             f"numbers of 1 to {MAX_DIGITS} digits (each count uniform), "
                                             "side by side, least significant digit first"),
    }


GRID_LSTM_ADDITION = registry.register(registry.ZooEntry(
    name="grid_lstm_addition", builder=build_grid_lstm_addition, task="addition",
    presets=_presets(GRID_MODEL, dict(units=8, depth=2), "the tied 2-LSTM, 64 units, 4 blocks along depth"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="tied 2-LSTM: near 100% exact 15-digit sums; stacked LSTMs fall well short",
    weights_sha256="e5b5880ccddc0264a20d2eceb32a3acd75b2c9a695cdb589a794548cb678d1f9",
    summary="15-digit addition with a tied 2D Grid LSTM over time and depth (Kalchbrenner et al. 2016)",
))
LSTM_ADDITION = registry.register(registry.ZooEntry(
    name="lstm_addition", builder=build_lstm_addition, task="addition",
    presets=_presets(LSTM_MODEL, dict(units=8, depth=2), "4 stacked LSTM layers of 48 units"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="stacked LSTMs fall well short of the tied 2-LSTM on 15-digit addition",
    weights_sha256="c564dd643bf58f2f26e1f3a2de62b1d1f8bdfae628547a655e462ab5897afea9",
    summary="15-digit addition with stacked LSTMs of the Grid LSTM's depth (baseline)",
))
