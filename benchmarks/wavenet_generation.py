"""WaveNet generation: samples per second, cached (Paine et al. 2016) vs naive.

    python benchmarks/wavenet_generation.py [--samples 2000] [--naive-samples 40] [--repeats 3]
        [--weights pretrained|PATH|fresh] [--no-xla] [--layer-steps]

`wavenet_fsdd`'s `paper` network (pretrained weights when present, else a
fresh one: the speed does not depend on the weights) generates one stream
(batch 1, digit 7) with `zoo.wavenet.generate`: the cached algorithm (the
fused `FastSteps`: a sample costs O(blocks)) and the naive one (the whole
receptive field, 2,175 samples, recomputed for every sample), with the same
random draws. `--layer-steps` also times the cached loop as it was before
`FastSteps`: each block's own `step`, which shifts its queue every step
(the same samples). Each loop runs as the `tf.while_loop` graph the export
holds ("graph"), and compiled with XLA ("xla", unless `--no-xla`); after a
warm-up, the loops are timed `--repeats` times each, interleaved, and the
median rates and the cached / naive ratio are printed. The naive loop is
timed over fewer samples (`--naive-samples`): its window is always the whole
receptive field, so each of its steps costs the same. The machine is shared
and noisy: compare the figures printed in one run.
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


def generate_with_layer_steps(model, digit, num_samples):
    """`wavenet.generate(cached=True)` before `FastSteps`: `WaveNet.step`, each block's own step."""
    net = wavenet.network(model)
    batch = tf.shape(digit)[0]
    condition = net.condition(digit)
    uniforms = tf.random.stateless_uniform(tf.stack([num_samples, batch]), seed=wavenet.GENERATION_SEED,
                                         alg="philox")
    first = tf.fill([batch], wavenet.SILENCE)
    codes = tf.TensorArray(tf.int32, size=tf.maximum(num_samples, 1), element_shape=[None]).write(0, first)

    def body(t, code, caches, codes):
        logits, caches = net.step(code, caches, condition)
        code = wavenet._sample(logits, uniforms[t + 1])
        return t + 1, code, caches, codes.write(t + 1, code)

    state = (tf.constant(0), first, net.initial_caches(batch), codes)
    state = tf.while_loop(lambda t, *_: t < num_samples - 1, body, state, parallel_iterations=1)
    return tf.transpose(state[-1].stack()[:num_samples])


def rates(loops, repeats, jit_compile):
    """{name: median samples per second of one stream} for `loops` {name: (generate, samples)},
    timed `repeats` times each, interleaved, after a warm-up."""
    digit, runs, times = tf.constant([7], tf.int32), {}, {name: [] for name in loops}
    for name, (generate, samples) in loops.items():
        run = tf.function(tf.autograph.experimental.do_not_convert(generate), jit_compile=jit_compile)
        runs[name] = run, tf.constant(samples, tf.int32)
        run(digit, runs[name][1])  # trace and compile (XLA compiles for this num_samples)
    for _ in range(repeats):
        for name, (run, n) in runs.items():
            start = time.perf_counter()
            run(digit, n).numpy()
            times[name].append(time.perf_counter() - start)
    return {name: loops[name][1] / statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per cached run")
    parser.add_argument("--naive-samples", type=int, default=40, help="samples per naive run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default="pretrained", help="pretrained, a .weights.h5, or fresh")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="time the graph only")
    parser.add_argument("--layer-steps", action="store_true",
                        help="also time the cached loop on the blocks' own steps (before FastSteps)")
    args = parser.parse_args(argv)
    model, what = load(args.weights)
    field = wavenet.network(model).receptive_field
    print(f"wavenet_fsdd paper network ({what}), receptive field {field} samples, one stream, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()} threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    loops = {"cached": (lambda d, n: wavenet.generate(model, d, n), args.samples),
             "naive": (lambda d, n: wavenet.generate(model, d, n, cached=False), args.naive_samples)}
    if args.layer_steps:
        loops["layer steps"] = (lambda d, n: generate_with_layer_steps(model, d, n), args.samples)
    for mode, jit in (("graph", False), ("xla", True))[: 2 if args.xla else 1]:
        rate = rates(loops, args.repeats, jit)
        line = (f"{mode:5s}  cached {rate['cached']:10.1f} samples/s   naive {rate['naive']:8.2f} samples/s   "
                f"ratio {rate['cached'] / rate['naive']:7.1f}x")
        if args.layer_steps:
            line += (f"   layer steps {rate['layer steps']:8.1f} samples/s "
                     f"(fused {rate['cached'] / rate['layer steps']:.2f}x)")
        print(line + "   (real time: 8000 samples/s)", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
