"""BilinearSampler vs kevinzakka's sampler vs TF's native ImageProjectiveTransformV3.

    python benchmarks/sampler.py [--repeats 20]

"ours" is `SamplingGrid` + `BilinearSampler`; "peer" is `SamplingGrid` +
the `bilinear_sampler` of github.com/kevinzakka/spatial-transformer-network
(TensorFlow), written here from its published algorithm: [-1, 1] mapped
onto [0, W - 2] pixels, four `gather_nd`, indices clipped before the
weights are computed (so its values are not ours: the timings compare
equal work, not equal results); "native" is
`ImageProjectiveTransformV3`, which has no gradient for theta and does not
compile with XLA; "fused" is what `SpatialTransformer` runs in inference
outside XLA for an affine theta (`resample_native`: that same kernel, its
pixel map composed from theta; forward without XLA only); "grid" is
`SamplingGrid` alone, part of both "ours" and "peer"; "gather" and
"patch" are the fetches of a sampler alone, without its arithmetic
(`fetch_floors`): the grid, and four gathers of one pixel per point or one
gather of each point's 2x2 patch, their indices computed beforehand.
Forward, and forward + backward (gradients to the image and to theta), at
64x60x60 -> 60x60 and 256x42x42 -> 42x42, one channel.
Every path of a case is timed in one loop: each repeat runs each path once,
in an order rotated by one per repeat, and waits for its result
(`.numpy()`); the ratios printed come from those same medians, for ours
and, beside them, for the fetches alone: a floor for the bars.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # one tf.function per path: retracing warnings are expected

from custom_layers import BilinearSampler, SamplingGrid  # noqa: E402
from custom_layers.bilinear_sampler import pixel_coordinates  # noqa: E402
from custom_layers.native_resampling import resample_native  # noqa: E402


def peer_sampler(images, x, y):
    """kevinzakka's `bilinear_sampler(img, x, y)`, from its published algorithm."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    max_x, max_y = width - 1, height - 1
    x = 0.5 * ((x + 1.0) * tf.cast(max_x - 1, tf.float32))
    y = 0.5 * ((y + 1.0) * tf.cast(max_y - 1, tf.float32))
    x0 = tf.clip_by_value(tf.cast(tf.floor(x), tf.int32), 0, max_x)
    x1 = tf.clip_by_value(tf.cast(tf.floor(x), tf.int32) + 1, 0, max_x)
    y0 = tf.clip_by_value(tf.cast(tf.floor(y), tf.int32), 0, max_y)
    y1 = tf.clip_by_value(tf.cast(tf.floor(y), tf.int32) + 1, 0, max_y)
    shape = tf.shape(x)
    batch = tf.tile(tf.reshape(tf.range(shape[0]), (-1, 1, 1)), (1, shape[1], shape[2]))

    def pixels(xs, ys):
        return tf.gather_nd(images, tf.stack([batch, ys, xs], 3))

    values = [pixels(x0, y0), pixels(x0, y1), pixels(x1, y0), pixels(x1, y1)]
    x0, x1, y0, y1 = (tf.cast(v, tf.float32) for v in (x0, x1, y0, y1))
    weights = [(x1 - x) * (y1 - y), (x1 - x) * (y - y0), (x - x0) * (y1 - y), (x - x0) * (y - y0)]
    return tf.add_n([w[..., None] * v for w, v in zip(weights, values)])


def fetch_floors(images, grid, grid_layer):
    """The fetches of a sampler made of TF ops without its arithmetic, as
    functions of (images, theta): the four corners of each point of `grid`
    (indices computed here, beforehand) gathered one pixel at a time, or
    each point's 2x2 patch in one gather from patches of the image; the sum
    of the fetched pixels times the sum of the grid, so that the grid is
    computed and both have a gradient."""
    batch, height, width = images.shape[:3]
    x, y = (np.clip(np.floor(pixel_coordinates(grid[..., axis], size, False).numpy()), 0, size - 2).astype("int32")
            for axis, size in ((0, width), (1, height)))
    first = np.arange(batch)[:, None, None]
    top_left = tf.constant((first * height + y) * width + x)
    corners = [top_left, top_left + 1, top_left + width, top_left + width + 1]
    patch = tf.constant((first * (height - 1) + y) * (width - 1) + x)

    def scaled(pixels, theta):
        return pixels * tf.reduce_sum(grid_layer(theta), -1, keepdims=True)

    def four_gathers(images, theta):
        flat = tf.reshape(images, (-1, 1))
        return scaled(tf.add_n([tf.gather(flat, corner) for corner in corners]), theta)

    def patch_gather(images, theta):
        patches = tf.stack([images[:, :-1, :-1], images[:, :-1, 1:], images[:, 1:, :-1], images[:, 1:, 1:]], -1)
        return scaled(tf.reduce_sum(tf.gather(tf.reshape(patches, (-1, 4)), patch), -1, keepdims=True), theta)

    return four_gathers, patch_gather


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


def with_gradients(fn):
    def run(images, theta):
        with tf.GradientTape() as tape:
            tape.watch([images, theta])
            loss = tf.reduce_sum(fn(images, theta) ** 2)
        return tape.gradient(loss, [images, theta])
    return run


def interleaved_medians(paths, repeats):
    """Median ms of each path; repeat r runs every path once, starting at path r."""
    names = list(paths)
    for name in names:  # trace, compile, warm up
        paths[name]()
        paths[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            paths[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: (statistics.median(t), *np.percentile(t, [25, 75])) for name, t in times.items()}


def case_paths(batch, size, rng):
    images = tf.constant(rng.random((batch, size, size, 1)), tf.float32)
    theta = tf.constant(np.tile([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], (batch, 1))
                        + rng.normal(0, 0.1, (batch, 6)), tf.float32)
    grid_layer, sampler = SamplingGrid((size, size)), BilinearSampler()

    def ours(images, theta):
        return sampler([images, grid_layer(theta)])

    def peer(images, theta):
        grid = grid_layer(theta)
        return peer_sampler(images, grid[..., 0], grid[..., 1])

    def timed(fn, mode):
        run = fn if mode == "eager" else tf.function(fn, jit_compile=mode == "XLA")
        return lambda: tf.nest.map_structure(lambda t: t.numpy(), run(images, theta))

    paths = {("native", "forward", "tf.function"): timed(native_forward, "tf.function"),
             ("fused", "forward", "tf.function"): timed(
                 lambda images, theta: resample_native(images, theta, grid_layer, sampler), "tf.function"),
             ("grid", "forward", "tf.function"): timed(lambda images, theta: grid_layer(theta), "tf.function"),
             ("ours", "forward", "eager"): timed(ours, "eager")}
    for name, fn in (("ours", ours), ("peer", peer)):
        for mode in ("tf.function", "XLA"):
            paths[(name, "forward", mode)] = timed(fn, mode)
            paths[(name, "forward+backward", mode)] = timed(with_gradients(fn), mode)
    gathers, patches = fetch_floors(images, grid_layer(theta).numpy(), grid_layer)
    for name, fn in (("gather", gathers), ("patch", patches)):
        for direction, mode in (("forward", "tf.function"), ("forward", "XLA"), ("forward+backward", "XLA")):
            paths[(name, direction, mode)] = timed(with_gradients(fn) if direction != "forward" else fn, mode)
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for batch, size in ((64, 60), (256, 42)):
        ms = interleaved_medians(case_paths(batch, size, rng), args.repeats)
        print(f"\n{batch}x{size}x{size} -> {size}x{size}, medians of {args.repeats}, interleaved "
              "(25th-75th percentile)")
        for (name, direction, mode), (median, low, high) in ms.items():
            print(f"  {name:6s} {direction:16s} {mode:11s} {median:8.2f} ms  ({low:.2f}-{high:.2f})")
        for label, (direction, mode), reference, goal in (
            ("forward+backward, XLA: / peer", ("forward+backward", "XLA"), "peer", 1 / 3),
            ("forward, XLA: / peer", ("forward", "XLA"), "peer", 1.0),
            ("forward, tf.function: / native", ("forward", "tf.function"), "native", 1.5),
        ):
            ratios = {name: ms[(name, direction, mode)][0] / ms[(reference, "forward", mode) if reference == "native"
                                                              else (reference, direction, mode)][0]
                      for name in ("ours", "gather", "patch")}
            met = "met" if ratios["ours"] <= goal else "NOT met"
            print(f"  {label:32s} ours {ratios['ours']:5.2f} (goal <= {goal:.2f}: {met}); fetches alone: "
                  f"four gathers {ratios['gather']:5.2f}, one patch gather {ratios['patch']:5.2f}")
        fused = ms[("fused", "forward", "tf.function")][0] / ms[("native", "forward", "tf.function")][0]
        print(f"  {'forward, tf.function: / native':32s} SpatialTransformer's inference path (fused kernel) "
              f"{fused:5.2f} (goal <= 1.50: {'met' if fused <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
