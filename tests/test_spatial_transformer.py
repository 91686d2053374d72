import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import BilinearSampler
from custom_layers.sampling_grid import IDENTITY_PARAMETERS, SamplingGrid
from custom_layers.spatial_transformer import SpatialTransformer
from tests.layer_harness import check_config_round_trip, run_layer_test
from tests.test_bilinear_sampler import identity_grid

RNG = np.random.default_rng(1)
IMAGES = RNG.random((3, 12, 10, 2)).astype("float32")


def localization():
    return keras.Sequential([
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="tanh"),
    ])


@pytest.mark.parametrize("transform", ["affine", "projective", "attention", "tps"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_parameters_give_the_identity_grid(transform, align_corners):
    theta = np.array([IDENTITY_PARAMETERS[transform]] * 2, "float32")
    grid = SamplingGrid((4, 5), transform, align_corners)(theta).numpy()
    np.testing.assert_allclose(grid, identity_grid(2, 4, 5, align_corners), atol=1e-6)


def test_affine_projective_and_attention_match_their_formulas():
    base = identity_grid(1, 4, 5, False)[0].reshape(-1, 2)
    homogeneous = np.concatenate([base, np.ones((20, 1))], -1)
    affine = RNG.normal(size=(1, 6)).astype("float32")
    grid = SamplingGrid((4, 5), "affine")(affine).numpy().reshape(-1, 2)
    np.testing.assert_allclose(grid, homogeneous @ affine.reshape(2, 3).T, atol=1e-5)
    projective = np.concatenate([affine, [[0.1, -0.2]]], -1).astype("float32")
    uvw = homogeneous @ np.concatenate([projective[0], [1.0]]).reshape(3, 3).T
    grid = SamplingGrid((4, 5), "projective")(projective).numpy().reshape(-1, 2)
    np.testing.assert_allclose(grid, uvw[:, :2] / uvw[:, 2:], atol=1e-5)
    attention = np.array([[0.5, 0.2, -0.3]], "float32")
    grid = SamplingGrid((4, 5), "attention")(attention).numpy().reshape(-1, 2)
    np.testing.assert_allclose(grid, 0.5 * base + [0.2, -0.3], atol=1e-6)


def test_fresh_transformer_is_the_identity():
    transformer = SpatialTransformer(localization(), (12, 10))
    np.testing.assert_allclose(transformer(IMAGES).numpy(), IMAGES, atol=1e-6)
    kernel, bias = transformer.regression.get_weights()
    assert not kernel.any() and bias.tolist() == IDENTITY_PARAMETERS["affine"]


def test_gradients_reach_theta_and_the_localization_net():
    transformer = SpatialTransformer(localization(), (6, 6), return_theta=True, dtype="float64")
    images = tf.constant(IMAGES.astype("float64"))
    transformer(images)
    transformer.regression.kernel.assign(RNG.normal(size=(8, 6)) * 0.1)
    with tf.GradientTape() as tape:
        out, theta = transformer(images)
        loss = tf.reduce_sum(out * tf.constant(RNG.normal(size=out.shape)))
    grads = tape.gradient(loss, transformer.trainable_weights)
    assert all(g is not None and np.any(g.numpy()) for g in grads)
    # theta's gradient against central differences of the sampled output
    sampler, grid = transformer.sampler, transformer.grid
    projection = tf.constant(RNG.normal(size=(3, 6, 6, 2)))

    def objective(t):
        return tf.reduce_sum(sampler([images, grid(t)]) * projection)

    theta = tf.constant(RNG.normal(size=(3, 6)) * 0.3 + IDENTITY_PARAMETERS["affine"])
    with tf.GradientTape() as tape:
        tape.watch(theta)
        value = objective(theta)
    analytic = tape.gradient(value, theta).numpy()
    for i in range(3):
        for j in range(6):
            step = np.zeros((3, 6))
            step[i, j] = 1e-6
            numeric = (objective(theta + step) - objective(theta - step)).numpy() / 2e-6
            assert abs(numeric - analytic[i, j]) < 1e-4 * max(1, abs(numeric)), (i, j)


def test_fit_learns_a_transform():
    inputs = keras.Input((12, 10, 2))
    transformer = SpatialTransformer(localization(), (12, 10))
    model = keras.Model(inputs, transformer(inputs))
    model.compile(keras.optimizers.Adam(0.01), "mse")
    shifted = np.roll(IMAGES, 2, axis=2)
    model.fit(IMAGES, shifted, epochs=3, verbose=0)
    assert transformer.regression.kernel.numpy().any()


def test_keras_file_saved_model_round_trips_and_xla(tmp_path):
    check_config_round_trip(SpatialTransformer, {
        "localization": localization(), "output_size": (6, 5), "transform": "projective",
        "align_corners": True, "padding_mode": "border", "return_theta": True})
    inputs = keras.Input((12, 10, 2))
    transformer = SpatialTransformer(localization(), (6, 5), "attention", return_theta=True)
    model = keras.Model(inputs, transformer(inputs))
    transformer.regression.kernel.assign(RNG.normal(size=(8, 3)).astype("float32") * 0.1)
    model.save(tmp_path / "st.keras")
    restored = keras.saving.load_model(tmp_path / "st.keras")
    for a, b in zip(restored(IMAGES), model(IMAGES)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    served = loaded.serve(IMAGES)
    for a, b in zip(served, model(IMAGES)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    xla = tf.function(transformer, jit_compile=True)(IMAGES)
    np.testing.assert_allclose(xla[0].numpy(), model(IMAGES)[0].numpy(), atol=1e-5)


def test_mixed_float16_keeps_theta_in_float32():
    transformer = SpatialTransformer(localization(), (12, 10), return_theta=True,
                                     dtype="mixed_float16")
    out, theta = transformer(IMAGES)
    assert out.dtype == tf.float16 and theta.dtype == tf.float32
    np.testing.assert_allclose(out.numpy().astype("float32"), IMAGES, atol=2e-3)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="`output_size` must be \\(height, width\\)"):
        SamplingGrid((0, 5))
    with pytest.raises(ValueError, match="`transform` must be one of"):
        SamplingGrid((4, 4), "similarity")
    with pytest.raises(ValueError, match=r"'affine' transform takes theta of shape \(batch, 6\)"):
        SamplingGrid((4, 4))(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="`padding_mode` must be one of"):
        SpatialTransformer(localization(), (4, 4), padding_mode="reflect")
    with pytest.raises(ValueError, match="`localization` must be a Keras layer"):
        SpatialTransformer(lambda x: x, (4, 4))
    with pytest.raises(ValueError, match="must be images of rank 4"):
        SpatialTransformer(localization(), (4, 4))(IMAGES[0])
    assert isinstance(SpatialTransformer(localization(), (4, 4)).sampler, BilinearSampler)


def test_tps_interpolates_its_control_points_and_reproduces_affine_maps():
    from custom_layers.sampling_grid import tps_control_points

    control = tps_control_points()
    targets = control + RNG.normal(scale=0.1, size=control.shape)
    grid = SamplingGrid((4, 4), "tps", align_corners=True)(targets.reshape(1, -1).astype("float32"))
    np.testing.assert_allclose(grid.numpy().reshape(-1, 2), targets, atol=1e-5)
    affine = np.array([[0.9, -0.2, 0.1], [0.3, 1.1, -0.05]])
    moved = np.concatenate([control, np.ones((16, 1))], -1) @ affine.T
    tps = SamplingGrid((5, 7), "tps")(moved.reshape(1, -1).astype("float32")).numpy()
    expected = SamplingGrid((5, 7), "affine")(affine.reshape(1, 6).astype("float32")).numpy()
    np.testing.assert_allclose(tps, expected, atol=1e-5)
    xla = tf.function(SamplingGrid((5, 7), "tps"), jit_compile=True)(moved.reshape(1, -1).astype("float32"))
    np.testing.assert_allclose(xla.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("transform,count", [("affine", 6), ("projective", 8), ("tps", 32)])
def test_sampling_grid_layer_harness(transform, count, tmp_path):
    run_layer_test(
        SamplingGrid,
        {"output_size": (3, 4), "transform": transform, "align_corners": True},
        input_shape=(2, count),
        expected_output_shape=(2, 3, 4, 2),
        expected_num_trainable_weights=0,
        tmp_path=tmp_path,
        mixed_precision_output_dtype="float32",
    )


def graph_ops(fn, *args):
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()}


@pytest.mark.parametrize("transform", ["affine", "attention"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_inference_outside_xla_runs_the_fused_kernel_with_the_samplers_values_and_gradients(
        transform, align_corners, padding_mode):
    transformer = SpatialTransformer(localization(), (7, 11), transform, align_corners, padding_mode,
                                     return_theta=True)
    images = tf.constant(RNG.random((3, 13, 9, 2)).astype("float32") * 2 - 0.5)
    transformer(images)
    transformer.regression.kernel.assign(RNG.normal(size=(8, 3 if transform == "attention" else 6)) * 0.5)
    assert "ImageProjectiveTransformV3" in graph_ops(transformer, images)
    assert "ImageProjectiveTransformV3" not in graph_ops(lambda x: transformer(x, training=True), images)
    (fused, theta), (gathered, theta_too) = transformer(images), transformer(images, training=True)
    np.testing.assert_array_equal(theta.numpy(), theta_too.numpy())
    # ours snaps points within 16 float32 epsilons of the size to pixel centres; the kernel does not
    np.testing.assert_allclose(fused.numpy(), gathered.numpy(), atol=1e-5)
    xla = tf.function(transformer, jit_compile=True)(images)[0]  # no XLA kernel: the gathers there
    np.testing.assert_allclose(xla.numpy(), gathered.numpy(), atol=1e-5)
    weights = tf.constant(RNG.normal(size=fused.shape).astype("float32"))
    grads = []
    for training in (None, True):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(transformer(images, training=training)[0] * weights)
        grads.append(tape.gradient(loss, [images] + transformer.trainable_weights))
    for fused_grad, gathered_grad in zip(*grads):
        np.testing.assert_allclose(fused_grad.numpy(), gathered_grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transform", ["affine", "attention"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_is_exact_at_60x60_in_both_paths(transform, align_corners):
    images = RNG.random((2, 60, 60, 1)).astype("float32")
    images[:, :, ::7] = 0.0  # a zero beside a non-zero shows the smallest leak of a neighbour
    transformer = SpatialTransformer(localization(), (60, 60), transform, align_corners)
    for training in (None, True):
        np.testing.assert_array_equal(transformer(images, training=training).numpy(), images)


def test_float64_projective_and_tps_keep_the_gather_sampler():
    for transform, dtype in (("affine", "float64"), ("projective", None), ("tps", None)):
        transformer = SpatialTransformer(localization(), (6, 5), transform, dtype=dtype)
        assert "ImageProjectiveTransformV3" not in graph_ops(transformer, IMAGES.astype(dtype or "float32"))
