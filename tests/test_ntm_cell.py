import numpy as np
import pytest
import keras
import tensorflow as tf

from custom_layers import NTM, NTMCell
from custom_layers import ntm_cell
from tests.layer_harness import run_layer_test


def test_ntm_layer_harness(tmp_path):
    run_layer_test(
        NTM,
        {"units": 4, "memory_size": 6, "memory_width": 3, "seed": 1},
        input_shape=(3, 5, 6),
        expected_output_shape=(3, 5, 7),
        expected_num_trainable_weights=7,  # 4 of the cell, 3 of its LSTM
        supports_masking=True,
        tmp_path=tmp_path,
    )


def test_ntm_layer_harness_feedforward_learned_memory_two_heads_each(tmp_path):
    run_layer_test(
        NTM,
        {"units": 5, "memory_size": 7, "memory_width": 2, "read_heads": 2, "write_heads": 2,
         "shift_range": 5, "controller": "feedforward", "memory_init": "learned", "seed": 2},
        input_shape=(2, 4, 3),
        expected_output_shape=(2, 4, 9),
        expected_num_trainable_weights=7,  # + the initial memory, 2 of the Dense
        supports_masking=True,
        tmp_path=tmp_path,
    )


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _numpy_address(memory, previous, key, beta, g, shift, gamma):
    """Section 3.3 of the NTM paper, one location at a time."""
    b, h, n = previous.shape
    out = np.zeros_like(previous)
    for i in range(b):
        for j in range(h):
            cos = np.array([key[i, j] @ memory[i, k] / (np.linalg.norm(key[i, j]) * np.linalg.norm(memory[i, k]))
                            for k in range(n)])
            wc = _softmax(beta[i, j, 0] * cos)
            wg = g[i, j, 0] * wc + (1 - g[i, j, 0]) * previous[i, j]
            half = shift.shape[-1] // 2
            ws = np.array([sum(wg[(k - o) % n] * shift[i, j, o + half] for o in range(-half, half + 1))
                           for k in range(n)])
            sharp = ws ** gamma[i, j, 0]
            out[i, j] = sharp / sharp.sum()
    return out


def test_addressing_matches_the_paper_step_by_step():
    rng = np.random.default_rng(0)
    b, h, n, m, s = 2, 3, 8, 5, 3
    memory = rng.normal(size=(b, n, m))
    previous = _softmax(rng.normal(size=(b, h, n)))
    key = rng.normal(size=(b, h, m))
    beta = rng.uniform(0, 5, size=(b, h, 1))
    g = rng.uniform(size=(b, h, 1))
    shift = _softmax(rng.normal(size=(b, h, s)))
    gamma = 1 + rng.uniform(0, 3, size=(b, h, 1))
    ours = ntm_cell.address(memory, previous, key, beta, g, shift, gamma)
    np.testing.assert_allclose(np.asarray(ours), _numpy_address(memory, previous, key, beta, g, shift, gamma),
                               rtol=1e-6, atol=1e-9)


def test_a_shift_by_one_moves_the_weighting_by_one_location_circularly():
    weighting = np.zeros((1, 1, 6))
    weighting[0, 0, 5] = 1.0
    right = np.array([[[0.0, 0.0, 1.0]]])  # offsets -1, 0, +1
    np.testing.assert_array_equal(np.asarray(ntm_cell.circular_shift(weighting, right))[0, 0],
                                  [1, 0, 0, 0, 0, 0])
    left = np.array([[[1.0, 0.0, 0.0]]])
    np.testing.assert_array_equal(np.asarray(ntm_cell.circular_shift(weighting, left))[0, 0],
                                  [0, 0, 0, 0, 1, 0])


def test_sharpening_with_large_gamma_stays_finite_and_picks_the_peak():
    weighting = np.array([[[0.1, 0.5, 0.2, 0.2] + [0.0] * 124]])
    sharp = np.asarray(ntm_cell.sharpen(weighting, np.array([[[60.0]]])))
    assert np.all(np.isfinite(sharp))
    np.testing.assert_allclose(sharp[0, 0, 1], 1.0, atol=1e-6)


def test_content_addressing_finds_the_row_like_the_key():
    memory = np.eye(4, 3)[None] * 2.0  # rows e0, e1, e2, 0
    key = np.array([[[0.0, 3.0, 0.0]]])
    w = np.asarray(ntm_cell.content_weighting(memory, key, np.array([[[50.0]]])))
    assert w.argmax() == 1 and w[0, 0, 1] > 0.999


def test_write_erases_then_adds_and_read_returns_the_weighted_rows():
    rng = np.random.default_rng(1)
    memory = rng.normal(size=(1, 5, 4))
    w = _softmax(rng.normal(size=(1, 2, 5)))
    erase = rng.uniform(size=(1, 2, 4))
    add = rng.normal(size=(1, 2, 4))
    expected = memory[0].copy()
    for head in range(2):
        expected = expected * (1 - np.outer(w[0, head], erase[0, head]))
    expected = expected + sum(np.outer(w[0, head], add[0, head]) for head in range(2))
    written = np.asarray(ntm_cell.write(memory, w, erase, add))
    np.testing.assert_allclose(written[0], expected, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ntm_cell.read(memory, w))[0], w[0] @ memory[0], rtol=1e-10)


def test_a_full_erase_and_one_hot_write_stores_the_vector():
    memory = np.full((1, 4, 3), 0.7)
    w = np.array([[[0.0, 0.0, 1.0, 0.0]]])
    written = np.asarray(ntm_cell.write(memory, w, np.ones((1, 1, 3)), np.array([[[1.0, -1.0, 0.5]]])))
    np.testing.assert_allclose(written[0, 2], [1.0, -1.0, 0.5])
    np.testing.assert_allclose(written[0, [0, 1, 3]], 0.7)
    np.testing.assert_allclose(np.asarray(ntm_cell.read(written, w))[0, 0], [1.0, -1.0, 0.5])


def test_initial_memory_schemes():
    constant = NTMCell(3, 4, 2)
    constant.build((None, 5))
    memory = constant.get_initial_state(batch_size=2)[2]
    np.testing.assert_allclose(np.asarray(memory), 1e-6)
    random_a, random_b = NTMCell(3, 4, 2, memory_init="random", seed=3), NTMCell(3, 4, 2, memory_init="random", seed=3)
    for cell in (random_a, random_b):
        cell.build((None, 5))
    assert not random_a.initial_memory.trainable
    np.testing.assert_array_equal(np.asarray(random_a.get_initial_state(batch_size=1)[2]),
                                  np.asarray(random_b.get_initial_state(batch_size=1)[2]))
    learned = NTMCell(3, 4, 2, memory_init="learned")
    learned.build((None, 5))
    assert learned.initial_memory.trainable


def test_masked_steps_leave_memory_and_states_unchanged():
    layer = NTM(4, 6, 3, return_state=True, seed=0)
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    mask = np.array([[True] * 5, [True, True, False, False, False]])
    _, *masked = layer(x, mask=mask)
    _, *short = layer(x[:, :2])
    for a, b in zip(masked, short):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b)[1], atol=1e-6)


def test_mixed_precision_keeps_memory_and_addressing_in_float32():
    cell = NTMCell(4, 6, 3, dtype="mixed_float16")
    cell.build((None, 5))
    assert cell.compute_dtype == "float32"
    assert cell.controller_layer.compute_dtype == "float16"
    states = cell.get_initial_state(batch_size=2)
    output, new_states = cell(np.ones((2, 5), "float32"), states)
    assert all(keras.backend.standardize_dtype(t.dtype) == "float32" for t in new_states)
    layer = NTM(4, 6, 3, dtype="mixed_float16")
    assert keras.backend.standardize_dtype(layer(np.ones((2, 3, 5), "float32")).dtype) == "float16"


def test_controller_output_is_clipped():
    cell = NTMCell(3, 4, 2, controller="feedforward", clip_value=0.25)
    cell.build((None, 2))
    cell.controller_layer.kernel.assign(np.full((4, 3), 100.0, "float32"))
    cell.initial_reads.assign(np.zeros(2, "float32"))
    states = cell.get_initial_state(batch_size=1)
    output, _ = cell(np.ones((1, 2), "float32"), states)
    np.testing.assert_allclose(np.asarray(output)[0, :3], 0.25)


def test_trains_under_jit_compile_without_nans():
    inputs = keras.Input((None, 4))
    h = NTM(8, 10, 4, seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="sigmoid")(h))
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=10.0), "binary_crossentropy", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(16, 6, 4)).astype("float32")
    history = model.fit(x, x[..., :3], epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("kwargs,message", [
    ({"units": 0}, "`units`"),
    ({"memory_size": -1}, "`memory_size`"),
    ({"memory_width": 2.5}, "`memory_width`"),
    ({"read_heads": 0}, "`read_heads`"),
    ({"write_heads": 0}, "`write_heads`"),
    ({"shift_range": 2}, "`shift_range`"),
    ({"shift_range": 9}, "`shift_range`"),
    ({"controller": "gru"}, "`controller`"),
    ({"memory_init": "zeros"}, "`memory_init`"),
    ({"clip_value": 0}, "`clip_value`"),
])
def test_bad_sizes_are_named(kwargs, message):
    args = {"units": 4, "memory_size": 8, "memory_width": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        NTMCell(**args)


def test_a_step_input_of_the_wrong_rank_is_named():
    with pytest.raises(ValueError, match="`inputs` of one step"):
        NTMCell(3, 4, 2).build((None, 5, 2))


def test_gradient_through_a_long_copy_is_finite():
    layer = NTM(8, 16, 4, seed=0)
    x = tf.constant(np.random.default_rng(3).integers(0, 2, size=(2, 60, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(y, layer.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
