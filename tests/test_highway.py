import numpy as np
import pytest
import keras

from custom_layers import Highway, HighwayConv2D
from tests.layer_harness import run_layer_test


def test_highway_layer_harness(tmp_path):
    run_layer_test(
        Highway,
        {"activation": "tanh", "transform_bias": -1.5},
        input_shape=(4, 5, 6),
        expected_output_shape=(4, 5, 6),
        expected_num_trainable_weights=4,
        supports_masking=True,
        tmp_path=tmp_path,
    )


def test_highway_conv2d_layer_harness(tmp_path):
    run_layer_test(
        HighwayConv2D,
        {"kernel_size": 3, "activation": "relu", "transform_bias": -1.0},
        input_shape=(2, 6, 5, 3),
        expected_output_shape=(2, 6, 5, 3),
        expected_num_trainable_weights=4,
        tmp_path=tmp_path,
    )


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_highway_matches_the_formula():
    layer = Highway(activation="tanh", transform_bias=-2.0)
    x = np.random.default_rng(0).normal(size=(3, 7)).astype("float32")
    y = layer(x).numpy()
    w_h, b_h, w_t, b_t = [w.numpy() for w in layer.weights]
    t = _sigmoid(x @ w_t + b_t)
    np.testing.assert_allclose(y, t * np.tanh(x @ w_h + b_h) + (1 - t) * x, atol=1e-5)


def test_transform_bias_default_is_negative_and_applied():
    layer = Highway()
    layer.build((None, 4))
    assert layer.transform_bias == -2.0
    np.testing.assert_array_equal(layer.gate_bias.numpy(), np.full(4, -2.0, "float32"))


@pytest.mark.parametrize("layer_cls,shape", [(Highway, (2, 8)), (HighwayConv2D, (2, 5, 5, 3))])
def test_gate_sign_decides_carry_or_transform(layer_cls, shape):
    kwargs = {"kernel_size": 3} if layer_cls is HighwayConv2D else {}
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    carry = layer_cls(transform_bias=-50.0, **kwargs)
    np.testing.assert_allclose(carry(x).numpy(), x, atol=1e-6)
    transform = layer_cls(transform_bias=50.0, activation="linear", **kwargs)
    y = transform(x).numpy()
    assert not np.allclose(y, x, atol=1e-3)


def test_trained_gate_bias_is_saved_and_restored(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Highway(transform_bias=-3.0, name="hw")(inputs))
    model.get_layer("hw").gate_bias.assign([0.5, -1.0, 2.0, -4.0])
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    layer = restored.get_layer("hw")
    np.testing.assert_array_equal(layer.gate_bias.numpy(), [0.5, -1.0, 2.0, -4.0])
    assert layer.transform_bias == -3.0


def test_highway_conv2d_matches_conv2d_formula():
    layer = HighwayConv2D(3, activation="relu")
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 4)).astype("float32")
    y = layer(x).numpy()
    w_h, b_h, w_t, b_t = [w.numpy() for w in layer.weights]

    def conv(kernel, bias):
        return keras.ops.conv(x, kernel, padding="same").numpy() + bias

    t = _sigmoid(conv(w_t, b_t))
    np.testing.assert_allclose(y, t * np.maximum(conv(w_h, b_h), 0) + (1 - t) * x, atol=1e-5)


def test_unknown_last_axis_is_a_clear_error():
    with pytest.raises(ValueError, match="last axis of `inputs` must be known"):
        Highway().build((None, None))
    with pytest.raises(ValueError, match="rank >= 2"):
        Highway().build((5,))
    with pytest.raises(ValueError, match="channel axis"):
        HighwayConv2D(3).build((None, 4, 4, None))
    with pytest.raises(ValueError, match="rank 4"):
        HighwayConv2D(3).build((None, 4, 4))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="kernel_size"):
        HighwayConv2D(0)
    with pytest.raises(ValueError, match="data_format"):
        HighwayConv2D(3, data_format="nhwc")


def test_input_of_another_width_after_build_is_rejected():
    layer = Highway()
    layer(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError):
        layer(np.zeros((1, 5), "float32"))
