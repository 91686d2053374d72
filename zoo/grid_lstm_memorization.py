"""`grid_lstm_memorization` and `lstm_memorization`: memorisation of 20
random symbols (Kalchbrenner, Danihelka & Graves, "Grid Long Short-Term
Memory", ICLR 2016, section 4.2).

`grid_lstm_memorization` is the paper's tied 2-LSTM: a 2D Grid LSTM over
time and depth (`GridLSTM2D`, one block at every depth and every step),
LSTM memory along both. `lstm_memorization` is the baseline: stacked LSTM
layers of the same depth and about the same number of weights.

The layout (ours): 40 steps. In the read phase (steps 0-19) the network
reads the symbols, one one-hot vector over the alphabet a step; in the
write phase (steps 20-39) its input is only the "go" flag (the last of
the `FEATURES`), and at write step i it answers symbol i, a softmax over
the alphabet. The softmax reads the top hidden vectors of the write steps
only (`Cropping1D`): the read phase has no targets at all.

Both export the same signature:

    symbols string [B]: exactly 20 characters of `ALPHABET`  ->  recalled string [B]

`ALPHABET` holds the 64 characters a-z, A-Z, 0-9, "+" and "/". Checking,
encoding and decoding run in the graph. Anything else (another length, a
space, a character outside the alphabet) fails the whole request with an
`InvalidArgumentError` that names `symbols`, as the other string exports
do (`grid_lstm_addition`).
"""

import keras
import numpy as np
import tensorflow as tf

from custom_layers import GridLSTM2D
from zoo import registry

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
SYMBOLS = len(ALPHABET)
LENGTH = 20  # symbols to memorise
STEPS = 2 * LENGTH  # the read phase, then the write phase
FEATURES = SYMBOLS + 1  # one-hot symbol, then the "go" flag of the write phase


def _head(h, x, name):
    writes = keras.layers.Cropping1D((LENGTH, 0), name="write_phase")(h)
    symbols = keras.layers.Dense(SYMBOLS, activation="softmax", dtype="float32", name="symbols")(writes)
    return keras.Model(x, symbols, name=name)


def build_grid_lstm_memorization(units=64, depth=4, tied=True):
    """steps float32 [B, 40, 65] -> symbol probabilities [B, 20, 64] of the
    write phase: a 2D Grid LSTM of `depth` blocks along depth (one block,
    `tied`, as the paper's tied 2-LSTM) over the 40 steps.

    Args:
        units: hidden and memory size of the blocks.
        depth: number of blocks along depth.
        tied: one block (one set of weights) at every depth.
    """
    registry.check_positive_ints(units=units, depth=depth)
    x = keras.Input((STEPS, FEATURES), name="steps")
    h = GridLSTM2D(units, depth=depth, tied=tied, name="grid_lstm")(x)
    return _head(h, x, "grid_lstm_memorization")


def build_lstm_memorization(units=48, depth=4):
    """steps float32 [B, 40, 65] -> symbol probabilities [B, 20, 64] of the
    write phase: `depth` stacked LSTM layers of `units` units.

    Args:
        units: width of every LSTM layer.
        depth: number of LSTM layers.
    """
    registry.check_positive_ints(units=units, depth=depth)
    x = keras.Input((STEPS, FEATURES), name="steps")
    h = x
    for d in range(depth):
        h = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{d}")(h)
    return _head(h, x, "lstm_memorization")


def encode(indices):
    """Symbol indices int32 [B, 20] -> the network's input float32 [B, 40, 65]."""
    indices = tf.convert_to_tensor(indices, tf.int32)
    read = tf.one_hot(indices, FEATURES)
    write = tf.one_hot(tf.fill(tf.shape(indices), SYMBOLS), FEATURES)  # the go flag alone
    return tf.concat([read, write], axis=1)


def indices_of(symbols):
    """Strings [B] that passed `check_symbols` -> symbol indices int32 [B, 20]."""
    index = np.full(256, -1, np.int32)
    index[np.frombuffer(ALPHABET.encode(), np.uint8)] = np.arange(SYMBOLS)
    codes = tf.cast(tf.io.decode_raw(symbols, tf.uint8, fixed_length=LENGTH), tf.int32)
    return tf.gather(tf.constant(index), codes)


def text_of(indices):
    """Symbol indices int32 [B, 20] -> strings [B]."""
    characters = tf.constant(np.frombuffer(ALPHABET.encode(), np.uint8).astype(np.int32))
    return tf.strings.unicode_encode(tf.gather(characters, indices), "UTF-8")


def check_symbols(symbols):
    """An assertion (InvalidArgumentError when run) that every string of
    `symbols` is 20 characters of `ALPHABET`."""
    ok = tf.reduce_all(tf.strings.regex_full_match(symbols, f"[a-zA-Z0-9+/]{{{LENGTH}}}"))
    return tf.debugging.Assert(ok, [f"`symbols` must be strings of exactly {LENGTH} characters of a-z, A-Z, "
                                    "0-9, + and /; received", symbols], summarize=8)


def recalled(probabilities):
    """Symbol probabilities [B, 20, 64] -> the recalled strings [B]."""
    return text_of(tf.argmax(probabilities, axis=-1, output_type=tf.int32))


def serving_fn(model):
    def serve(symbols):
        symbols = tf.convert_to_tensor(symbols, tf.string)
        with tf.control_dependencies([check_symbols(symbols)]):
            indices = indices_of(symbols)
        probabilities = tf.cast(model(encode(indices), training=False), tf.float32)
        return {"recalled": recalled(probabilities)}

    return tf.autograph.experimental.do_not_convert(serve)


def _examples():
    return {"symbols": np.array(["abcdefghijklmnopqrst", "aaaaaaaaaaaaaaaaaaaa", "Zz09+/Zz09+/Zz09+/Zz",
                                 "GridLSTMmemorises20s", "0123456789ABCDEFGHIJ"])}


INPUTS = (registry.TensorInfo("symbols", "string", (None,),
                              f"exactly {LENGTH} characters of a-z, A-Z, 0-9, + and /"),)
OUTPUTS = (registry.TensorInfo("recalled", "string", (None,), "the 20 symbols as the network writes them back"),)

GRID_MODEL = dict(units=128, depth=4, tied=True)
LSTM_MODEL = dict(units=94, depth=4)  # 279,432 weights against the Grid LSTM's 279,744
TRAINING = dict(batch_size=64, learning_rate=3e-3, clipnorm=1.0, jit_compile=True)
EPOCHS, EPOCH_EXAMPLES = 24, 6_400


def _presets(model, smoke, what):
    task = dict(train_examples=EPOCH_EXAMPLES)
    return {
        "smoke": registry.Preset(model=dict(model, **smoke), epochs=1, batch_size=16,
                                 task=dict(train_examples=64, validation_examples=32),
                                 description="seconds: a tiny net on 64 sequences"),
        "quick": registry.Preset(model=model, epochs=2, **TRAINING, task=task,
                                 description=f"a few minutes: {what}, 2 epochs"),
        "paper": registry.Preset(model=model, epochs=EPOCHS, **TRAINING, task=task, held_out_every=1,
                                 description=f"{what}; {EPOCHS} epochs of {EPOCH_EXAMPLES:,} fresh sequences "
                                             f"of {LENGTH} symbols of {SYMBOLS}, read then written back"),
    }


GRID_LSTM_MEMORIZATION = registry.register(registry.ZooEntry(
    name="grid_lstm_memorization", builder=build_grid_lstm_memorization, task="memorization",
    presets=_presets(GRID_MODEL, dict(units=8, depth=2), "the tied 2-LSTM, 128 units, 4 blocks along depth"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="tied 2-LSTM memorises 20 random symbols in fewer samples than stacked LSTMs",
    weights_sha256="3646748dd3f7b61a9ff821323f8503f2903c79d17ee2a9bd9ff8eaed07c866dc",
    summary="memorisation of 20 random symbols with a tied 2D Grid LSTM over time and depth "
            "(Kalchbrenner et al. 2016)",
))
LSTM_MEMORIZATION = registry.register(registry.ZooEntry(
    name="lstm_memorization", builder=build_lstm_memorization, task="memorization",
    presets=_presets(LSTM_MODEL, dict(units=8, depth=2), "4 stacked LSTM layers of 94 units"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="stacked LSTMs need more samples than the tied 2-LSTM to memorise 20 symbols",
    weights_sha256="6607586ffdd428d44cd04874af3f9a7f32bcd8719de95d8447ee502ca19e46ef",
    summary="memorisation of 20 random symbols with stacked LSTMs of the Grid LSTM's depth (baseline)",
))
