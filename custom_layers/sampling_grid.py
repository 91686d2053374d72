"""Grid generator of spatial transformers (Jaderberg et al., 2015)."""

import keras
import numpy as np
from keras import ops

TPS_GRID = 4  # thin-plate spline control points: a 4x4 grid over [-1, 1]^2


def tps_control_points():
    ys, xs = np.meshgrid(np.linspace(-1, 1, TPS_GRID), np.linspace(-1, 1, TPS_GRID), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)  # [16, 2] as (x, y)


PARAMETER_COUNTS = {"affine": 6, "projective": 8, "attention": 3, "tps": 2 * TPS_GRID**2}
IDENTITY_PARAMETERS = {
    "affine": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    "projective": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    "attention": [1.0, 0.0, 0.0],
    "tps": tps_control_points().ravel().tolist(),
}


def _tps_kernel(a, b):
    """U(r) = r^2 log r^2 between the rows of `a` [N, 2] and `b` [M, 2]."""
    r2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-300)), 0.0)


def tps_matrix(points):
    """[N, 16]: the grid points `points` [N, 2] as a linear function of the 16
    target control points, for the thin-plate spline that maps the control
    grid onto them (Bookstein 1989). Fixed control points make it a constant."""
    control = tps_control_points()
    n = len(control)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = _tps_kernel(control, control)
    system[:n, n] = system[n, :n] = 1.0
    system[:n, n + 1 :] = control
    system[n + 1 :, :n] = control.T
    inverse = np.linalg.inv(system)[:, :n]  # the right-hand side is [targets; 0]
    features = np.concatenate(
        [_tps_kernel(points, control), np.ones((len(points), 1)), points], axis=-1
    )
    return features @ inverse


def output_coordinates(size, align_corners, dtype):
    """Normalised coordinates of `size` output pixels along one axis."""
    index = ops.cast(ops.arange(size), dtype)
    if align_corners:
        return index * (2.0 / max(size - 1, 1)) - 1.0
    return (2.0 * index + 1.0) / size - 1.0


@keras.saving.register_keras_serializable(package="special_networks")
class SamplingGrid(keras.layers.Layer):
    """Turns transformation parameters into a sampling grid.

    The grid generator of "Spatial Transformer Networks" (Jaderberg et al.,
    NIPS 2015), eq. 1: for every pixel of the output, the (x, y) point of the
    input to sample, both in normalised coordinates ([-1, 1] across the
    image). The parameters map output to input coordinates, as in the paper:
    - `"affine"`, 6 parameters: the row-major 2x3 matrix A, (x_in, y_in) =
      A (x, y, 1);
    - `"projective"`, 8 parameters: the first 8 entries of a row-major 3x3
      matrix P whose last entry is 1, (u, v, w) = P (x, y, 1), (x_in, y_in) =
      (u / w, v / w);
    - `"attention"`, 3 parameters (s, t_x, t_y): scale and translation,
      (x_in, y_in) = (s x + t_x, s y + t_y);
    - `"tps"`, 32 parameters: where the 16 control points of a 4x4 grid over
      the output go in the input, as (x, y) pairs in row-major grid order;
      the thin-plate spline through them gives every other point.
    `IDENTITY_PARAMETERS[transform]` leaves the image unchanged.

    Args:
        output_size: (height, width) of the grid, positive ints.
        transform: `"affine"` (default), `"projective"`, `"attention"` or `"tps"`.
        align_corners: as in `BilinearSampler`; use the same value for both.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: the parameters, [B, P] with P as above.

    Returns:
        The grid, [B, height, width, 2] holding (x, y), float32 (float64
        for a float64 layer) whatever the dtype policy.

    Example:

    >>> theta = np.array([[1, 0, 0, 0, 1, 0]], "float32")
    >>> SamplingGrid((3, 4))(theta).shape  # (1, 3, 4, 2)
    """

    def __init__(self, output_size, transform="affine", align_corners=False, **kwargs):
        kwargs.setdefault("autocast", False)  # theta keeps its float32 precision
        super().__init__(**kwargs)
        output_size = tuple(output_size) if isinstance(output_size, (list, tuple)) else output_size
        if (
            not isinstance(output_size, tuple)
            or len(output_size) != 2
            or not all(isinstance(s, int) and s > 0 for s in output_size)
        ):
            raise ValueError(
                "SamplingGrid: `output_size` must be (height, width), two positive "
                f"ints; received {output_size!r}."
            )
        if transform not in PARAMETER_COUNTS:
            raise ValueError(
                f"SamplingGrid: `transform` must be one of {sorted(PARAMETER_COUNTS)}; "
                f"received {transform!r}."
            )
        self.output_size = output_size
        self.transform = transform
        self.align_corners = bool(align_corners)
        if transform == "tps":  # a constant of the output size: computed once
            ys, xs = (output_coordinates(n, self.align_corners, "float64") for n in output_size)
            y, x = np.meshgrid(ops.convert_to_numpy(ys), ops.convert_to_numpy(xs), indexing="ij")
            self._tps_matrix = tps_matrix(np.stack([x.ravel(), y.ravel()], axis=-1))

    @property
    def parameter_count(self):
        return PARAMETER_COUNTS[self.transform]

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] != self.parameter_count:
            raise ValueError(
                f"SamplingGrid: a {self.transform!r} transform takes theta of shape "
                f"(batch, {self.parameter_count}); received {tuple(input_shape)}."
            )

    def call(self, theta):
        dtype = "float64" if self.compute_dtype == "float64" else "float32"
        theta = ops.cast(theta, dtype)
        height, width = self.output_size
        ys = output_coordinates(height, self.align_corners, dtype)
        xs = output_coordinates(width, self.align_corners, dtype)
        y, x = ops.meshgrid(ys, xs, indexing="ij")
        x, y = ops.reshape(x, (1, -1)), ops.reshape(y, (1, -1))
        if self.transform == "tps":
            targets = ops.reshape(theta, (-1, TPS_GRID**2, 2))
            matrix = ops.convert_to_tensor(self._tps_matrix, dtype=dtype)
            grid = ops.einsum("nk,bkd->bnd", matrix, targets)
            return ops.reshape(grid, (-1, height, width, 2))
        t = [theta[:, i : i + 1] for i in range(self.parameter_count)]
        if self.transform == "attention":
            grid = [t[0] * x + t[1], t[0] * y + t[2]]
        else:
            grid = [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]]
            if self.transform == "projective":
                w = t[6] * x + t[7] * y + 1.0
                # keep |w| away from 0, with its sign: points at infinity map far outside
                w = ops.where(w >= 0, ops.maximum(w, 1e-6), ops.minimum(w, -1e-6))
                grid = [grid[0] / w, grid[1] / w]
        grid = ops.stack(grid, axis=-1)
        return ops.reshape(grid, (-1, height, width, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.output_size + (2,)

    def compute_output_spec(self, theta):
        dtype = "float64" if self.compute_dtype == "float64" else "float32"
        return keras.KerasTensor(self.compute_output_shape(theta.shape), dtype=dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_size=self.output_size,
            transform=self.transform,
            align_corners=self.align_corners,
        )
        return config
