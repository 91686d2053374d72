"""Differentiable bilinear sampler (Jaderberg et al., 2015)."""

import keras
import numpy as np
from keras import ops

from custom_layers.input_checks import two_input_shapes

PADDING_MODES = ("zeros", "border")


def pixel_coordinates(normalized, size, align_corners):
    """Maps normalised coordinates in [-1, 1] to pixel coordinates.

    With `align_corners=False` (PyTorch >= 1.3's default), -1 and 1 are the
    outer edges of the border pixels; with `True`, their centres.
    """
    size = ops.cast(size, normalized.dtype)
    half = (size - 1.0) / 2.0
    return normalized * (half if align_corners else size / 2.0) + half


def snap_to_pixels(coordinate, size):
    """`coordinate` (in pixels, or a point's offset from a pixel centre)
    moved onto the nearest integer where it lies within the rounding error
    of its computation (16 machine epsilons of the image size), so that a
    grid meant to hit pixel centres hits them exactly; the gradient is
    untouched (straight through)."""
    nearest = ops.round(coordinate)
    tolerance = 16.0 * float(np.finfo(keras.backend.standardize_dtype(coordinate.dtype)).eps) * ops.cast(size, coordinate.dtype)
    shift = ops.where(ops.abs(nearest - coordinate) <= tolerance, nearest - coordinate, 0.0)
    return coordinate + ops.stop_gradient(shift)


@keras.saving.register_keras_serializable(package="special_networks")
class BilinearSampler(keras.layers.Layer):
    """Samples images bilinearly at a grid of normalised coordinates.

    The sampler of "Spatial Transformer Networks" (Jaderberg, Simonyan,
    Zisserman, Kavukcuoglu, NIPS 2015), eq. 5: each output pixel is the
    bilinear interpolation of the four input pixels around its sampling
    point. It is differentiable with respect to the image and to the grid
    (so to whatever produced the grid). Bilinear weights come from the
    unclipped coordinates, and corners beyond the border read zeros
    (`padding_mode="zeros"`): clipping the indices before computing the
    weights, as several public versions do, gives wrong values and gradients
    at the borders. One gather fetches the 2x2 patch around every point from
    the image padded by one pixel (int32 indices over the whole batch: batch
    x (H + 1) x (W + 1) must stay below 2**31).
    Sampling points within float rounding of a pixel centre (16 machine
    epsilons of the image size, about 1e-4 pixels at 60 x 60 in float32) are
    moved onto it, so the identity grid of `SamplingGrid` returns the input
    exactly, at any size.

    Args:
        align_corners: whether -1 and 1 are the centres (True) or the outer
            edges (False, default) of the border pixels.
        padding_mode: `"zeros"` (outside the image is 0) or `"border"`
            (coordinates are clamped to the image).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a list `[images, grid]`: `images` [B, H, W, C] and `grid`
            [B, H_out, W_out, 2] holding (x, y) in normalised coordinates,
            x along the width, y along the height.

    Returns:
        The sampled images, [B, H_out, W_out, C].

    Example:

    >>> images = np.random.rand(2, 8, 8, 3).astype("float32")
    >>> ys, xs = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 5), indexing="ij")
    >>> grid = np.broadcast_to(np.stack([xs, ys], -1), (2, 4, 5, 2)).astype("float32")
    >>> BilinearSampler(align_corners=True)([images, grid]).shape  # (2, 4, 5, 3)
    """

    def __init__(self, align_corners=False, padding_mode="zeros", **kwargs):
        # No autocast: under mixed_float16 it would round the grid to float16.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"BilinearSampler: `padding_mode` must be one of {PADDING_MODES}; "
                f"received {padding_mode!r}."
            )
        self.align_corners = bool(align_corners)
        self.padding_mode = padding_mode

    def build(self, input_shape):
        images, grid = two_input_shapes(input_shape, "BilinearSampler", "a list [images, grid]")
        if len(images) != 4:
            raise ValueError(
                f"BilinearSampler: `images` must have rank 4 (B, H, W, C); received {images}."
            )
        if len(grid) != 4 or grid[-1] != 2:
            raise ValueError(
                "BilinearSampler: `grid` must have shape (B, H_out, W_out, 2); "
                f"received {grid}."
            )

    def call(self, inputs):
        images, grid = inputs
        images = ops.cast(images, self.compute_dtype)
        # Coordinates stay (at least) float32 under mixed precision: a float16
        # pixel coordinate is off by up to 1/16 pixel at 256 pixels.
        coords = "float64" if self.compute_dtype == "float64" else "float32"
        grid = ops.cast(grid, coords)
        batch, height, width, channels = ops.shape(images)
        out_shape = ops.shape(grid)
        # Each point reads the 2x2 patch at its top-left corner in the image
        # padded by one pixel; clamping points to [-1, size] (no gradient
        # beyond) puts those with no pixel within reach on the padding.
        weights, corners = [], []
        for normalized, size in zip(ops.unstack(grid, axis=-1), (width, height)):
            point = pixel_coordinates(normalized, size, self.align_corners)
            last = ops.cast(size - 1, coords)
            if self.padding_mode == "border":
                point = ops.clip(point, 0.0, last)
            else:
                point = ops.clip(point, -1.0, last + 1.0)
            corner = ops.minimum(ops.floor(point), last)
            fraction = ops.cast(snap_to_pixels(point - corner, size), images.dtype)[..., None]
            weights.append((1.0 - fraction, fraction))
            corners.append(ops.cast(corner, "int32"))
        first = ops.arange(batch, dtype="int32") * ((height + 1) * (width + 1)) + width + 2  # patch (0, 0)
        index = corners[1] * (width + 1) + corners[0] + ops.reshape(first, (-1, 1, 1))
        padded = ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
        # [B, H + 1, W + 1, 4, C]: top-left, top-right, bottom-left, bottom-right
        patches = ops.transpose(ops.stack(
            [padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]]
        ), (1, 2, 3, 0, 4))
        values = ops.take(ops.reshape(patches, (-1, 4 * channels)), index, axis=0)
        values = ops.reshape(values, (batch, out_shape[1], out_shape[2], 4, channels))
        (gx, fx), (gy, fy) = weights
        top_left, top_right, bottom_left, bottom_right = ops.unstack(values, axis=-2)
        return (top_left * (gx * gy) + top_right * (fx * gy)
                + bottom_left * (gx * fy) + bottom_right * (fx * fy))

    def compute_output_shape(self, input_shape):
        images, grid = input_shape
        return (images[0], grid[1], grid[2], images[3])

    def get_config(self):
        config = super().get_config()
        config.update(align_corners=self.align_corners, padding_mode=self.padding_mode)
        return config
