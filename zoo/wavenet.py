"""`wavenet_fsdd`: WaveNet (van den Oord et al., "WaveNet: A Generative Model
for Raw Audio", 2016) on the Free Spoken Digit Dataset, conditioned on the digit.

The network: the waveform is mu-law companded and quantised to 256 codes
in the graph (mu = 255); each code is embedded (a learned 256 x R table,
the 1x1 convolution of a one-hot input), then a stack of `WaveNetBlock`s
(dilated causal convolutions of kernel K, gated tanh x sigmoid units,
residual and skip 1x1 convolutions), each conditioned on a learned
embedding of the digit (global conditioning, added to both gates); the
skip outputs are summed, ReLU, 1x1 to `head_channels`, ReLU, 1x1 to 256
logits (float32): at time t, the distribution of the code at t + 1. (The
last block's residual output feeds nothing: its 1x1 residual weights stay
as initialised, and Keras warns that they get no gradient.)

Receptive field: one input sample plus (K - 1) d_l samples for each
block l, R = 1 + (K - 1) sum_l d_l. The `paper` preset has K = 2 and
dilations 1, 2, ..., 1024 (11 blocks), then 1, 2, ..., 64 (7 more):
R = 1 + 2047 + 127 = 2,175 samples (272 ms at 8 kHz), >= 2,000.

Serving (`serving_default`): `waveform` float32 [B, T] (8 kHz, in [-1, 1],
zero-padded at the end) and `digit` int32 [B] -> `bits_per_sample` float32
[B]: the mean of -log2 p(code_t | code_<t, digit) over the samples after
the first of each waveform's signal. A waveform's signal ends at its last
nonzero sample (as `cldnn_fsdd`'s padding rule): zeros after it are
padding, neither fed to a prediction that is scored nor scored, so padding
does not change the answer; a waveform with fewer than two signal samples
scores 0 (nothing to predict). Before the first sample the network sees
zeros (the causal convolutions' padding).

Signature `generate`: `digit` int32 [B], `num_samples` int32 [] ->
`waveform` float32 [B, num_samples]: the first sample is silence (the code
of 0.0, as recordings start), each next one drawn from the softmax by
inverse-CDF sampling with a uniform from `tf.random.stateless_uniform`
with the fixed seed `GENERATION_SEED` over shape [num_samples, B]: the
same request gives the same waveform, the rows of a batch get different
draws (`generate(..., seed=)` and `specialnets generate --seed` choose
another). It runs the cached fast algorithm of Paine et al. ("Fast Wavenet
Generation Algorithm", 2016) as a `tf.while_loop` in the graph: each
block keeps its last (K - 1) d inputs (`FastSteps`: one ring buffer for
all blocks, the step's matmuls fused and its time-invariant terms
computed once a request), so a sample costs O(blocks), not O(receptive
field). `generate(..., cached=False)` is the
naive algorithm (the whole receptive field recomputed every step) with the
same draws: the tests check that both give the same samples.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers.wavenet_block import WaveNetBlock
from zoo import registry
from zoo.cldnn import EXAMPLES, check_waveform

SAMPLE_RATE = 8000
QUANTIZATION = 256
MU = QUANTIZATION - 1
DIGITS = 10
GENERATION_SEED = (29, 0)
MAX_GENERATED = 10 * SAMPLE_RATE  # `generate` refuses more than 10 s a request
LN2 = math.log(2.0)


def mu_law_encode(waveform):
    """float [..] in [-1, 1] -> int32 codes in [0, 255]: sign(x) ln(1 + mu|x|) / ln(1 + mu),
    mapped to [0, 255] and rounded (0.0 -> 128)."""
    x = ops.clip(ops.cast(waveform, "float32"), -1.0, 1.0)
    companded = ops.sign(x) * ops.log1p(MU * ops.abs(x)) / math.log1p(MU)
    return ops.cast(ops.floor((companded + 1.0) / 2.0 * MU + 0.5), "int32")


def mu_law_decode(codes):
    """int codes in [0, 255] -> float32 samples in [-1, 1] (the inverse of the companding)."""
    companded = 2.0 * ops.cast(codes, "float32") / MU - 1.0
    return ops.sign(companded) * ops.expm1(ops.abs(companded) * math.log1p(MU)) / MU


SILENCE = 128  # mu_law_encode(0.0)


def signal_lengths(waveform):
    """int32 [B]: each row's signal length, its last nonzero sample + 1 (0 if silent)."""
    length = ops.shape(waveform)[1]
    positions = ops.arange(1, length + 1, dtype="int32")
    nonzero = ops.cast(ops.not_equal(waveform, 0), "int32")
    return ops.max(nonzero * positions[None, :], axis=1, initial=0)


def receptive_field(dilations, kernel_size):
    return 1 + (kernel_size - 1) * sum(dilations)


def _positive_int(name, value):
    registry.check_positive_ints(**{name: value})
    return int(value)


@keras.saving.register_keras_serializable(package="special_networks")
class WaveNet(keras.layers.Layer):
    """The whole WaveNet: [waveform [B, T], digit [B]] -> logits [B, T, 256]
    (float32), the logits at t predicting the code at t + 1.

    Besides `call`: `embed(codes)`, `condition(digit)`, `logits_of(embedded,
    condition)` (the network after the embedding), `step(code_t, caches,
    condition)` (one time step of the cached algorithm on the blocks' own
    `step`s: the reference) and `fast_steps(condition)` (the same step
    fused, which `generate` runs).
    """

    def __init__(self, residual_channels=64, dilation_channels=64, skip_channels=128, head_channels=128,
                 dilations=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), kernel_size=2, condition_dim=16,
                 **kwargs):
        super().__init__(**kwargs)
        self.residual_channels = _positive_int("residual_channels", residual_channels)
        self.dilation_channels = _positive_int("dilation_channels", dilation_channels)
        self.skip_channels = _positive_int("skip_channels", skip_channels)
        self.head_channels = _positive_int("head_channels", head_channels)
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise ValueError(f"`dilations` must be a non-empty list of positive ints; received {dilations!r}.")
        self.dilations = [_positive_int("dilations", d) for d in dilations]
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.condition_dim = _positive_int("condition_dim", condition_dim)

    @property
    def receptive_field(self):
        return receptive_field(self.dilations, self.kernel_size)

    def build(self, input_shape=None):
        policy = self.dtype_policy
        self.sample_embedding = keras.layers.Embedding(QUANTIZATION, self.residual_channels, dtype=policy,
                                                       name="sample_embedding")
        self.sample_embedding.build((None, None))
        self.digit_embedding = keras.layers.Embedding(DIGITS, self.condition_dim, dtype=policy,
                                                      name="digit_embedding")
        self.digit_embedding.build((None,))
        self.blocks = []
        for i, d in enumerate(self.dilations):
            block = WaveNetBlock(self.residual_channels, self.dilation_channels, self.skip_channels,
                                 self.kernel_size, d, dtype=policy, name=f"block_{i}")
            block.build([(None, None, self.residual_channels), (None, self.condition_dim)])
            self.blocks.append(block)
        self.head = keras.layers.Dense(self.head_channels, activation="relu", dtype=policy, name="head")
        self.head.build((None, None, self.skip_channels))
        self.output_layer = keras.layers.Dense(QUANTIZATION, dtype=policy, name="logits")
        self.output_layer.build((None, None, self.head_channels))

    def embed(self, codes):
        return self.sample_embedding(codes)

    def condition(self, digit):
        return self.digit_embedding(digit)

    def _logits_of_skips(self, skips):
        return ops.cast(self.output_layer(self.head(ops.relu(skips))), "float32")

    def logits_of(self, embedded, condition, valid=None):
        """The network after the embedding; `valid` bool [T] (if given) zeroes every block's
        input where it is False (positions before the start, as the convolutions' padding)."""
        x, skips = embedded, None
        for block in self.blocks:
            if valid is not None:
                x = x * ops.cast(valid, x.dtype)[None, :, None]
            x, skip = block([x, condition])
            skips = skip if skips is None else skips + skip
        return self._logits_of_skips(skips)

    def call(self, inputs):
        waveform, digit = inputs
        return self.logits_of(self.embed(mu_law_encode(waveform)), self.condition(digit))

    def initial_caches(self, batch_size):
        return [block.initial_cache(batch_size) for block in self.blocks]

    def step(self, code_t, caches, condition):
        """code_t int32 [B], each block's cache, condition [B, H] -> (logits [B, 256], next caches)."""
        x, skips, new_caches = self.embed(code_t), None, []
        for block, cache in zip(self.blocks, caches):
            x, skip, cache = block.step(x, cache, condition)
            skips = skip if skips is None else skips + skip
            new_caches.append(cache)
        return self._logits_of_skips(skips), new_caches

    def fast_steps(self, condition):
        """`FastSteps`: the cached step for one generation with `condition` [B, H]."""
        return FastSteps(self, condition)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0]) + (QUANTIZATION,)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape([inputs[0].shape, inputs[1].shape]), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "residual_channels": self.residual_channels,
                "dilation_channels": self.dilation_channels, "skip_channels": self.skip_channels,
                "head_channels": self.head_channels, "dilations": list(self.dilations),
                "kernel_size": self.kernel_size, "condition_dim": self.condition_dim}


class FastSteps:
    """`WaveNet.step` fused for one generation: the same weights and logits (up to float
    rounding) in fewer, cheaper ops a step, in the plain graph and under XLA.

    Built once, outside the loop: every weight read and cast to the compute dtype; each
    block's taps as one kernel [K x residual_channels, 2 x dilation_channels] (applied to
    its inputs [x_{t-(K-1)d}, ..., x_{t-d}, x_t], concatenated) and its conditioning and
    bias as one gate bias [B, 2 x dilation_channels]; all skip kernels as one, applied
    to all blocks' gated units at once. The blocks' past inputs live in one ring buffer
    [rows, B, residual_channels]: block l owns (K - 1) d_l rows and writes its input at
    time t to its row t mod (K - 1) d_l, over the one it wrote (K - 1) d_l steps before,
    so a step reads one row a tap and writes one a block instead of shifting every queue.

    `ring(batch)`: the buffer before the start (zeros, the convolutions' padding);
    `step(t, code_t, ring)` -> (logits float32 [B, 256], the next ring).
    """

    def __init__(self, net, condition):
        self.dtype = net.compute_dtype
        blocks, self.taps, self.channels = net.blocks, net.kernel_size - 1, net.residual_channels
        self.table = self._read(net.sample_embedding.embeddings)
        self.kernels = [tf.reshape(self._read(block.conv.kernel), [-1, 2 * block.dilation_channels])
                        for block in blocks]
        condition = tf.cast(condition, self.dtype)
        self.gate_biases = [self._gate_bias(block, condition) for block in blocks]
        # The last block's residual output feeds nothing.
        self.residual_kernels = [self._read(block.residual_kernel) for block in blocks[:-1]]
        self.residual_biases = [self._read(block.residual_bias) for block in blocks[:-1]]
        self.skip_kernel = tf.concat([self._read(block.skip_kernel) for block in blocks], axis=0)
        self.skip_bias = sum(self._read(block.skip_bias) for block in blocks)
        self.head = [self._read(w) for w in (net.head.kernel, net.head.bias, net.output_layer.kernel,
                                             net.output_layer.bias)]
        lengths = np.array([max(block.cache_length, 1) for block in blocks], np.int32)  # K = 1: an unread row
        offsets = np.cumsum(lengths) - lengths
        self.rows = int(lengths.sum())
        self.write_offsets, self.write_lengths = offsets[:, None], lengths[:, None]
        # Tap j < K - 1 of block l reads the block's input (K - 1 - j) d_l steps back.
        self.read_offsets, self.read_lengths = np.repeat(offsets, self.taps), np.repeat(lengths, self.taps)
        self.read_lags = np.array([(self.taps - j) * block.dilation_rate for block in blocks
                                   for j in range(self.taps)], np.int32)

    def _read(self, weight):
        return tf.cast(tf.convert_to_tensor(weight), self.dtype)

    def _gate_bias(self, block, condition):
        bias = tf.matmul(condition, self._read(block.condition_kernel))
        return bias + self._read(block.conv.bias) if block.conv.use_bias else bias

    def ring(self, batch):
        return tf.zeros(tf.stack([self.rows, batch, self.channels]), self.dtype)

    def _past_inputs(self, t, ring):
        """Each block's inputs at its past taps, oldest first: a list of L lists of K - 1 [B, C]."""
        rows = tf.gather(ring, self.read_offsets + (t - self.read_lags) % self.read_lengths)
        rows = tf.unstack(rows, num=len(self.read_lags))
        return [rows[i * self.taps:(i + 1) * self.taps] for i in range(len(self.kernels))]

    def step(self, t, code_t, ring):
        x = tf.gather(self.table, code_t)
        inputs, gated = [], []
        for i, past in enumerate(self._past_inputs(t, ring)):
            inputs.append(x)
            gates = tf.matmul(tf.concat(past + [x], axis=-1), self.kernels[i]) + self.gate_biases[i]
            filters, gate = tf.split(gates, 2, axis=-1)
            gated.append(tf.tanh(filters) * tf.sigmoid(gate))
            if i < len(self.residual_kernels):
                x = x + tf.matmul(gated[-1], self.residual_kernels[i]) + self.residual_biases[i]
        slots = self.write_offsets + t % self.write_lengths
        return self._logits(gated), tf.tensor_scatter_nd_update(ring, slots, tf.stack(inputs))

    def _logits(self, gated):
        skips = tf.matmul(tf.concat(gated, axis=-1), self.skip_kernel) + self.skip_bias
        head_kernel, head_bias, logits_kernel, logits_bias = self.head
        hidden = tf.nn.relu(tf.matmul(tf.nn.relu(skips), head_kernel) + head_bias)
        return tf.cast(tf.matmul(hidden, logits_kernel) + logits_bias, tf.float32)


def build_wavenet(residual_channels=64, dilation_channels=64, skip_channels=128, head_channels=128,
                  dilations=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), kernel_size=2, condition_dim=16):
    """{"waveform" float32 [B, T], "digit" int32 [B]} -> logits float32 [B, T, 256]."""
    waveform = keras.Input((None,), dtype="float32", name="waveform")
    digit = keras.Input((), dtype="int32", name="digit")
    logits = WaveNet(residual_channels, dilation_channels, skip_channels, head_channels, list(dilations),
                     kernel_size, condition_dim, name="wavenet")([waveform, digit])
    return keras.Model({"waveform": waveform, "digit": digit}, logits, name="wavenet_fsdd")


def network(model):
    return model.get_layer("wavenet")


def scored_bits(waveform, logits):
    """(sum of -log2 p over each row's scored samples [B], their count [B]): the
    samples 1..L-1 of each row's signal (L = `signal_lengths`), each predicted
    by the logits one step before."""
    codes = mu_law_encode(waveform)
    log_probs = tf.nn.log_softmax(tf.cast(logits[:, :-1], tf.float32), axis=-1)
    picked = tf.gather(log_probs, codes[:, 1:], batch_dims=2)  # [B, T - 1]
    lengths = signal_lengths(waveform)
    scored = tf.range(1, tf.shape(waveform)[1])[None, :] < lengths[:, None]
    bits = -tf.reduce_sum(tf.where(scored, picked, 0.0), axis=1) / LN2
    return bits, tf.reduce_sum(tf.cast(scored, tf.float32), axis=1)


def _check_digit(digit):
    return tf.debugging.Assert(tf.reduce_all((digit >= 0) & (digit < DIGITS)), [
        "`digit` must be in 0..9; received min", tf.reduce_min(digit), "max", tf.reduce_max(digit)])


def _check_rank(value, name, rank, what):
    if value.shape.rank is not None and value.shape.rank != rank:
        raise ValueError(f"`{name}` must be {what} (rank {rank}); received shape {value.shape}.")


def serving_fn(model):
    """`serving_default`: `waveform` [B, T], `digit` [B] -> `bits_per_sample` [B]."""

    def serve(waveform, digit):
        waveform = tf.convert_to_tensor(waveform, tf.float32)
        digit = tf.convert_to_tensor(digit, tf.int32)
        _check_rank(waveform, "waveform", 2, "[batch, samples]")
        _check_rank(digit, "digit", 1, "[batch]")
        with tf.control_dependencies(check_waveform(waveform) + [_check_digit(digit)]):
            # Padding is never scored: run the network on the batch's longest signal only.
            waveform = waveform[:, :tf.reduce_max(tf.concat([signal_lengths(waveform), [0]], 0))]
            digit = tf.identity(digit)  # checked before the embedding looks it up
        logits = model({"waveform": waveform, "digit": digit}, training=False)
        bits, count = scored_bits(waveform, logits)
        return {"bits_per_sample": tf.math.divide_no_nan(bits, count)}

    return tf.autograph.experimental.do_not_convert(serve)


def _sample(logits, uniform):
    """Inverse-CDF draw of a code from softmax(logits) [B, 256] with uniforms [B]."""
    cdf = tf.cumsum(tf.nn.softmax(logits, axis=-1), axis=-1)
    below = tf.cast(cdf < uniform[:, None] * cdf[:, -1:], tf.int32)
    return tf.minimum(tf.reduce_sum(below, axis=-1), QUANTIZATION - 1)


def generate(model, digit, num_samples, seed=GENERATION_SEED, cached=True):
    """Codes int32 [B, num_samples] drawn from the model for each `digit` (graph code;
    it also compiles with XLA: `tf.function(..., jit_compile=True)`).

    Code 0 is `SILENCE`; code t + 1 is drawn by inverse CDF from the softmax
    after code t with the uniform [t + 1] of `stateless_uniform([num_samples,
    B], seed)`. `cached`: the fast algorithm (`FastSteps`: each block's last
    inputs in a ring buffer, O(blocks) a sample); else the naive one, the network over the
    whole receptive field every step (positions before the start zeroed at
    every block's input, as the convolutions' padding): the same samples.
    """
    net = network(model)
    digit = tf.convert_to_tensor(digit, tf.int32)
    num_samples = tf.convert_to_tensor(num_samples, tf.int32)
    batch = tf.shape(digit)[0]
    condition = net.condition(digit)
    uniforms = tf.random.stateless_uniform(tf.stack([num_samples, batch]), seed=seed, alg="philox")
    # Written at 0..num_samples - 1, one element at least (an empty list cannot be stacked).
    codes = tf.TensorArray(tf.int32, size=tf.maximum(num_samples, 1), element_shape=[None])
    first = tf.fill([batch], SILENCE)
    codes = codes.write(0, first)

    def draw(t, logits):
        return _sample(logits, uniforms[t + 1])

    if cached:
        steps = net.fast_steps(condition)

        def body(t, code, ring, codes):
            logits, ring = steps.step(t, code, ring)
            code = draw(t, logits)
            return t + 1, code, ring, codes.write(t + 1, code)

        state = (tf.constant(0), first, steps.ring(batch), codes)
    else:
        window = net.receptive_field
        positions = tf.range(window)

        def body(t, history, codes):
            valid = positions >= window - 1 - t  # window positions at times >= 0
            code = draw(t, net.logits_of(net.embed(history), condition, valid)[:, -1])
            return t + 1, tf.concat([history[:, 1:], code[:, None]], axis=1), codes.write(t + 1, code)

        history = tf.concat([tf.fill([batch, window - 1], SILENCE), first[:, None]], axis=1)
        state = (tf.constant(0), history, codes)
    state = tf.while_loop(lambda t, *_: t < num_samples - 1, body, state, parallel_iterations=1)
    return tf.transpose(state[-1].stack()[:num_samples])


def generate_fn(model):
    """Signature `generate`: `digit` int32 [B], `num_samples` int32 [] -> `waveform` [B, num_samples]."""

    def serve(digit, num_samples):
        digit = tf.convert_to_tensor(digit, tf.int32)
        num_samples = tf.convert_to_tensor(num_samples, tf.int32)
        _check_rank(digit, "digit", 1, "[batch]")
        _check_rank(num_samples, "num_samples", 0, "a scalar")
        checks = [_check_digit(digit), tf.debugging.Assert(
            (num_samples >= 0) & (num_samples <= MAX_GENERATED),
            [f"`num_samples` must be in 0..{MAX_GENERATED}; received", num_samples])]
        with tf.control_dependencies(checks):
            digit, num_samples = tf.identity(digit), tf.identity(num_samples)
        return {"waveform": mu_law_decode(generate(model, digit, num_samples))}

    return serve


def generate_waveform(model, digit, num_samples, seed=GENERATION_SEED, cached=True, jit_compile=True):
    """float32 [len(digit), num_samples] generated for each of `digit` (NumPy in and out):
    `generate` (the same draws as the export's for the default seed), compiled with XLA
    unless `jit_compile` is False (the export's graph runs without XLA, for TF Serving)."""
    digit = np.asarray(digit)
    if digit.ndim != 1 or not np.issubdtype(digit.dtype, np.integer) or digit.size == 0:
        raise ValueError(f"`digit` must be a non-empty list of ints 0..9; received {digit!r}.")
    if digit.min() < 0 or digit.max() >= DIGITS:
        raise ValueError(f"`digit` must be in 0..9; received {digit.tolist()}.")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or not \
            0 <= num_samples <= MAX_GENERATED:
        raise ValueError(f"`num_samples` must be an int in 0..{MAX_GENERATED}; received {num_samples!r}.")
    run = tf.function(lambda d, n: mu_law_decode(generate(model, d, n, seed=seed, cached=cached)),
                      jit_compile=jit_compile)
    return run(tf.constant(digit, tf.int32), tf.constant(num_samples, tf.int32)).numpy()


def example_inputs():
    """Ten validation recordings (one per digit, `cldnn_fsdd`'s examples) and their digits."""
    with np.load(EXAMPLES) as data:
        return {"waveform": data["pcm"].astype(np.float32) / 32768.0, "digit": data["label"].astype(np.int32)}


def presets():
    smoke = dict(residual_channels=4, dilation_channels=4, skip_channels=8, head_channels=8,
                 dilations=[1, 2, 4, 8], condition_dim=4)
    paper = dict(residual_channels=32, dilation_channels=32, skip_channels=64, head_channels=128,
                 dilations=[2 ** i for i in range(11)] + [2 ** i for i in range(7)], condition_dim=16)
    task = dict(crop=2000, validation_limit=60)
    return {
        "smoke": registry.Preset(model=smoke, epochs=1, batch_size=4, train_limit=8, learning_rate=3e-3,
                                 task=dict(crop=256, validation_limit=4),
                                 description="seconds: a 4-block WaveNet, 2 steps on crops of 256 samples"),
        "quick": registry.Preset(model=paper, epochs=1, batch_size=4, train_limit=80, learning_rate=3e-3,
                                 clipnorm=1.0, task=task,
                                 description="minutes: the paper preset's network, 20 steps on 80 recordings"),
        "paper": registry.Preset(model=paper, epochs=16, batch_size=4, learning_rate=3e-3, clipnorm=1.0,
                                 task=task,
                                 description="18 blocks of 32 channels (receptive field 2,175), crops of "
                                             "2,000 samples of the 2,400 training recordings, batches of 4, "
                                             "Adam 3e-3 with cosine decay, 16 epochs (9,600 steps: about "
                                             "30 minutes on 2 CPU cores)"),
    }


WAVEFORM = registry.TensorInfo("waveform", "float32", (None, None),
                               "8 kHz mono samples in [-1, 1]; zero-padded at the end (after the last "
                               "nonzero sample nothing is scored)")
DIGIT = registry.TensorInfo("digit", "int32", (None,), "the spoken digit 0..9 (global conditioning)")
OUTPUTS = (registry.TensorInfo("bits_per_sample", "float32", (None,),
                               "mean -log2 likelihood of the mu-law (256) codes after the first sample"),)
GENERATE_INPUTS = (DIGIT, registry.TensorInfo("num_samples", "int32", (), "samples to generate (8 kHz), 0..80000"))
GENERATE_OUTPUTS = (registry.TensorInfo("waveform", "float32", (None, None),
                                        "generated 8 kHz samples in [-1, 1]"),)

WAVENET_FSDD = registry.register(registry.ZooEntry(
    name="wavenet_fsdd",
    builder=build_wavenet,
    task="fsdd_wavenet",
    presets=presets(),
    inputs=(WAVEFORM, DIGIT),
    outputs=OUTPUTS,
    serving_fn=serving_fn,
    example_inputs=example_inputs,
    paper_result=("van den Oord et al. 2016 report no bits per sample; our baselines on the FSDD validation "
                  "recordings: mu-law unigram and sample-to-sample bigram (training/tasks/fsdd_wavenet.py)"),
    weights_sha256="36c87e57e6f1777f8533fadaae9977eebec61b5c25f9a585a8c94dd5e7b8c8b0",
    summary="WaveNet (dilated causal convolutions, gated units, mu-law 256 softmax), conditioned on the digit; "
            "fast cached generation in the graph (Paine et al. 2016), spoken digits",
    extra_signatures={"generate": generate_fn},
    extra_signature_inputs={"generate": GENERATE_INPUTS},
))
