import keras
import numpy as np
import pytest

from custom_layers import CoordinateChannels


def test_linear_channels_are_rows_then_columns_in_minus_one_to_one():
    features = np.random.default_rng(0).normal(size=(2, 3, 5, 4)).astype("float32")
    out = keras.ops.convert_to_numpy(CoordinateChannels("linear")(features))
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(out[..., :4], features)
    np.testing.assert_allclose(out[1, :, 0, 4], [-1, 0, 1])
    np.testing.assert_allclose(out[0, 2, :, 5], [-1, -0.5, 0, 0.5, 1])


def test_one_hot_gives_each_location_its_own_channel():
    out = keras.ops.convert_to_numpy(CoordinateChannels("one_hot")(np.zeros((1, 2, 3, 1), "float32")))
    assert out.shape == (1, 2, 3, 7)
    np.testing.assert_array_equal(out[0, ..., 1:].reshape(6, 6), np.eye(6))


def test_in_a_model_with_dynamic_batch_mixed_precision_and_config():
    grid = keras.Input((6, 6, 8))
    layer = CoordinateChannels("one_hot", dtype="mixed_float16")
    model = keras.Model(grid, layer(grid))
    assert model.output.shape == (None, 6, 6, 44)
    assert model(np.ones((3, 6, 6, 8), "float32")).dtype == "float16"
    again = CoordinateChannels.from_config(layer.get_config())
    assert again.encoding == "one_hot"


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="`encoding` must be one of"):
        CoordinateChannels("polar")
    with pytest.raises(ValueError, match="known height and width"):
        CoordinateChannels()(keras.Input((None, 6, 3)))
