"""One NTM copy training step, eager / tf.function / XLA, and exported throughput.

    python benchmarks/ntm_step.py [--steps 10] [--repeats 3] [--lengths 20 80]

The step of the issue's anchor: an LSTM controller of 100 units, a 128 x 20
memory, one read and one write head, batch 32, copy sequences of length 20
(41 steps through the cell), binary cross-entropy, Adam with gradient
clipping. Each mode is timed interleaved with the others (`--repeats`
rounds of `--steps` steps after a warm-up), and the medians are printed
beside MarkPKCollier's TF1 NTM, which took 505 ms for that step on this
machine (96 ms forward alone). Then `ntm_copy` is exported (pretrained
weights when present, else the fresh model) and its `serving_default` timed
at each of `--lengths`: sequences per second at batch 32. The machine is
shared and noisy: compare the ratios printed in one run.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from exports import export  # noqa: E402
from zoo.ntm_copy import build_copy_model  # noqa: E402

ANCHOR_MS = 505.0


def step_function(mode, bits):
    model = build_copy_model(units=100, memory_size=128, memory_width=20)
    optimizer = keras.optimizers.Adam(1e-3, clipnorm=10.0)
    loss_fn = keras.losses.BinaryCrossentropy()

    def step(x):
        with tf.GradientTape() as tape:
            loss = loss_fn(x, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    if mode != "eager":
        step = tf.function(step, jit_compile=mode == "xla")
    step(bits)  # warm-up: trace, compile, build the optimizer
    return lambda: float(step(bits))


def time_modes(steps, repeats):
    bits = tf.constant(np.random.default_rng(0).integers(0, 2, size=(32, 20, 8)).astype("float32"))
    modes = {mode: step_function(mode, bits) for mode in ("eager", "tf.function", "xla")}
    times = {mode: [] for mode in modes}
    for _ in range(repeats):
        for mode, run in modes.items():
            start = time.perf_counter()
            for _ in range(steps):
                run()
            times[mode].append((time.perf_counter() - start) / steps * 1000)
    return {mode: statistics.median(t) for mode, t in times.items()}


def throughput(lengths, repeats):
    entry = zoo.get("ntm_copy")
    with tempfile.TemporaryDirectory() as base:
        weights = "pretrained"
        if not entry.weights_path.exists():  # untrained: the same graph, fresh weights
            weights = os.path.join(base, "fresh.weights.h5")
            entry.build("paper").save_weights(weights)
        path = export.export("ntm_copy", weights=weights, base=base)
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        rates = {}
        for length in lengths:
            bits = tf.constant(np.random.default_rng(length).integers(0, 2, (32, length, 8)).astype("float32"))
            serve(bits=bits)
            start = time.perf_counter()
            for _ in range(repeats):
                serve(bits=bits)
            rates[length] = 32 * repeats / (time.perf_counter() - start)
        return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=[20, 80])
    args = parser.parse_args()
    medians = time_modes(args.steps, args.repeats)
    print("| mode | ms per step | vs TF1 NTM (505 ms) |\n|---|---|---|")
    for mode, ms in medians.items():
        print(f"| {mode} | {ms:.1f} | {ms / ANCHOR_MS:.2f}x |")
    print("\n| length | exported ntm_copy, sequences/s at batch 32 |\n|---|---|")
    for length, rate in throughput(args.lengths, args.repeats).items():
        print(f"| {length} | {rate:.0f} |")


if __name__ == "__main__":
    main()
