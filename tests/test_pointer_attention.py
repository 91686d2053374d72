import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import PointerAttention
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)
QUERY = RNG.normal(size=(3, 5)).astype("float32")
KEYS = RNG.normal(size=(3, 6, 4)).astype("float32")


def test_layer_harness(tmp_path):
    run_layer_test(
        PointerAttention,
        {"units": 7},
        input_shape=[(3, 5), (3, 6, 4)],
        expected_output_shape=(3, 6),
        expected_num_trainable_weights=3,
        tmp_path=tmp_path,
        mixed_precision_output_dtype="float32",
    )


def test_matches_the_formula_and_is_a_distribution():
    layer = PointerAttention(8)
    log_probs = layer([QUERY, KEYS]).numpy()
    w_k, w_q, v = [w.numpy() for w in layer.weights]
    logits = np.tanh(KEYS @ w_k + (QUERY @ w_q)[:, None]) @ v
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(log_probs, expected, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1, atol=1e-5)


def test_padding_and_excluded_positions_get_zero_probability():
    layer = PointerAttention(8)
    padding = np.array([[True] * 6, [True] * 4 + [False] * 2, [True] * 5 + [False]])
    excluded = np.zeros((3, 6), bool)
    excluded[0, 2] = excluded[1, 0] = True
    probs = np.exp(layer([QUERY, KEYS], mask=[None, padding], excluded=excluded).numpy())
    blocked = ~padding | excluded
    assert np.all(probs[blocked] == 0)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
    # the mask propagated by Keras from a Masking layer
    keys = keras.Input((None, 4))
    query = keras.Input((5,))
    out = PointerAttention(8)([query, keras.layers.Masking(0.0)(keys)])
    model = keras.Model([query, keys], out)
    padded = KEYS.copy()
    padded[:, -1] = 0.0
    assert np.all(np.exp(model.predict([QUERY, padded], verbose=0))[:, -1] == 0)


def test_every_position_masked_gives_no_nan_even_in_mixed_precision():
    layer = PointerAttention(8, dtype="mixed_float16")
    out = layer([QUERY, KEYS], excluded=np.ones((3, 6), bool)).numpy()
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    np.testing.assert_allclose(np.exp(out), 1 / 6, atol=1e-6)


def test_permuting_the_inputs_permutes_the_pointer():
    layer = PointerAttention(8)
    order = RNG.permutation(6)
    np.testing.assert_allclose(layer([QUERY, KEYS[:, order]]).numpy(),
                               layer([QUERY, KEYS]).numpy()[:, order], atol=1e-5)


def test_several_decoder_steps_at_once():
    layer = PointerAttention(8)
    queries = RNG.normal(size=(3, 2, 5)).astype("float32")
    both = layer([queries, KEYS]).numpy()
    assert both.shape == (3, 2, 6)
    np.testing.assert_allclose(both[:, 1], layer([queries[:, 1], KEYS]).numpy(), atol=1e-5)
    xla = tf.function(layer, jit_compile=True)([queries, KEYS])
    np.testing.assert_allclose(xla.numpy(), both, atol=1e-5)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="`units` must be a positive int"):
        PointerAttention(0)
    with pytest.raises(ValueError, match=r"`keys` must have shape \(batch, positions, features\)"):
        PointerAttention(4)([QUERY, KEYS[:, 0]])
    with pytest.raises(ValueError, match=r"must be \[query, keys\]"):
        PointerAttention(4).build((3, 5))
