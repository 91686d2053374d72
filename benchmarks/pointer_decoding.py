"""Pointer networks: exported greedy vs beam-4 decoding, and one training step.

    python benchmarks/pointer_decoding.py [--weights NAME=PATH ...] [--sizes 10 20 50]
        [--batch 256] [--repeats 7]

Exports `pointer_sort`, `pointer_hull` and `pointer_tsp` to a temporary
directory (pretrained weights, or the `.weights.h5` given as
`--weights pointer_hull=runs/pointer_hull-paper/final.weights.h5`), loads
each SavedModel with `tf.saved_model.load` and times its `greedy` and
`beam4` signatures on a batch of uniform instances of each size n, and
`model.train_on_batch` (Adam, the task's loss, as `specialnets train`
compiles it) on the same batch with its targets in the decoder's order
(TSP: a random tour, as a step costs the same whatever the tour). All
timings of one (task, n) come from one run, interleaved, after a warm-up
call each (tracing); medians are printed as instances/s, with the ratio
beam4 / greedy of the times. The machine is shared and noisy: compare
ratios, not absolute rates across runs.
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
from training.tasks.pointer import generators as pointer_tasks  # noqa: E402
from training.tasks.pointer import pipeline as pointer_data  # noqa: E402

KINDS = ("sort", "hull", "tsp")


def instances(kind, n, batch, rng):
    """Inputs {name: [batch, n(, 2)]} and targets [batch, T] in the decoder's order."""
    name = pointer_data.INPUT_NAMES[kind]
    if kind == "sort":
        values = rng.random((batch, n)).astype(np.float32)
        return {name: values}, np.argsort(values, axis=1).astype(np.int32)
    points = rng.random((batch, n, 2)).astype(np.float32)
    if kind == "tsp":
        return {name: points}, np.stack([rng.permutation(np.arange(1, n)) for _ in range(batch)]
                                        ).astype(np.int32)
    targets = [pointer_data.training_target("hull", p, pointer_tasks.convex_hull(p)) for p in points]
    targets = np.stack(targets)
    return {name: points}, targets[:, :int((targets >= 0).sum(axis=1).max())]


def parse_weights(items):
    weights = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or name not in [f"pointer_{k}" for k in KINDS]:
            raise SystemExit(f"--weights takes pointer_{{sort,hull,tsp}}=PATH; received {item!r}.")
        weights[name] = path
    for kind in KINDS:
        name = f"pointer_{kind}"
        if name not in weights:
            if not zoo.get(name).weights_path.exists():
                raise SystemExit(f"No pretrained weights for {name}: pass --weights {name}=PATH.")
            weights[name] = "pretrained"
    return weights


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="*", metavar="NAME=PATH",
                        help="a .weights.h5 per model (default: pretrained)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    weights = parse_weights(args.weights)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as base:
        for kind in KINDS:
            name = f"pointer_{kind}"
            entry = zoo.get(name)
            signatures = tf.saved_model.load(
                str(export.export(name, weights[name], base=base))).signatures
            model = export.load_model(entry, weights[name])
            model.compile(optimizer=keras.optimizers.Adam(1e-4),
                          **tasks.get(entry.task).compile_arguments())
            for n in args.sizes:
                inputs, targets = instances(kind, n, args.batch, rng)
                tensors = {k: tf.constant(v) for k, v in inputs.items()}
                batch = {**inputs, "targets": targets}
                paths = {
                    "greedy": lambda: signatures["greedy"](**tensors),
                    "beam4": lambda: signatures["beam4"](**tensors),
                    "train step": lambda: model.train_on_batch(batch, targets),
                }
                timings = {path: [] for path in paths}
                for run in paths.values():
                    run()  # warm up: tracing
                for _ in range(args.repeats):
                    for path, run in paths.items():
                        start = time.perf_counter()
                        run()
                        timings[path].append(time.perf_counter() - start)
                medians = {path: statistics.median(t) for path, t in timings.items()}
                rows.append((name, n, targets.shape[1], medians))
                print(f"  {name} n={n} done", flush=True)
    print(f"\nbatch {args.batch}, medians of {args.repeats} interleaved repeats "
          f"(weights: {', '.join(f'{k}={v}' for k, v in weights.items())})")
    print(f"{'model':13s} {'n':>3s} {'T':>3s} | {'greedy inst/s':>13s} {'beam4 inst/s':>12s} "
          f"{'beam4/greedy':>12s} | {'train step ms':>13s} {'train inst/s':>12s}")
    print("-" * 92)
    for name, n, steps, m in rows:
        print(f"{name:13s} {n:3d} {steps:3d} | {args.batch / m['greedy']:13.0f} "
              f"{args.batch / m['beam4']:12.0f} {m['beam4'] / m['greedy']:11.2f}x | "
              f"{1000 * m['train step']:13.1f} {args.batch / m['train step']:12.0f}")


if __name__ == "__main__":
    main()
