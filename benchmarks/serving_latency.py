"""Exported SavedModel forward vs `model.predict_on_batch` vs one REST round trip.

    python benchmarks/serving_latency.py [--model highway_mnist] [--repeats 30]

Measures all paths in one run, interleaved, on the same inputs, and prints
medians and ratios to the SavedModel forward (this machine is shared and
noisy: compare ratios, not milliseconds across runs).
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from exports import demo, export  # noqa: E402


def batch_of(entry, size):
    examples = entry.example_inputs()
    return {k: np.resize(v, (size,) + v.shape[1:]) for k, v in examples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="highway_mnist")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    entry = zoo.get(args.model)
    with tempfile.TemporaryDirectory() as base:
        path = export.export(args.model, base=base)
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        model = entry.load_pretrained()
        process, url = demo.start_server(base)
        client = httpx.Client(timeout=120)
        try:
            print(f"{args.model}, {args.repeats} repeats, medians in ms "
                  f"(ratio to the SavedModel forward)")
            for size in args.batches:
                inputs = batch_of(entry, size)
                tensors = {k: tf.constant(v) for k, v in inputs.items()}
                body = {"inputs": {k: v.tolist() for k, v in inputs.items()}}
                paths = {
                    "SavedModel forward": lambda: signature(**tensors),
                    "Keras predict_on_batch": lambda: model.predict_on_batch(inputs),
                    "REST round trip": lambda: client.post(
                        f"{url}/v1/models/{args.model}:predict", json=body
                    ).raise_for_status(),
                }
                timings = {name: [] for name in paths}
                for run in paths.values():
                    run()  # warm up: tracing, first allocation, connection
                for _ in range(args.repeats):
                    for name, run in paths.items():
                        start = time.perf_counter()
                        run()
                        timings[name].append((time.perf_counter() - start) * 1000)
                medians = {name: statistics.median(t) for name, t in timings.items()}
                base_ms = medians["SavedModel forward"]
                for name, ms in medians.items():
                    print(f"  batch {size:4d}  {name:24s} {ms:9.2f} ms  x{ms / base_ms:6.2f}")
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
