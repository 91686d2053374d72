"""Depth study of the paper's Fig. 1: plain vs highway vs residual nets.

Every network has the same width, optimizer (SGD with momentum 0.9), batch
size, seed and number of epochs; only the kind of layer and the depth change.
As in the paper, each configuration is trained with every learning rate of
a small sweep and the run with the lowest final training loss is reported.
Prints a Markdown table of final training loss and validation error (and the
learning rate that gave them), and writes every curve to a JSON file.

    python -m training.depth_study --data-dir DIR [--epochs 20] [--out FILE]
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from training import tasks  # noqa: E402
from training.train import atomic_write_text  # noqa: E402
from zoo.highway_mnist import build_highway_mnist  # noqa: E402


def run(kind, depth, width, epochs, learning_rate, data_dir, seed, cache_dir, transform_bias):
    train = tasks.mnist_dataset("train", data_dir, seed=seed, cache_dir=cache_dir)
    val = tasks.mnist_dataset("validation", data_dir, cache_dir=cache_dir)
    keras.utils.set_random_seed(seed)
    model = build_highway_mnist(depth=depth, width=width, kind=kind,
                                transform_bias=transform_bias)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=0).history
    return {
        "kind": kind if kind != "highway" else f"highway b={transform_bias:g}",
        "depth": depth,
        "train_loss": history["loss"],
        "val_error": [1 - a for a in history["val_sparse_categorical_accuracy"]],
        "seconds": time.perf_counter() - start,
    }


def _loss_key(loss):
    return float("inf") if loss != loss else loss  # NaN (diverged) ranks last


def _number(x):
    return "nan" if x != x else f"{x:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--kinds", nargs="+", default=["plain", "highway", "residual"])
    parser.add_argument("--transform-biases", type=float, nargs="+", default=[-2.0, -4.0],
                        help="initial gate biases of the highway nets (one run each)")
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.1, 0.01, 0.001])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default="runs/tfds")
    parser.add_argument("--out", default="runs/depth_study.json")
    args = parser.parse_args(argv)

    variants = [(k, b) for k in args.kinds
                for b in (args.transform_biases if k == "highway" else [0.0])]
    results = []
    for depth in args.depths:
        for kind, bias in variants:
            for learning_rate in args.learning_rates:
                result = run(kind, depth, args.width, args.epochs, learning_rate,
                             args.data_dir, args.seed, args.cache_dir, bias)
                result["learning_rate"] = learning_rate
                results.append(result)
                print(f"{result['kind']:14s} depth {depth:3d} lr {learning_rate:g}: train loss "
                      f"{_number(result['train_loss'][-1])}, val error "
                      f"{result['val_error'][-1]:.2%} ({result['seconds']:.0f} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps({"args": vars(args), "runs": results}, indent=1))
    kinds = list(dict.fromkeys(r["kind"] for r in results))
    print("\n| depth | " + " | ".join(f"{k}: train loss / val error" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for depth in args.depths:
        cells = []
        for kind in kinds:
            runs = [r for r in results if r["kind"] == kind and r["depth"] == depth]
            best = min(runs, key=lambda r: _loss_key(r["train_loss"][-1]))
            cells.append(f"{_number(best['train_loss'][-1])} / {best['val_error'][-1]:.2%} "
                         f"(lr {best['learning_rate']:g})")
        print(f"| {depth} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
