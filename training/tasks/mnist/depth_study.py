"""Depth study of the paper's Fig. 1: plain vs highway vs residual nets.

Every network has the same width, optimizer (SGD with momentum 0.9), batch
size, seed and number of epochs; only the kind of layer and the depth change.
As in the paper, each configuration is trained with every setting of a small
hyperparameter search (learning rate, activation, and for highway nets the
initial transform gate bias; the paper searched these and more, 40 runs per
configuration) and the run with the lowest final training loss is reported.
Prints a Markdown table of final training loss and validation error (and the
learning rate that gave them), and writes every curve to a JSON file.

    python -m training.tasks.mnist.depth_study --data-dir DIR [--epochs 20] [--out FILE]
"""

import argparse
import itertools
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from training.tasks import mnist as mnist_tasks  # noqa: E402
from training.train import atomic_write_text  # noqa: E402
from zoo.highway_mnist import build_highway_mnist  # noqa: E402


def run(kind, depth, width, epochs, learning_rate, data_dir, seed, cache_dir,
        transform_bias, activation):
    train = mnist_tasks.mnist_dataset("train", data_dir, seed=seed, cache_dir=cache_dir)
    val = mnist_tasks.mnist_dataset("validation", data_dir, cache_dir=cache_dir)
    keras.utils.set_random_seed(seed)
    model = build_highway_mnist(depth=depth, width=width, kind=kind,
                                transform_bias=transform_bias, activation=activation)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=0).history
    return {
        "kind": kind,
        "activation": activation,
        "transform_bias": transform_bias if kind == "highway" else None,
        "learning_rate": learning_rate,
        "depth": depth,
        "train_loss": history["loss"],
        "val_error": [1 - a for a in history["val_sparse_categorical_accuracy"]],
        "seconds": time.perf_counter() - start,
    }


def _loss_key(loss):
    return float("inf") if loss != loss else loss  # NaN (diverged) ranks last


def _setting(result):
    bias = "" if result["transform_bias"] is None else f", b {result['transform_bias']:g}"
    return f"{result['activation']}, lr {result['learning_rate']:g}{bias}"


def _number(x):
    return "nan" if x != x else f"{x:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--kinds", nargs="+", default=["plain", "highway", "residual"])
    parser.add_argument("--transform-biases", type=float, nargs="+", default=[-2.0, -4.0],
                        help="initial transform gate biases searched for highway nets")
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--activations", nargs="+", default=["relu", "tanh"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default="runs/tfds")
    parser.add_argument("--out", default="runs/depth_study.json")
    args = parser.parse_args(argv)

    results = []
    for depth in args.depths:
        for kind in args.kinds:
            biases = args.transform_biases if kind == "highway" else [0.0]
            for activation, bias, learning_rate in itertools.product(
                args.activations, biases, args.learning_rates
            ):
                result = run(kind, depth, args.width, args.epochs, learning_rate,
                             args.data_dir, args.seed, args.cache_dir, bias, activation)
                results.append(result)
                print(f"{kind:9s} depth {depth:3d} {_setting(result):22s}: train loss "
                      f"{_number(result['train_loss'][-1])}, val error "
                      f"{result['val_error'][-1]:.2%} ({result['seconds']:.0f} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps({"args": vars(args), "runs": results}, indent=1))
    print("\n| depth | " + " | ".join(f"{k}: train loss / val error" for k in args.kinds) + " |")
    print("|---|" + "---|" * len(args.kinds))
    for depth in args.depths:
        cells = []
        for kind in args.kinds:
            runs = [r for r in results if r["kind"] == kind and r["depth"] == depth]
            best = min(runs, key=lambda r: _loss_key(r["train_loss"][-1]))
            cells.append(f"{_number(best['train_loss'][-1])} / {best['val_error'][-1]:.2%} "
                         f"({_setting(best)})")
        print(f"| {depth} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
