"""`grid_lstm_parity` and `mlp_parity`: k-bit parity (Kalchbrenner, Danihelka
& Graves, "Grid Long Short-Term Memory", ICLR 2016, section 4.1).

`grid_lstm_parity` is the paper's tied 1-LSTM: the K bits are projected in
once, as the hidden vector of the first block of a 1D Grid LSTM along depth
(`GridLSTM1D`, one block applied `depth` times), and the top block's hidden
vector gives the probability of an odd number of ones. `mlp_parity` is the
paper's feed-forward baseline of the same depth and width: `depth` dense
layers of `units` units.

Both export the same signature:

    bits float32 [B, K] in {0, 1}  ->  probability_odd float32 [B]
                                       parity int64 [B] (1: odd)

K is fixed by the model (`BITS` for the shipped weights). A value other
than 0 or 1 fails the request with an `InvalidArgumentError` naming `bits`;
strings of another length are a ValueError when traced (and the export's
signature refuses them).

Trained on uniform K-bit strings from the start, the Grid LSTM did not
learn here (training loss at log 2: the plateau of the paper's baselines);
the presets train both nets with a curriculum on the number of random bits
(`training/tasks/parity.py`), and they are scored on uniform K-bit strings
that no run trained on.
"""

import keras
import numpy as np
import tensorflow as tf

from custom_layers import GridLSTM1D
from zoo import registry

BITS = 50  # K of the shipped weights (issue 28's floor; the paper goes to 250)
ACTIVATIONS = ("relu", "tanh", "lstm")


def _inputs(bits, centred):
    """The `bits` input and the network's view of it (2 b - 1 when `centred`)."""
    registry.check_positive_ints(bits=bits)
    x = keras.Input((bits,), name="bits")
    return x, (keras.layers.Rescaling(2.0, offset=-1.0, name="centre")(x) if centred else x)


def _head(h, x, name):
    odd = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability_odd")(h)
    return keras.Model(x, odd, name=name)


def build_grid_lstm_parity(bits=BITS, units=64, depth=16, tied=True, init_scale=1.0, centred=False):
    """bits [B, K] -> probability of odd parity [B, 1]: the bits projected
    to `units` and fed to the first of `depth` Grid LSTM blocks along depth
    (one block, `tied`, as the paper's), a sigmoid on the top block's hidden
    vector.

    Args:
        bits: K, the length of the strings.
        units: hidden and memory size of the blocks.
        depth: number of blocks along depth.
        tied: one block (one set of weights) at every depth.
        init_scale: scale of the Glorot-uniform variance of the projection's
            and the blocks' kernels (1: Glorot's).
        centred: feed the bits as -1 / 1 instead of 0 / 1.
    """
    registry.check_positive_ints(units=units, depth=depth)
    if not init_scale > 0:
        raise ValueError(f"`init_scale` must be positive; received {init_scale!r}.")
    x, h = _inputs(bits, centred)
    init = keras.initializers.VarianceScaling(init_scale, "fan_avg", "uniform")
    h = GridLSTM1D(units, depth=depth, tied=tied, kernel_initializer=init, name="grid_lstm")(h)
    return _head(h, x, "grid_lstm_parity")


def build_mlp_parity(bits=BITS, units=64, depth=16, activation="relu", centred=False):
    """bits [B, K] -> probability of odd parity [B, 1]: `depth` dense layers
    of `units` `activation` units (He-uniform for ReLU, Glorot for tanh), a
    sigmoid. `activation="lstm"` makes it the stacked LSTM of the same depth:
    each layer an LSTM reading the layer below's hidden vector as a sequence
    of one step, so that, unlike the Grid LSTM's blocks, no memory cell
    links one layer to the next.

    Args:
        bits: K, the length of the strings.
        units: width of every hidden layer.
        depth: number of hidden layers.
        activation: "relu", "tanh" or "lstm".
        centred: feed the bits as -1 / 1 instead of 0 / 1.
    """
    registry.check_positive_ints(units=units, depth=depth)
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}; received {activation!r}.")
    x, h = _inputs(bits, centred)
    if activation == "lstm":
        h = keras.layers.Reshape((1, bits), name="one_step")(h)
        for d in range(depth):
            h = keras.layers.LSTM(units, return_sequences=d < depth - 1, name=f"layer_{d}")(h)
        return _head(h, x, "mlp_parity")
    init = "he_uniform" if activation == "relu" else "glorot_uniform"
    for d in range(depth):
        h = keras.layers.Dense(units, activation=activation, kernel_initializer=init, name=f"layer_{d}")(h)
    return _head(h, x, "mlp_parity")


def check_shape(bits, length):
    """A ValueError unless `bits` is [B, length] (where its shape is known)."""
    shape = bits.shape
    if shape.rank is not None and (shape.rank != 2 or shape[1] not in (None, length)):
        raise ValueError(f"`bits` must be float32 [B, {length}]: strings of K = {length} bits, the model's K; "
                         f"received shape {shape.as_list()}.")


def check_bits(bits):
    """An assertion (InvalidArgumentError when run) that every bit is 0 or 1."""
    binary = tf.reduce_all(tf.logical_or(tf.equal(bits, 0.0), tf.equal(bits, 1.0)))
    return tf.debugging.Assert(binary, ["`bits` must hold only 0 and 1; received min", tf.reduce_min(bits),
                                        "max", tf.reduce_max(bits)])


def serving_fn(model):
    length = int(model.inputs[0].shape[1])

    def serve(bits):
        bits = tf.convert_to_tensor(bits, tf.float32)
        check_shape(bits, length)
        with tf.control_dependencies([check_bits(bits)]):
            odd = tf.cast(model(bits, training=False), tf.float32)[:, 0]
        return {"probability_odd": odd, "parity": tf.cast(odd > 0.5, tf.int64)}

    return tf.autograph.experimental.do_not_convert(serve)


def _examples():
    rng = np.random.default_rng([2016, 28])
    bits = rng.integers(0, 2, size=(6, BITS)).astype(np.float32)
    bits[0], bits[1] = 0.0, 1.0  # even (no ones) and, K even, even again: all ones
    bits[2, :] = 0.0
    bits[2, 7] = 1.0  # a single one: odd
    return {"bits": bits}


INPUTS = (registry.TensorInfo("bits", "float32", (None, BITS), f"strings of K = {BITS} bits, 0 or 1"),)
OUTPUTS = (registry.TensorInfo("probability_odd", "float32", (None,),
                               "probability that the string holds an odd number of ones"),
           registry.TensorInfo("parity", "int64", (None,), "1 if odd, 0 if even"))


def _presets(model, smoke, what):
    task = dict(bits=BITS, curriculum=True, train_examples=EPOCH_EXAMPLES)
    return {
        "smoke": registry.Preset(model=dict(model, **smoke), epochs=1, batch_size=16,
                                 task=dict(bits=BITS, train_examples=64, validation_examples=32),
                                 description="seconds: a tiny net on 64 strings"),
        "quick": registry.Preset(model=model, epochs=4, **TRAINING, task=task,
                                 description=f"a minute or two: {what}, the curriculum's first 4 epochs"),
        "paper": registry.Preset(model=model, epochs=EPOCHS, **TRAINING, task=task, held_out_every=4,
                                 description=f"{what}; {EPOCHS} epochs of {EPOCH_EXAMPLES:,} fresh strings, "
                                             f"a curriculum growing their random bits (at random positions, the "
                                             f"others 0) from 2 to K = {BITS}, one after each epoch at 90% "
                                             "training accuracy"),
    }


GRID_MODEL = dict(bits=BITS, units=64, depth=16, tied=True)
MLP_MODEL = dict(bits=BITS, units=64, depth=16, activation="relu")
TRAINING = dict(batch_size=64, learning_rate=3e-3, clipnorm=1.0, jit_compile=True)
EPOCHS, EPOCH_EXAMPLES = 120, 6_400

GRID_LSTM_PARITY = registry.register(registry.ZooEntry(
    name="grid_lstm_parity", builder=build_grid_lstm_parity, task="parity",
    presets=_presets(GRID_MODEL, dict(units=8, depth=2), "the tied 1-LSTM, 64 units, 16 blocks"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="tied 1-LSTM learns the parity of up to 250 bits; stacked LSTMs and feed-forward nets "
                 "stay at chance",
    weights_sha256="5c7aedd8be237acf0dbbdee627f2b55211bce3ab9f5dbe0bc1353716e8648ce6",
    summary="k-bit parity with a tied 1D Grid LSTM along depth (Kalchbrenner et al. 2016)",
))
MLP_PARITY = registry.register(registry.ZooEntry(
    name="mlp_parity", builder=build_mlp_parity, task="parity",
    presets=_presets(MLP_MODEL, dict(units=8, depth=2), "16 ReLU layers of 64 units"),
    inputs=INPUTS, outputs=OUTPUTS, serving_fn=serving_fn, example_inputs=_examples,
    paper_result="feed-forward nets stay at chance on k-bit parity",
    weights_sha256="91c1be1f3e9951806471821a0f3a5a3822e3e1c257ad26299823d698e2693904",
    summary="k-bit parity with a feed-forward net of the Grid LSTM's depth and width (baseline)",
))
