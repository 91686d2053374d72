"""The spatial transformer's inference path through TF's fused resampling kernel.

For affine and attention transforms, sampling at `SamplingGrid(theta)` is
what `ImageProjectiveTransformV3` does in one fused C++ kernel (a core TF op,
so TF Serving runs it), about 3x faster than `BilinearSampler`'s gathers
without XLA. That kernel has no XLA kernel, no float64 coordinates and no
gradient for the transform, so it is used only outside XLA, below float64,
and with the gather sampler's exact gradient. TensorFlow is imported only
where the kernel runs: the package loads without it on other backends.
"""

import keras

NATIVE_TRANSFORMS = ("affine", "attention")
FILL_MODES = {"zeros": "CONSTANT", "border": "NEAREST"}


def native_kernel_usable(compute_dtype):
    """Whether the fused kernel can run here: the TensorFlow backend, not
    float64, and not inside an XLA compilation (`jit_compile=True`)."""
    if keras.backend.backend() != "tensorflow" or compute_dtype == "float64":
        return False
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util  # no public API tells "inside jit_compile"

    return not control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _index_to_pixel(source, target, align_corners):
    """(slope, offset) taking an output index along an axis of `target`
    pixels, through normalised coordinates, to pixels of an input axis of
    `source` pixels: `pixel_coordinates` after `output_coordinates`,
    multiplied out so that equal sizes give exactly 1 and 0."""
    if align_corners:
        return (source - 1.0) / max(target - 1, 1), -(source - 1.0) / 2.0
    return source / target, (source / target - source) / 2.0


def pixel_transforms(theta, transform, input_size, output_size, align_corners):
    """The kernel's [B, 8] maps from output pixel (x, y) to input pixel, in
    float32, computed in float64: the identity theta gives exactly the
    identity map when input and output sizes are equal."""
    import tensorflow as tf

    theta = tf.cast(theta, tf.float64)
    if transform == "attention":
        scale, tx, ty = tf.unstack(theta, axis=-1)
        zero = tf.zeros_like(scale)
        rows = ((scale, zero, tx), (zero, scale, ty))
    else:
        a = tf.unstack(theta, axis=-1)
        rows = (a[:3], a[3:])
    height, width = (tf.cast(size, tf.float64) for size in input_size)
    out_height, out_width = output_size
    maps = []
    for (along_x, along_y, shift), source in zip(rows, (width, height)):
        slope_x, offset_x = _index_to_pixel(source, out_width, align_corners)
        slope_y, offset_y = _index_to_pixel(source, out_height, align_corners)
        half = (source - 1.0) / 2.0
        scale = half if align_corners else source / 2.0
        maps += [along_x * slope_x, along_y * slope_y,
                 along_x * offset_x + along_y * offset_y + shift * scale + half]
    zero = tf.zeros_like(maps[0])
    return tf.cast(tf.stack(maps + [zero, zero], axis=-1), tf.float32)


def resample_native(images, theta, grid, sampler):
    """`sampler([images, grid(theta)])` by `ImageProjectiveTransformV3`.

    `grid` is an affine or attention `SamplingGrid` and `sampler` a
    `BilinearSampler` with the same `align_corners`; the values agree with
    theirs to float rounding, except that the sampler moves points within
    16 float32 epsilons of the image size onto pixel centres and the kernel
    does not (the identity is exact in both); the gradients, to the images
    and to theta, are theirs: recomputed through them.
    """
    import tensorflow as tf  # the kernel is a TensorFlow op

    images = tf.cast(images, sampler.compute_dtype)

    @tf.custom_gradient
    def resample(images, theta):
        shape = tf.shape(images)
        transforms = pixel_transforms(theta, grid.transform, (shape[1], shape[2]), grid.output_size,
                                      grid.align_corners)
        resampled = tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=grid.output_size,
            fill_value=tf.constant(0.0, tf.float32), interpolation="BILINEAR",
            fill_mode=FILL_MODES[sampler.padding_mode])

        def gradient(upstream):
            with tf.GradientTape() as tape:
                tape.watch([images, theta])
                exact = sampler([images, grid(theta)])
            return tape.gradient(exact, [images, theta], output_gradients=upstream)

        return resampled, gradient

    return resample(images, theta)
