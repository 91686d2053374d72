"""BilinearSampler vs TF's native ImageProjectiveTransformV3 vs a four-gather sampler.

    python benchmarks/sampler.py [--repeats 20]

Forward, and forward + backward (gradients to the image and to theta), in
eager mode, under `tf.function` and under `jit_compile=True`, at
64x60x60 -> 60x60 and 256x42x42 -> 42x42 (one channel). All timings of a
case come from one run, interleaved; ratios are to the native op's forward
(which gives no gradient to theta and does not compile with XLA).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from custom_layers import BilinearSampler, SamplingGrid  # noqa: E402


def four_gather_sampler(images, grid):
    """The straightforward sampler: four `gather_nd` calls, zeros outside."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    x = ((grid[..., 0] + 1.0) * tf.cast(width, tf.float32) - 1.0) / 2.0
    y = ((grid[..., 1] + 1.0) * tf.cast(height, tf.float32) - 1.0) / 2.0
    x0, y0 = tf.floor(x), tf.floor(y)
    batch = tf.broadcast_to(
        tf.range(tf.shape(images)[0])[:, None, None], tf.shape(x0)
    )
    out = 0.0
    for dx in (0.0, 1.0):
        for dy in (0.0, 1.0):
            cx, cy = x0 + dx, y0 + dy
            weight = (1.0 - tf.abs(x - cx)) * (1.0 - tf.abs(y - cy))
            inside = (cx >= 0) & (cx <= tf.cast(width - 1, tf.float32)) & (cy >= 0) & (
                cy <= tf.cast(height - 1, tf.float32))
            index = tf.stack([batch, tf.cast(tf.clip_by_value(cy, 0.0, tf.cast(height - 1, tf.float32)), tf.int32),
                              tf.cast(tf.clip_by_value(cx, 0.0, tf.cast(width - 1, tf.float32)), tf.int32)], -1)
            out += tf.gather_nd(images, index) * (weight * tf.cast(inside, tf.float32))[..., None]
    return out


def native_forward(images, theta):
    """ImageProjectiveTransformV3 with the same output -> input map, in pixels."""
    size = tf.cast(tf.shape(images)[1], tf.float32)
    a, b = theta[:, :3], theta[:, 3:]
    # normalised -> pixel: p = (n * size + size - 1) / 2; compose both sides
    scale, shift = size / 2.0, (size - 1.0) / 2.0
    row0 = tf.stack([a[:, 0], a[:, 1], scale * a[:, 2] + shift - shift * (a[:, 0] + a[:, 1])], -1)
    row1 = tf.stack([b[:, 0], b[:, 1], scale * b[:, 2] + shift - shift * (b[:, 0] + b[:, 1])], -1)
    transforms = tf.concat([row0, row1, tf.zeros_like(row0[:, :2])], -1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sampler = BilinearSampler()
    for batch, size in ((64, 60), (256, 42)):
        images = tf.constant(rng.random((batch, size, size, 1)), tf.float32)
        theta = tf.constant(np.tile([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], (batch, 1))
                            + rng.normal(0, 0.1, (batch, 6)), tf.float32)
        grid_layer = SamplingGrid((size, size))

        def ours(images, theta):
            return sampler([images, grid_layer(theta)])

        def gathers(images, theta):
            return four_gather_sampler(images, grid_layer(theta))

        def with_gradients(fn):
            def run(images, theta):
                with tf.GradientTape() as tape:
                    tape.watch([images, theta])
                    loss = tf.reduce_sum(fn(images, theta) ** 2)
                return tape.gradient(loss, [images, theta])
            return run

        cases = {"native op forward": (native_forward, [("eager", False), ("tf.function", None)])}
        for name, fn in (("ours", ours), ("four gather_nd", gathers)):
            cases[f"{name} forward"] = (fn, [("eager", False), ("tf.function", None), ("XLA", True)])
            cases[f"{name} forward+backward"] = (
                with_gradients(fn), [("eager", False), ("tf.function", None), ("XLA", True)])
        timings = {}
        for case, (fn, modes) in cases.items():
            for mode, jit in modes:
                run = fn if jit is False else tf.function(fn, jit_compile=bool(jit))
                timings[(case, mode)] = median_ms(lambda: run(images, theta), args.repeats)
        reference = timings[("native op forward", "tf.function")]
        print(f"\n{batch}x{size}x{size} -> {size}x{size}, medians of {args.repeats} "
              f"(ratio to the native op's forward under tf.function, {reference:.2f} ms)")
        for (case, mode), ms in timings.items():
            print(f"  {case:28s} {mode:12s} {ms:9.2f} ms  x{ms / reference:6.2f}")


if __name__ == "__main__":
    main()
