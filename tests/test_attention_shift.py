import keras
import numpy as np
import pytest

from custom_layers import AttentionShift, MemoryHop
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)


def test_attention_shift_harness(tmp_path):
    run_layer_test(AttentionShift, {"radius": 1}, input_shape=[(3, 5), (3, 4, 3)],
                   expected_output_shape=(3, 4, 3), expected_num_trainable_weights=4,
                   mixed_precision_output_dtype="float32", tmp_path=tmp_path)


def _reference(layer, state, attention):
    """The docstring's formula, offset by offset, in NumPy."""
    shift_kernel, shift_bias, gate_kernel, gate_bias = (w.numpy().astype("float64") for w in layer.weights)
    logits = state @ shift_kernel + shift_bias
    shift = np.exp(logits - logits.max(-1, keepdims=True))
    shift /= shift.sum(-1, keepdims=True)
    gate = 1 / (1 + np.exp(-(state @ gate_kernel + gate_bias)))
    batch, height, width = attention.shape
    moved = np.zeros_like(attention, dtype="float64")
    for k, (dy, dx) in enumerate(layer.offsets):
        for i in range(height):
            for j in range(width):
                if 0 <= i - dy < height and 0 <= j - dx < width:
                    moved[:, i, j] += shift[:, k] * attention[:, i - dy, j - dx]
    return gate[:, :, None] * moved + (1 - gate[:, :, None]) / (height * width)


def test_matches_a_numpy_reference_of_move_and_gate():
    state = RNG.normal(size=(4, 6)).astype("float32")
    attention = RNG.dirichlet(np.ones(20), size=4).reshape(4, 4, 5).astype("float32")
    layer = AttentionShift(radius=2)
    out = keras.ops.convert_to_numpy(layer([state, attention]))
    np.testing.assert_allclose(out, _reference(layer, state, attention), rtol=1e-5, atol=1e-7)


def _set(layer, offset, gate_logit):
    """A layer that moves by `offset` with the gate at sigmoid(`gate_logit`), whatever the state."""
    bias = np.full(len(layer.offsets), -100.0, "float32")
    bias[layer.offsets.index(offset)] = 100.0
    layer.shift_kernel.assign(np.zeros(layer.shift_kernel.shape, "float32"))
    layer.gate_kernel.assign(np.zeros(layer.gate_kernel.shape, "float32"))
    layer.shift_bias.assign(bias)
    layer.gate_bias.assign([gate_logit])


@pytest.mark.parametrize("offset", [(0, 0), (1, 0), (-2, 0), (0, 1), (0, -2), (1, -1)])
def test_one_offset_with_the_gate_open_moves_the_map_by_it(offset):
    layer = AttentionShift(radius=2)
    layer.build([(None, 3), (None, 6, 6)])
    _set(layer, offset, 100.0)
    attention = np.zeros((1, 6, 6), "float32")
    attention[0, 2, 3] = 1.0
    out = keras.ops.convert_to_numpy(layer([np.ones((1, 3), "float32"), attention]))
    expected = np.zeros((6, 6))
    expected[2 + offset[0], 3 + offset[1]] = 1.0
    np.testing.assert_allclose(out[0], expected, atol=1e-6)


def test_mass_moved_off_the_grid_is_dropped_not_wrapped():
    layer = AttentionShift(radius=1)
    layer.build([(None, 3), (None, 3, 3)])
    _set(layer, (0, 1), 100.0)
    attention = np.zeros((1, 3, 3), "float32")
    attention[0, 1, 2] = 1.0  # the right edge, moved right
    out = keras.ops.convert_to_numpy(layer([np.ones((1, 3), "float32"), attention]))
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


def test_a_closed_gate_gives_a_uniform_prior():
    layer = AttentionShift(radius=1)
    layer.build([(None, 3), (None, 2, 4)])
    _set(layer, (1, 1), -100.0)
    attention = RNG.dirichlet(np.ones(8), size=2).reshape(2, 2, 4).astype("float32")
    out = keras.ops.convert_to_numpy(layer([np.ones((2, 3), "float32"), attention]))
    np.testing.assert_allclose(out, 1 / 8, rtol=1e-6)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="`radius` must be a positive int"):
        AttentionShift(radius=0)
    with pytest.raises(ValueError, match="`inputs` must be \\[state, attention\\]"):
        AttentionShift()(keras.Input((6, 6)))
    with pytest.raises(ValueError, match="known height and width"):
        AttentionShift()([keras.Input((4,)), keras.Input((None, 6))])
    with pytest.raises(ValueError, match="`state` must be \\(batch, depth\\)"):
        AttentionShift()([keras.Input((2, 4)), keras.Input((6, 6))])


def test_memory_hop_harness_with_a_prior(tmp_path):
    run_layer_test(MemoryHop, {}, input_shape=[(3, 5), (3, 4, 5), (3, 4, 5), (3, 4)],
                   expected_output_shape=(3, 5), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=1, tmp_path=tmp_path)


def test_memory_hop_multiplies_the_content_match_by_the_prior():
    u = RNG.normal(size=(2, 4)).astype("float32")
    m, c = (RNG.normal(size=(2, 5, 4)).astype("float32") for _ in range(2))
    prior = RNG.uniform(0.1, 1.0, size=(2, 5)).astype("float32")
    prior[1, 3] = 0.0  # ruled out
    out, attention = MemoryHop()([u, m, c, prior], return_attention=True)
    expected = np.exp(np.einsum("bd,bsd->bs", u, m)) * prior
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(attention, expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(out, u + np.einsum("bs,bsd->bd", expected, c), rtol=1e-5, atol=1e-6)
    assert float(attention[1, 3]) < 1e-10


def test_memory_hop_prior_must_have_one_weight_per_slot():
    with pytest.raises(ValueError, match="`prior` must be \\(batch, slots\\)"):
        MemoryHop()([keras.Input((4,)), keras.Input((5, 4)), keras.Input((5, 4)), keras.Input((6,))])
