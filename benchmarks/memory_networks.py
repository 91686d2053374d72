"""Memory networks: training time per epoch and exported answers per second.

    python benchmarks/memory_networks.py [--data-dir DIR] [--batch 256] [--steps 20]
        [--repeats 5] [--models memn2n_babi vqa_shapes ...]

For each model: `--steps` training steps (`train_on_batch`, Adam, compiled
as `specialnets train` compiles it: with XLA where the preset says
`jit_compile`) on real batches of its `paper` preset's size, timed
interleaved with the other models after a warm-up step; the median step
times the preset's steps per epoch gives the epoch time. Presets that
train with XLA are also timed without it: the ratio is XLA's speed-up. Then
each model is exported (pretrained weights) to a temporary directory,
loaded with `tf.saved_model.load`, and its `serving_default` is timed on a
batch of `--batch` held-out questions as strings (validation split):
answers per second. The bAbI models need the data directory (`--data-dir`
or $SPECIALNETS_DATA); without it they are skipped. The machine is shared
and noisy: compare the ratios printed in one run.
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
from training import tasks  # noqa: E402

MODELS = ("memn2n_babi", "memn2n_babi_10k", "babi_lstm_baseline", "vqa_shapes", "vqa_shapes_1hop")


def training_probe(entry, data_dir, steps, jit_compile):
    """(a function running one training step on the next real batch, steps per epoch)."""
    preset = entry.preset("paper")
    task = tasks.get(entry.task)
    model = entry.builder(**preset.model)
    model.compile(optimizer=keras.optimizers.Adam(preset.learning_rate), jit_compile=jit_compile,
                  **task.compile_arguments())
    ds = task.dataset("train", data_dir=data_dir, batch_size=preset.batch_size, **preset.task)
    batches = list(ds.take(steps + 1).as_numpy_iterator())
    per_epoch = int(ds.cardinality())
    position = [0]

    def step():
        x, y = batches[position[0] % len(batches)]
        position[0] += 1
        model.train_on_batch(x, y)

    return step, per_epoch


def serving_probe(entry, data_dir, batch, base):
    signature = tf.saved_model.load(str(export.export(entry.name, base=base))).signatures["serving_default"]
    inputs, _ = tasks.get(entry.task).held_out("validation", data_dir=data_dir, **entry.preset("paper").task)
    rows = np.arange(batch) % len(next(iter(inputs.values())))
    tensors = {k: tf.constant(v[rows].astype(str) if v.dtype == object else v[rows])
               for k, v in inputs.items()}
    return lambda: signature(**tensors)


def timed(probes, repeats):
    for run in probes.values():
        run()  # warm up: tracing
    timings = {name: [] for name in probes}
    for _ in range(repeats):
        for name, run in probes.items():
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in timings.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(tasks.DATA_ENV))
    parser.add_argument("--models", nargs="+", default=[m for m in MODELS if m in zoo.names()])
    parser.add_argument("--batch", type=int, default=256, help="questions per serving call")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--repeats", type=int, default=5, help="timed serving calls per model")
    args = parser.parse_args()
    unknown = set(args.models) - set(zoo.names())
    if unknown:
        raise SystemExit(f"--models: unknown zoo models {sorted(unknown)}; expected some of {zoo.names()}.")
    models = []
    for name in args.models:
        entry = zoo.get(name)
        if tasks.get(entry.task).needs_data and not args.data_dir:
            print(f"  {name}: skipped (no --data-dir or ${tasks.DATA_ENV})")
        else:
            models.append(entry)
    train_steps, per_epoch, serving = {}, {}, {}
    with tempfile.TemporaryDirectory() as base:
        for entry in models:
            xla = entry.preset("paper").jit_compile
            train_steps[entry.name], per_epoch[entry.name] = training_probe(
                entry, args.data_dir, args.steps, True if xla else "auto")
            if xla:
                train_steps[f"{entry.name} no XLA"], _ = training_probe(entry, args.data_dir, args.steps, False)
            serving[entry.name] = serving_probe(entry, args.data_dir, args.batch, base)
            print(f"  {entry.name} ready", flush=True)
        step = timed(train_steps, args.steps)
        answer = timed(serving, args.repeats)
    print(f"\ntraining: median of {args.steps} interleaved steps at the paper preset's batch size; "
          f"serving: median of {args.repeats} calls of {args.batch} string questions")
    print(f"{'model':20s} {'batch':>5s} {'steps/epoch':>11s} {'step ms':>8s} {'epoch s':>8s} | "
          f"{'answers/s':>9s}")
    print("-" * 72)
    for entry in models:
        name = entry.name
        print(f"{name:20s} {entry.preset('paper').batch_size:5d} {per_epoch[name]:11d} "
              f"{1000 * step[name]:8.1f} {per_epoch[name] * step[name]:8.0f} | "
              f"{args.batch / answer[name]:9.0f}")
    for entry in models:
        plain = step.get(f"{entry.name} no XLA")
        if plain:
            print(f"{entry.name}: a training step takes {1000 * plain:.1f} ms without XLA, "
                  f"{plain / step[entry.name]:.2f}x the time with it")


if __name__ == "__main__":
    main()
