import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers.bilinear_sampler import BilinearSampler
from tests.layer_harness import check_config_round_trip, run_layer_test

RNG = np.random.default_rng(0)
IMAGES = RNG.random((2, 7, 9, 3)).astype("float32")


def identity_grid(batch, height, width, align_corners):
    if align_corners:
        xs, ys = np.linspace(-1, 1, width), np.linspace(-1, 1, height)
    else:
        xs, ys = (2 * np.arange(width) + 1) / width - 1, (2 * np.arange(height) + 1) / height - 1
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    return np.broadcast_to(np.stack([gx, gy], -1), (batch, height, width, 2)).astype("float32")


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_identity_grid_returns_the_input(align_corners, padding_mode):
    sampler = BilinearSampler(align_corners, padding_mode)
    out = sampler([IMAGES, identity_grid(2, 7, 9, align_corners)]).numpy()
    np.testing.assert_allclose(out, IMAGES, atol=1e-6)


@pytest.mark.parametrize("size", [(60, 60), (37, 61), (256, 256)])
@pytest.mark.parametrize("transform", ["affine", "projective", "attention", "tps"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_transform_returns_the_input_exactly_at_any_size(size, transform, align_corners):
    """Float32 rounding puts the identity grid's points up to ~1e-5 pixel off the centres
    (2.7e-6 off the input at 60 x 60, 4e-5 at 256 x 256, before the sampler snapped them)."""
    from custom_layers.sampling_grid import IDENTITY_PARAMETERS, SamplingGrid

    images = RNG.random((2, *size, 3)).astype("float32")
    theta = np.tile(np.array(IDENTITY_PARAMETERS[transform], "float32"), (2, 1))
    grid = SamplingGrid(size, transform=transform, align_corners=align_corners)(theta)
    sampler = BilinearSampler(align_corners)
    np.testing.assert_array_equal(sampler([images, grid]).numpy(), images)
    xla = tf.function(lambda a, g: sampler([a, g]), jit_compile=True, autograph=False)
    np.testing.assert_array_equal(xla(images, grid).numpy(), images)


def test_snapping_moves_only_points_within_rounding_and_keeps_the_gradient():
    images = RNG.random((1, 4, 4, 1)).astype("float32")
    grid = identity_grid(1, 4, 4, False)
    grid[0, 0, 0, 0] += 2e-7  # rounding-sized: snapped onto the pixel centre
    grid[0, 0, 1, 0] += 2e-3  # a real offset (1/250 pixel): interpolated
    grid = tf.constant(grid)
    with tf.GradientTape() as tape:
        tape.watch(grid)
        out = BilinearSampler()([images, grid])
        snapped = out[0, 0, 0, 0]
    np.testing.assert_array_equal(out[0, 0, 0], images[0, 0, 0])
    offset = 2e-3 * 4 / 2  # pixels
    expected = (1 - offset) * images[0, 0, 1] + offset * images[0, 0, 2]
    np.testing.assert_allclose(out[0, 0, 1], expected, rtol=1e-5)
    gradient = tape.gradient(snapped, grid)[0, 0, 0, 0]  # d out / d x at the snapped point
    assert float(gradient) == pytest.approx(float(images[0, 0, 1, 0] - images[0, 0, 0, 0]) * 4 / 2, rel=1e-4)


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_integer_translation_shifts_with_the_padding(padding_mode):
    grid = identity_grid(2, 7, 9, False)
    grid[..., 0] += 2 * 2 / 9  # sample two pixels to the right
    grid[..., 1] -= 2 / 7  # and one pixel up
    out = BilinearSampler(padding_mode=padding_mode)([IMAGES, grid]).numpy()
    if padding_mode == "zeros":
        expected = np.zeros_like(IMAGES)
        expected[:, 1:, :-2] = IMAGES[:, :-1, 2:]
    else:
        rows = np.clip(np.arange(7) - 1, 0, 6)
        cols = np.clip(np.arange(9) + 2, 0, 8)
        expected = IMAGES[:, rows][:, :, cols]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_rotation_by_90_degrees_is_rot90():
    square = RNG.random((1, 6, 6, 1)).astype("float32")
    grid = identity_grid(1, 6, 6, False)
    rotated = np.stack([-grid[..., 1], grid[..., 0]], -1)  # theta = [[0, -1, 0], [1, 0, 0]]
    out = BilinearSampler()([square, rotated]).numpy()
    np.testing.assert_allclose(out[0, ..., 0], np.rot90(square[0, ..., 0]), atol=1e-6)


def test_agrees_with_map_coordinates_inside_and_beyond_the_border():
    grid = RNG.uniform(-1.3, 1.3, (2, 5, 4, 2)).astype("float32")
    out = BilinearSampler(align_corners=True)([IMAGES, grid]).numpy()
    x, y = (grid[..., 0] + 1) * 8 / 2, (grid[..., 1] + 1) * 6 / 2
    expected = np.stack([
        np.stack([keras.ops.image.map_coordinates(IMAGES[b, ..., c], [y[b], x[b]], order=1,
                                                  fill_mode="constant").numpy()
                  for c in range(3)], -1)
        for b in range(2)
    ])
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_output_size_differs_and_each_example_has_its_grid():
    grids = np.stack([identity_grid(1, 3, 4, True)[0], -identity_grid(1, 3, 4, True)[0]])
    out = BilinearSampler(align_corners=True)([IMAGES, grids]).numpy()
    assert out.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(out[0, 0, 0], IMAGES[0, 0, 0], atol=1e-6)  # top-left corner
    np.testing.assert_allclose(out[1, 0, 0], IMAGES[1, -1, -1], atol=1e-6)  # flipped


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_gradients_match_finite_differences_at_and_beyond_the_border(padding_mode):
    sampler = BilinearSampler(padding_mode=padding_mode, dtype="float64")
    images = tf.constant(RNG.random((1, 4, 5, 2)))
    # non-integer points inside, across the border and outside
    grid = tf.constant(np.concatenate([
        RNG.uniform(-0.9, 0.9, (1, 2, 3, 2)), RNG.uniform(0.95, 1.15, (1, 1, 3, 2)),
        RNG.uniform(-1.4, -1.0, (1, 1, 3, 2))], axis=1))
    projection = tf.constant(RNG.normal(size=(1, 4, 3, 2)))

    def objective(images, grid):
        return tf.reduce_sum(sampler([images, grid]) * projection)

    with tf.GradientTape() as tape:
        tape.watch([images, grid])
        loss = objective(images, grid)
    grads = tape.gradient(loss, [images, grid])
    for which, (value, grad) in enumerate(zip([images, grid], grads)):
        base = value.numpy()
        for flat in range(base.size):
            position = np.unravel_index(flat, base.shape)
            plus, minus = base.copy(), base.copy()
            plus[position] += 1e-6
            minus[position] -= 1e-6
            args = [(plus, grid), (images, plus)][which], [(minus, grid), (images, minus)][which]
            numeric = (objective(*args[0]) - objective(*args[1])).numpy() / 2e-6
            assert abs(numeric - grad.numpy()[position]) < 1e-5, (which, position)


def four_corner_reference(images, grid, align_corners, padding_mode):
    """The formulation the patch gather replaced: each corner gathered on its own,
    weights from the unclipped coordinates, corners beyond the border masked
    (no snapping: the test's points are nowhere near pixel centres)."""
    batch, height, width = images.shape[:3]

    def pixels(normalized, size):
        p = (normalized + 1) * (size - 1) / 2 if align_corners else ((normalized + 1) * size - 1) / 2
        return tf.clip_by_value(p, 0.0, size - 1.0) if padding_mode == "border" else p

    x, y = pixels(grid[..., 0], width), pixels(grid[..., 1], height)
    x0, y0 = tf.floor(x), tf.floor(y)
    batch_index = tf.broadcast_to(tf.reshape(tf.range(batch), (-1, 1, 1)), tf.shape(x))
    out = 0.0
    for cy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for cx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            inside = tf.cast((cx >= 0) & (cx <= width - 1) & (cy >= 0) & (cy <= height - 1), x.dtype)
            index = tf.stack([batch_index, tf.cast(tf.clip_by_value(cy, 0.0, height - 1.0), tf.int32),
                              tf.cast(tf.clip_by_value(cx, 0.0, width - 1.0), tf.int32)], -1)
            out += tf.gather_nd(images, index) * (wx * wy * inside)[..., None]
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_values_and_gradients_match_the_four_corner_formulation(padding_mode, align_corners, dtype):
    images = tf.constant(RNG.random((3, 7, 9, 2)), dtype)
    grid = tf.constant(RNG.uniform(-1.4, 1.4, (3, 6, 5, 2)), dtype)  # inside, across and beyond the border
    projection = tf.constant(RNG.normal(size=(3, 6, 5, 2)), dtype)
    sampler = BilinearSampler(align_corners, padding_mode, dtype=dtype)
    results = []
    for fn in (lambda a, g: sampler([a, g]), lambda a, g: four_corner_reference(a, g, align_corners, padding_mode)):
        with tf.GradientTape() as tape:
            tape.watch([images, grid])
            out = fn(images, grid)
            loss = tf.reduce_sum(out * projection)
        results.append([out, *tape.gradient(loss, [images, grid])])
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=tolerance,
                                   atol=tolerance * np.abs(reference.numpy()).max())


def test_eager_graph_and_xla_agree():
    grid = RNG.uniform(-1.1, 1.1, (2, 6, 5, 2)).astype("float32")
    sampler = BilinearSampler()
    eager = sampler([IMAGES, grid]).numpy()
    np.testing.assert_allclose(tf.function(sampler)([IMAGES, grid]).numpy(), eager, atol=1e-6)
    xla = tf.function(sampler, jit_compile=True)([IMAGES, grid]).numpy()
    np.testing.assert_allclose(xla, eager, atol=1e-6)


def test_mixed_float16_keeps_coordinates_in_float32():
    # float16 would round a coordinate near 1 by up to 2**-11: 0.06 px on 120 px
    images = RNG.random((2, 120, 120, 1)).astype("float32")
    grid = RNG.uniform(0.5, 1, (2, 30, 30, 2)).astype("float32")
    out = BilinearSampler(dtype="mixed_float16")([images, grid])
    assert out.dtype == tf.float16
    expected = BilinearSampler()([images, grid]).numpy()
    np.testing.assert_allclose(out.numpy().astype("float32"), expected, atol=2e-3)


def test_layer_harness(tmp_path):
    run_layer_test(
        BilinearSampler,
        {"align_corners": False, "padding_mode": "zeros"},
        input_shape=[(2, 6, 5, 3), (2, 4, 4, 2)],
        expected_output_shape=(2, 4, 4, 3),
        expected_num_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_config_and_keras_file_round_trip(tmp_path):
    check_config_round_trip(BilinearSampler, {"align_corners": True, "padding_mode": "border"})
    images, grid = keras.Input((7, 9, 3)), keras.Input((4, 4, 2))
    model = keras.Model([images, grid], BilinearSampler(True, "border")([images, grid]))
    model.save(tmp_path / "sampler.keras")
    restored = keras.saving.load_model(tmp_path / "sampler.keras")
    inputs = [IMAGES, RNG.uniform(-1.2, 1.2, (2, 4, 4, 2)).astype("float32")]
    np.testing.assert_allclose(restored.predict(inputs, verbose=0), model.predict(inputs, verbose=0))
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    served = loaded.serve(inputs)
    np.testing.assert_allclose(served.numpy(), model.predict(inputs, verbose=0), atol=1e-6)


def test_bad_arguments_and_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="`padding_mode` must be one of"):
        BilinearSampler(padding_mode="reflect")
    with pytest.raises(ValueError, match=r"`grid` must have shape \(B, H_out, W_out, 2\)"):
        BilinearSampler()([IMAGES, np.zeros((2, 3, 3), "float32")])
    with pytest.raises(ValueError, match="`images` must have rank 4"):
        BilinearSampler()([IMAGES[0], np.zeros((2, 3, 3, 2), "float32")])
    with pytest.raises(ValueError, match=r"must be a list \[images, grid\]"):
        BilinearSampler().build((2, 7, 9, 3))
