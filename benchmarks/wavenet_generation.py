"""WaveNet generation: samples per second, cached (Paine et al. 2016) vs naive.

    python benchmarks/wavenet_generation.py [--samples 2000] [--naive-samples 40] [--repeats 3]
        [--weights pretrained|PATH|fresh] [--no-xla]

`wavenet_fsdd`'s `paper` network (pretrained weights when present, else a
fresh one: the speed does not depend on the weights) generates one stream
(batch 1, digit 7) with `zoo.wavenet.generate`: the cached algorithm (each
block keeps a queue of its last inputs: a sample costs O(blocks)) and the
naive one (the whole receptive field, 2,175 samples, recomputed for every
sample), with the same random draws. Both run as the `tf.while_loop`
graph the export holds ("graph"), and compiled with XLA ("xla", unless
`--no-xla`), each timed `--repeats` times after a warm-up in the same
run; the median rates and the cached / naive ratio are printed. The naive
loop is timed over fewer samples (`--naive-samples`): its window is always
the whole receptive field, so each of its steps costs the same. The
machine is shared and noisy: compare the ratios printed in one run.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from zoo import wavenet  # noqa: E402


def load(weights):
    entry = zoo.get("wavenet_fsdd")
    if weights == "fresh" or (weights == "pretrained" and not entry.weights_path.exists()):
        return entry.build("paper"), "fresh weights"
    if weights == "pretrained":
        return entry.load_pretrained(), "pretrained weights"
    model = entry.build("paper")
    model.load_weights(weights)
    return model, weights


def rate(model, cached, samples, repeats, jit_compile):
    """Median samples per second of one stream over `repeats` timed runs (after a warm-up)."""
    run = tf.function(lambda d, n: wavenet.generate(model, d, n, cached=cached), jit_compile=jit_compile)
    digit = tf.constant([7], tf.int32)
    n = tf.constant(samples, tf.int32)
    run(digit, n)  # trace and compile (XLA compiles for this num_samples)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(digit, n).numpy()
        times.append(time.perf_counter() - start)
    return samples / statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per cached run")
    parser.add_argument("--naive-samples", type=int, default=40, help="samples per naive run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default="pretrained", help="pretrained, a .weights.h5, or fresh")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="time the graph only")
    args = parser.parse_args(argv)
    model, what = load(args.weights)
    field = wavenet.network(model).receptive_field
    print(f"wavenet_fsdd paper network ({what}), receptive field {field} samples, one stream, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()} threads")
    for mode, jit in (("graph", False), ("xla", True))[: 2 if args.xla else 1]:
        cached = rate(model, True, args.samples, args.repeats, jit)
        naive = rate(model, False, args.naive_samples, args.repeats, jit)
        print(f"{mode:5s}  cached {cached:10.1f} samples/s   naive {naive:8.2f} samples/s   "
              f"ratio {cached / naive:7.1f}x   (real time: 8000 samples/s)", flush=True)


if __name__ == "__main__":
    main()
