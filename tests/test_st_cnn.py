import json

import keras
import numpy as np
import pytest

import zoo
from training import train
from training.tasks import mnist as mnist_tasks
from zoo.st_cnn import CANVAS, ScaledConv2D, ScaledDense, build_st_cnn


def test_localization_lr_scale_keeps_the_function_and_scales_the_steps():
    x = np.random.default_rng(0).random((2, 42, 42, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    plain = build_st_cnn(filters=4, units=8)
    keras.utils.set_random_seed(0)
    scaled = build_st_cnn(filters=4, units=8, localization_lr_scale=0.1)
    np.testing.assert_allclose(scaled(x), plain(x), atol=1e-6)
    assert plain.count_params() == scaled.count_params()

    # Adam steps move the localisation net's effective kernels ~0.1x as far
    # (from the second on: the regression layer starts at zero, and with it
    # the localisation net's gradients).
    def step(model):
        layer = model.get_layer("spatial_transformer").localization.layers[1]
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        model.train_on_batch(x, np.array([1, 2]))
        before = keras.ops.convert_to_numpy(layer.kernel)
        model.train_on_batch(x, np.array([1, 2]))
        return np.abs(keras.ops.convert_to_numpy(layer.kernel) - before).max()

    ratio = step(scaled) / step(plain)
    assert 0.05 < ratio < 0.2, ratio


def test_trained_scaled_weights_load_into_a_fresh_model(tmp_path):
    x = np.random.default_rng(0).random((4, 42, 42, 1)).astype("float32")
    model = build_st_cnn(filters=4, units=8, localization_lr_scale=0.1)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    for _ in range(3):  # so that the localisation net moves theta
        model.train_on_batch(x, np.array([1, 2, 3, 4]))
    theta = model.get_layer("spatial_transformer")(x)[1]
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = build_st_cnn(filters=4, units=8, localization_lr_scale=0.1)
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(fresh.get_layer("spatial_transformer")(x)[1], theta, atol=1e-6)
    np.testing.assert_allclose(fresh(x), model(x), atol=1e-6)
    assert np.abs(theta - fresh.get_layer("spatial_transformer").regression.bias.numpy()).max() > 0


@pytest.mark.parametrize("layer", [ScaledConv2D(3, 3, lr_scale=0.5), ScaledDense(3, lr_scale=0.5)])
def test_scaled_layers_round_trip(layer):
    x = np.ones((1, 5, 5, 2), "float32")
    y = layer(x)
    again = layer.__class__.from_config(layer.get_config())
    again.build(x.shape)
    again.set_weights(layer.get_weights())
    np.testing.assert_allclose(again(x), y)
    assert again.lr_scale == 0.5


def test_bad_localization_lr_scale():
    with pytest.raises(ValueError, match="localization_lr_scale"):
        build_st_cnn(localization_lr_scale=0)
    with pytest.raises(ValueError, match="localization_lr_scale"):
        build_st_cnn(use_transformer=False, localization_lr_scale=0.1)
    with pytest.raises(ValueError, match="lr_scale"):
        ScaledDense(3, lr_scale=-1)


@pytest.mark.parametrize("variant", sorted(CANVAS))
def test_each_cnn_partner_has_about_its_st_cnns_weights(variant):
    st = zoo.get(f"st_cnn_{variant.lower()}").build("paper").count_params()
    cnn = zoo.get(f"cnn_{variant.lower()}").build("paper").count_params()
    assert abs(cnn - st) / st < 0.01, (st, cnn)


def test_the_tps_model_is_named_for_its_transform_and_returns_its_control_points():
    entry = zoo.get("st_cnn_e_tps")
    model = entry.build("smoke")
    assert model.name == "st_cnn_e_tps" and entry.task == "mnist_e"
    outputs = entry.serving_fn(model)(**entry.example_inputs())
    assert outputs["theta"].shape == (8, 32) and outputs["transformed"].shape == (8, 28, 28, 1)


@pytest.mark.parametrize("variant", sorted(CANVAS))
def test_example_digits_are_the_first_validation_digits_as_distorted(variant, data_dir):
    examples = zoo.get(f"cnn_{variant.lower()}").example_inputs()["image"]
    image, _ = next(iter(mnist_tasks.mnist_rts_dataset("validation", data_dir, batch_size=8, variant=variant)))
    np.testing.assert_allclose(examples, image, atol=1e-5)


@pytest.mark.parametrize("variant", ["R", "P", "E", "TC"])
def test_shipped_variant_pair_on_the_validation_digits(variant, data_dir):
    """Each shipped pair scores as recorded when it was published (the
    figures of RESULTS.md), and the ST-CNN makes fewer errors than its CNN."""
    names = [f"st_cnn_{variant.lower()}", f"cnn_{variant.lower()}"] + (["st_cnn_e_tps"] if variant == "E" else [])
    errors = {}
    for name in names:
        entry = zoo.get(name)
        recorded = json.loads(entry.weights_info_path.read_text())["metrics"]["validation"]
        errors[name] = train.evaluate(name, data_dir=data_dir, split="validation")["error"]
        assert errors[name] == pytest.approx(recorded["error"], abs=1.5e-3), name
    assert errors[names[0]] < errors[names[1]], errors
