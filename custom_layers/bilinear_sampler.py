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
    if align_corners:
        return (normalized + 1.0) * (size - 1.0) / 2.0
    return ((normalized + 1.0) * size - 1.0) / 2.0


def snap_to_pixels(coordinate, size):
    """`coordinate` moved onto the nearest pixel centre where it lies within
    the rounding error of its computation (16 machine epsilons of the image
    size), so that a grid meant to hit pixel centres hits them exactly; the
    gradient is untouched (straight through)."""
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
    (so to whatever produced the grid). Bilinear weights are computed from
    the unclipped coordinates; only then are out-of-range corners replaced by
    zeros (`padding_mode="zeros"`) — clipping the indices first, as several
    public versions do, gives wrong values and gradients at the borders.
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
        shape = ops.shape(images)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        x = snap_to_pixels(pixel_coordinates(grid[..., 0], width, self.align_corners), width)
        y = snap_to_pixels(pixel_coordinates(grid[..., 1], height, self.align_corners), height)
        last_x = ops.cast(width - 1, coords)
        last_y = ops.cast(height - 1, coords)
        if self.padding_mode == "border":
            x = ops.clip(x, 0.0, last_x)
            y = ops.clip(y, 0.0, last_y)
        x0, y0 = ops.floor(x), ops.floor(y)
        fx, fy = x - x0, y - y0
        indices, weights = [], []
        for dy, wy in ((0.0, 1.0 - fy), (1.0, fy)):
            for dx, wx in ((0.0, 1.0 - fx), (1.0, fx)):
                cx, cy = x0 + dx, y0 + dy
                inside = (cx >= 0) & (cx <= last_x) & (cy >= 0) & (cy <= last_y)
                weights.append(wx * wy * ops.cast(inside, coords))
                cx = ops.cast(ops.clip(cx, 0.0, last_x), "int32")
                cy = ops.cast(ops.clip(cy, 0.0, last_y), "int32")
                indices.append(cy * width + cx)
        out_shape = ops.shape(grid)
        points = out_shape[1] * out_shape[2]
        # One gather for the four corners of every point.
        indices = ops.reshape(ops.stack(indices, axis=1), (batch, 4 * points, 1))
        flat = ops.reshape(images, (batch, height * width, channels))
        corners = ops.take_along_axis(
            flat, ops.broadcast_to(indices, (batch, 4 * points, channels)), axis=1
        )
        corners = ops.reshape(corners, (batch, 4, points, channels))
        weights = ops.cast(ops.reshape(ops.stack(weights, axis=1), (batch, 4, points, 1)), images.dtype)
        sampled = ops.sum(corners * weights, axis=1)
        return ops.reshape(sampled, (batch, out_shape[1], out_shape[2], channels))

    def compute_output_shape(self, input_shape):
        images, grid = input_shape
        return (images[0], grid[1], grid[2], images[3])

    def get_config(self):
        config = super().get_config()
        config.update(align_corners=self.align_corners, padding_mode=self.padding_mode)
        return config
