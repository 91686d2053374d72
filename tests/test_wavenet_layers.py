import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import CausalConv1D, WaveNetBlock
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)


@keras.saving.register_keras_serializable(package="special_networks")
class BlockOutputs(WaveNetBlock):
    """The block's (residual, skip) as one tensor, concatenated, for the harness (test only)."""

    def call(self, inputs):
        return keras.ops.concatenate(super().call(inputs), axis=-1)

    def compute_output_shape(self, input_shape):
        residual, skip = super().compute_output_shape(input_shape)
        return tuple(residual[:-1]) + (residual[-1] + skip[-1],)

    def compute_mask(self, inputs, mask=None):
        return super().compute_mask(inputs, mask)[0]


def reference_conv(x, kernel, bias, dilation):
    """y[t] = b + sum_j W[j] x[t - (K - 1 - j) d], x[t < 0] = 0, in NumPy loops."""
    batch, length, _ = x.shape
    taps = kernel.shape[0]
    y = np.zeros((batch, length, kernel.shape[-1]))
    for t in range(length):
        y[:, t] = bias
        for j in range(taps):
            source = t - (taps - 1 - j) * dilation
            if source >= 0:
                y[:, t] += x[:, source] @ kernel[j]
    return y


def reference_block(x, h, layer):
    weights = {w.path.split("/")[-1]: w.numpy() for w in layer.weights}
    gates = reference_conv(x, weights["kernel"], weights["bias"], layer.dilation_rate)
    if h is not None:
        gates = gates + (h @ weights["condition_kernel"])[:, None]
    d = layer.dilation_channels
    z = np.tanh(gates[..., :d]) / (1 + np.exp(-gates[..., d:]))
    residual = x + z @ weights["residual_kernel"] + weights["residual_bias"]
    skip = z @ weights["skip_kernel"] + weights["skip_bias"]
    return residual, skip


def test_causal_conv_harness(tmp_path):
    run_layer_test(CausalConv1D, {"filters": 4, "kernel_size": 3, "dilation_rate": 2},
                   input_shape=(2, 9, 3), expected_output_shape=(2, 9, 4),
                   expected_num_trainable_weights=2, supports_masking=True, tmp_path=tmp_path)


def test_wavenet_block_harness(tmp_path):
    run_layer_test(BlockOutputs, {"residual_channels": 3, "dilation_channels": 4, "skip_channels": 5,
                                  "dilation_rate": 2},
                   input_shape=(2, 7, 3), expected_output_shape=(2, 7, 8),
                   expected_num_trainable_weights=6, supports_masking=True, tmp_path=tmp_path)


def test_conditioned_wavenet_block_harness(tmp_path):
    run_layer_test(BlockOutputs, {"residual_channels": 3, "dilation_channels": 2, "skip_channels": 4,
                                  "kernel_size": 3, "dilation_rate": 3},
                   input_shape=[(2, 8, 3), (2, 5)], expected_output_shape=(2, 8, 7),
                   expected_num_trainable_weights=7, tmp_path=tmp_path)


@pytest.mark.parametrize("kernel_size, dilation", [(1, 1), (2, 1), (2, 4), (3, 3)])
def test_causal_conv_matches_numpy(kernel_size, dilation):
    layer = CausalConv1D(5, kernel_size, dilation, bias_initializer="random_normal")
    x = RNG.normal(size=(2, 13, 3)).astype("float32")
    y = layer(x).numpy()
    expected = reference_conv(x, layer.kernel.numpy(), layer.bias.numpy(), dilation)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert layer.receptive_field == (kernel_size - 1) * dilation + 1


@pytest.mark.parametrize("conditioned", [False, True])
def test_wavenet_block_matches_numpy(conditioned):
    layer = WaveNetBlock(4, 3, 6, kernel_size=2, dilation_rate=4)
    x = RNG.normal(size=(2, 11, 4)).astype("float32")
    h = RNG.normal(size=(2, 5)).astype("float32") if conditioned else None
    residual, skip = layer([x, h] if conditioned else x)
    expected_residual, expected_skip = reference_block(x, h, layer)
    np.testing.assert_allclose(residual.numpy(), expected_residual, atol=1e-5)
    np.testing.assert_allclose(skip.numpy(), expected_skip, atol=1e-5)


def _causality(function, x, t0):
    """Changing x at t >= t0 changes no output before t0 (and does change some at or after t0)."""
    changed = x.copy()
    changed[:, t0:] = RNG.normal(size=changed[:, t0:].shape) * 3
    before, after = function(x), function(changed)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a[:, :t0], b[:, :t0])
        assert np.abs(a[:, t0:] - b[:, t0:]).max() > 1e-3  # the test can see a change


@pytest.mark.parametrize("t0", [0, 1, 5, 12])
def test_causal_conv_is_causal(t0):
    layer = CausalConv1D(4, 3, 2)
    x = RNG.normal(size=(2, 14, 3)).astype("float32")
    _causality(lambda v: [layer(v).numpy()], x, t0)


@pytest.mark.parametrize("t0", [0, 3, 9])
def test_wavenet_block_is_causal(t0):
    layer = WaveNetBlock(3, 4, 2, dilation_rate=3)
    x = RNG.normal(size=(2, 12, 3)).astype("float32")
    h = RNG.normal(size=(2, 2)).astype("float32")
    _causality(lambda v: [o.numpy() for o in layer([v, h])], x, t0)


@pytest.mark.parametrize("kernel_size, dilation", [(2, 1), (2, 4), (3, 2)])
def test_causal_conv_step_equals_call(kernel_size, dilation):
    layer = CausalConv1D(4, kernel_size, dilation, bias_initializer="random_normal")
    x = RNG.normal(size=(3, 15, 2)).astype("float32")
    full = layer(x).numpy()
    cache = layer.initial_cache(3)
    assert tuple(cache.shape) == (3, (kernel_size - 1) * dilation, 2)
    step = tf.function(layer.step)
    for t in range(x.shape[1]):
        y_t, cache = step(x[:, t], cache)
        np.testing.assert_allclose(y_t.numpy(), full[:, t], atol=1e-5)
    np.testing.assert_array_equal(cache.numpy(), x[:, -(kernel_size - 1) * dilation:])


@pytest.mark.parametrize("conditioned", [False, True])
def test_wavenet_block_step_equals_call(conditioned):
    layer = WaveNetBlock(3, 4, 5, kernel_size=2, dilation_rate=2)
    x = RNG.normal(size=(2, 9, 3)).astype("float32")
    h = RNG.normal(size=(2, 6)).astype("float32") if conditioned else None
    residual, skip = layer([x, h] if conditioned else x)
    cache = layer.initial_cache(2)
    for t in range(x.shape[1]):
        r_t, s_t, cache = layer.step(x[:, t], cache, h)
        np.testing.assert_allclose(r_t.numpy(), residual.numpy()[:, t], atol=1e-5)
        np.testing.assert_allclose(s_t.numpy(), skip.numpy()[:, t], atol=1e-5)


def test_step_under_xla_and_mixed_precision():
    layer = WaveNetBlock(4, 4, 4, dilation_rate=3, dtype="mixed_float16")
    x = RNG.normal(size=(2, 6, 4)).astype("float32")
    h = RNG.normal(size=(2, 3)).astype("float32")
    residual, skip = layer([x, h])
    assert residual.dtype == "float16" and all(w.dtype == "float32" for w in layer.weights)
    step = tf.function(layer.step, jit_compile=True)
    cache = layer.initial_cache(2)
    for t in range(6):
        r_t, s_t, cache = step(x[:, t], cache, h)
        np.testing.assert_allclose(r_t.numpy().astype("float32"), residual.numpy()[:, t].astype("float32"),
                                   atol=1e-2)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="`dilation_rate`"):
        CausalConv1D(4, dilation_rate=0)
    with pytest.raises(ValueError, match="`filters`"):
        CausalConv1D(2.5)
    with pytest.raises(ValueError, match="`inputs` must be"):
        CausalConv1D(4)(np.zeros((2, 3), "float32"))
    layer = CausalConv1D(4, 2, 3)
    layer(np.zeros((1, 5, 2), "float32"))
    with pytest.raises(ValueError, match="`cache` must be"):
        layer.step(np.zeros((1, 2), "float32"), np.zeros((1, 2, 2), "float32"))
    with pytest.raises(ValueError, match="`x_t` must have 2 channels"):
        layer.step(np.zeros((1, 3), "float32"), np.zeros((1, 3, 3), "float32"))
    with pytest.raises(ValueError, match="residual_channels=3"):
        WaveNetBlock(3, 2, 2)(np.zeros((1, 4, 5), "float32"))
    block = WaveNetBlock(3, 2, 2)
    block(np.zeros((1, 4, 3), "float32"))
    with pytest.raises(ValueError, match="conditioning vector `h`"):
        block([np.zeros((1, 4, 3), "float32"), np.zeros((1, 2), "float32")])
