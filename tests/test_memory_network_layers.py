import keras
import numpy as np
import pytest

from custom_layers import LinearStart, MemoryHop, NullMemory, SentenceEncoder
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)


def test_memory_hop_harness(tmp_path):
    run_layer_test(MemoryHop, {"state_transform": True}, input_shape=[(3, 5), (3, 4, 5), (3, 4, 5)],
                   expected_output_shape=(3, 5), expected_num_trainable_weights=1,
                   expected_num_non_trainable_weights=1, tmp_path=tmp_path)


def test_memory_hop_with_capacity_harness(tmp_path):
    run_layer_test(MemoryHop, {"capacity": 6}, input_shape=[(3, 5), (3, 4, 5), (3, 4, 5)],
                   expected_output_shape=(3, 5), expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=1, tmp_path=tmp_path)


def test_capacity_counts_empty_slots_in_the_softmax_with_score_zero():
    u = RNG.normal(size=(2, 4)).astype("float32")
    m = RNG.normal(size=(2, 3, 4)).astype("float32")
    c = RNG.normal(size=(2, 3, 4)).astype("float32")
    slots = np.array([[True, False, True], [True, True, True]])
    out, attention = MemoryHop(capacity=5)([u, m, c], mask=[None, slots, None],
                                           return_attention=True)
    scores = np.einsum("bd,bsd->bs", u, m)
    # row 0: 2 real slots, 3 empty ones; row 1: 3 real, 2 empty (exp(0) = 1 each)
    expected = np.where(slots, np.exp(scores), 0.0)
    expected /= expected.sum(-1, keepdims=True) + np.array([[3.0], [2.0]])
    np.testing.assert_allclose(attention.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(out.numpy(), u + np.einsum("bs,bsd->bd", expected, c), rtol=1e-5,
                               atol=1e-6)
    # no empty slot left (a full memory, or more real slots than the capacity): a plain softmax
    full, _ = MemoryHop(capacity=2)([u, m, c], mask=[None, slots, None], return_attention=True)
    plain, _ = MemoryHop()([u, m, c], mask=[None, slots, None], return_attention=True)
    np.testing.assert_allclose(full.numpy(), plain.numpy(), rtol=1e-6)
    # large scores stay finite
    _, big = MemoryHop(capacity=50)([u * 1e3, m, c], return_attention=True)
    assert np.all(np.isfinite(big.numpy())) and np.all(big.numpy().sum(-1) <= 1.0 + 1e-6)
    for bad in (0, -1, 2.5, True, "50"):
        with pytest.raises(ValueError, match="`capacity` must be a positive int"):
            MemoryHop(capacity=bad)


def test_sentence_encoder_harness(tmp_path):
    run_layer_test(SentenceEncoder, {"temporal": True, "max_sentences": 6},
                   input_shape=(3, 4, 5, 6), expected_output_shape=(3, 4, 6),
                   expected_num_trainable_weights=1, tmp_path=tmp_path)


def test_position_encoding_matches_the_formula_and_ignores_padding():
    depth, words = 6, 4
    embedded = RNG.normal(size=(1, 2, words + 2, depth)).astype("float32")
    mask = np.zeros((1, 2, words + 2), bool)
    mask[0, 0, :words] = True
    mask[0, 1, :1] = True
    out = SentenceEncoder()(embedded, mask=mask).numpy()
    j = np.arange(1, words + 1)[:, None]
    k = np.arange(1, depth + 1)[None, :]
    l_kj = (1 - j / words) - (k / depth) * (1 - 2 * j / words)
    np.testing.assert_allclose(out[0, 0], (l_kj * embedded[0, 0, :words]).sum(0), atol=1e-5)
    one = (1 - 1) - (k[0] / depth) * (1 - 2)  # J = 1: l_k1 = k/d
    np.testing.assert_allclose(out[0, 1], one * embedded[0, 1, 0], atol=1e-5)
    bag = SentenceEncoder(position_encoding=False)(embedded, mask=mask).numpy()
    np.testing.assert_allclose(bag[0, 0], embedded[0, 0, :words].sum(0), atol=1e-5)


def test_temporal_encoding_counts_from_the_last_sentence():
    layer = SentenceEncoder(position_encoding=False, temporal=True, max_sentences=3)
    zeros = np.zeros((1, 5, 2, 4), "float32")
    out = layer(zeros).numpy()[0]
    table = layer.temporal_encoding.numpy()
    np.testing.assert_allclose(out, table[[2, 2, 2, 1, 0]], atol=1e-6)  # older than 3 share the last
    layer = SentenceEncoder(position_encoding=False, temporal=True, max_sentences=5)
    table = layer(zeros).numpy()[0][::-1]  # ages 0..4
    mask = np.ones((1, 5, 2), bool)
    mask[0, [1, 4]] = False  # an empty memory in the middle (RN), padding at the end
    out = layer(zeros, mask=mask).numpy()[0]
    np.testing.assert_allclose(out[[0, 2, 3]], table[[3, 1, 0]], atol=1e-6)


def test_story_mask_marks_non_empty_sentences():
    words = keras.Input((None, None), dtype="int32")
    encoded = SentenceEncoder()(keras.layers.Embedding(10, 4, mask_zero=True)(words))
    assert encoded._keras_mask is not None
    ids = np.array([[[1, 2, 0], [0, 0, 0], [3, 0, 0]]])
    mask = SentenceEncoder().compute_mask(np.zeros((1, 3, 3, 4)), ids > 0)
    np.testing.assert_array_equal(mask, [[True, False, True]])


def test_masked_slots_get_no_attention_and_one_memory_is_read_whole():
    u = RNG.normal(size=(2, 4)).astype("float32")
    m = RNG.normal(size=(2, 3, 4)).astype("float32")
    c = RNG.normal(size=(2, 3, 4)).astype("float32")
    slots = np.array([[True, False, True], [False, True, False]])
    hop = MemoryHop()
    out, attention = hop([u, m, c], mask=[None, slots, None], return_attention=True)
    attention = attention.numpy()
    assert np.all(attention[~slots] == 0)
    np.testing.assert_allclose(attention.sum(-1), 1, atol=1e-6)
    scores = np.einsum("bd,bsd->bs", u, m)[0, [0, 2]]
    expected = np.exp(scores) / np.exp(scores).sum()
    np.testing.assert_allclose(attention[0, [0, 2]], expected, atol=1e-5)
    # row 1 has one memory: p = 1 and u' = u + c
    np.testing.assert_allclose(out.numpy()[1], u[1] + c[1, 1], atol=1e-5)


def test_linear_mode_and_state_transform():
    u = RNG.normal(size=(2, 4)).astype("float32")
    m = RNG.normal(size=(2, 3, 4)).astype("float32")
    c = RNG.normal(size=(2, 3, 4)).astype("float32")
    hop = MemoryHop(state_transform=True)
    hop([u, m, c])
    hop.softmax_gate.assign(0.0)
    out, attention = hop([u, m, c], return_attention=True)
    scores = np.einsum("bd,bsd->bs", u, m)
    np.testing.assert_allclose(attention.numpy(), scores, atol=1e-5)
    expected = u @ hop.state_kernel.numpy() + np.einsum("bs,bsd->bd", scores, c)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)
    with pytest.raises(ValueError, match="same depth"):
        MemoryHop()([u, m[..., :3], c])


def _tiny_memory_model():
    u, m, c = keras.Input((4,)), keras.Input((3, 4)), keras.Input((3, 4))
    out = keras.layers.Dense(2)(MemoryHop()([u, m, c]))
    model = keras.Model([u, m, c], out)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


def _started(schedule):
    """The hop of a tiny model, and `schedule` begun on that model."""
    model = _tiny_memory_model()
    schedule.set_model(model)
    schedule.on_train_begin()
    return next(layer for layer in model.layers if isinstance(layer, MemoryHop)), schedule


def test_linear_start_removes_then_restores_the_softmax():
    hop, schedule = _started(LinearStart(patience=2))
    assert float(hop.softmax_gate.numpy()) == 0.0
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.8, 0.85]):
        schedule.on_epoch_end(epoch, {"val_loss": loss})
        assert float(hop.softmax_gate.numpy()) == 0.0  # never two epochs without progress
    schedule.on_epoch_end(5, {"val_loss": 0.81})
    assert float(hop.softmax_gate.numpy()) == 1.0 and schedule.restored_at == 5
    schedule.on_epoch_end(6, {"val_loss": 2.0})
    assert float(hop.softmax_gate.numpy()) == 1.0
    with pytest.raises(ValueError, match="no 'val_loss'"):
        LinearStart().on_epoch_end(0, {"loss": 1.0})


def test_linear_start_for_a_fixed_number_of_epochs_ignores_the_loss():
    hop, schedule = _started(LinearStart(epochs=3))
    for epoch, loss in enumerate([1.0, 2.0, 3.0]):  # rising: would switch after epoch 2
        assert float(hop.softmax_gate.numpy()) == 0.0
        schedule.on_epoch_end(epoch, {"val_loss": loss})
    assert float(hop.softmax_gate.numpy()) == 1.0 and schedule.restored_at == 2
    with pytest.raises(ValueError, match="`epochs` must be a positive int or None; received 0"):
        LinearStart(epochs=0)


def test_linear_start_in_fit_and_after_a_resume():
    model = _tiny_memory_model()
    hop = next(layer for layer in model.layers if isinstance(layer, MemoryHop))
    x = [RNG.normal(size=(16, 4)), RNG.normal(size=(16, 3, 4)), RNG.normal(size=(16, 3, 4))]
    y = RNG.normal(size=(16, 2))
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(float(hop.softmax_gate.numpy())))
    model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[LinearStart(), record])
    assert seen == [0.0, 0.0]
    hop.softmax_gate.assign(1.0)  # as a resumed run's weights would hold it
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[LinearStart()])
    assert float(hop.softmax_gate.numpy()) == 1.0


def test_null_memory_harness(tmp_path):
    run_layer_test(NullMemory, {"initializer": "random_normal"}, input_shape=(3, 4, 5),
                   expected_output_shape=(3, 5, 5), expected_num_trainable_weights=1, tmp_path=tmp_path)


def test_null_memory_prepends_its_slot_and_lets_a_hop_look_nowhere():
    layer = NullMemory(initializer="ones")
    memory = np.random.default_rng(1).uniform(-0.5, 0.5, size=(2, 3, 4)).astype("float32")
    out = layer(memory).numpy()
    np.testing.assert_allclose(out[:, 0], 1.0)
    np.testing.assert_allclose(out[:, 1:], memory)
    mask = np.array([[True, True, False], [True, False, False]])
    np.testing.assert_array_equal(layer.compute_mask(memory, mask),
                                  [[True, True, True, False], [True, True, False, False]])
    # A state aligned with the null key puts (almost) all its weight there and reads the null value.
    u = np.full((2, 4), 10.0, "float32")
    values = NullMemory(initializer="zeros")(memory)
    _, attention = MemoryHop()([u, out, values], return_attention=True)
    assert np.all(attention.numpy()[:, 0] > attention.numpy()[:, 1:].max(-1))
    with pytest.raises(ValueError, match="NullMemory: `inputs` must be a memory"):
        NullMemory()(np.zeros((2, 3), "float32"))
