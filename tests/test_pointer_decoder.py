import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from custom_layers import PointerDecoder
from custom_layers.pointer_attention import MASKED_LOGIT
from tests.layer_harness import run_layer_test

RNG = np.random.default_rng(0)
ENCODED = RNG.normal(size=(3, 5, 6)).astype("float32")
FEATURES = RNG.random((3, 5, 2)).astype("float32")
CONFIGS = {
    "sort": dict(end_token=False, fixed_first=False),
    "hull": dict(end_token=True, fixed_first=False),
    "tsp": dict(end_token=False, fixed_first=True),
}


@pytest.mark.parametrize("config", ["hull", "tsp"])
def test_layer_harness(tmp_path, config):
    end = CONFIGS[config]["end_token"]
    run_layer_test(
        PointerDecoder,
        {"units": 8, "attention_units": 6, "glimpses": 1, **CONFIGS[config]},
        input_shape=[(3, 5, 6), (3, 5, 2), (3, 4)],
        expected_output_shape=(3, 4, 5 + end),
        expected_num_trainable_weights=14 + end,
        tmp_path=tmp_path,
        mixed_precision_output_dtype="float32",
        integer_inputs={2: (-1, 5 + end)},
    )


def _decoder(config, glimpses=1, seed=1):
    keras.utils.set_random_seed(seed)
    layer = PointerDecoder(8, glimpses=glimpses, **CONFIGS[config])
    layer([ENCODED, FEATURES, np.zeros((3, 1), "int32")])
    return layer


def _as_targets(layer, sequences, n):
    """Decoded sequences (-1 after the end) as teacher-forcing targets."""
    targets = []
    for row in sequences.tolist():
        if layer.end_token:
            length = row.index(-1) if -1 in row else len(row)
            row = row[:length] + [n] + [-1] * (len(row) - length)
        targets.append(row)
    return np.array(targets, "int32")


def _sequence_log_prob(layer, targets, encoded=ENCODED, features=FEATURES):
    log_probs = layer([encoded, features, targets]).numpy()
    picked = np.take_along_axis(log_probs, np.maximum(targets, 0)[..., None], -1)[..., 0]
    return np.where(targets >= 0, picked, 0).sum(-1)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("beam_width", [1, 3])
def test_decoded_score_is_the_teacher_forced_log_probability(config, beam_width):
    layer = _decoder(config)
    sequences, scores = layer.decode(ENCODED, FEATURES, beam_width=beam_width)
    targets = _as_targets(layer, sequences.numpy(), 5)
    np.testing.assert_allclose(scores.numpy(), _sequence_log_prob(layer, targets), atol=1e-4)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_outputs_are_valid_and_greedy_is_beam_one(config):
    layer = _decoder(config)
    greedy, greedy_scores = layer.decode(ENCODED, FEATURES)
    beam, beam_scores = layer.decode(ENCODED, FEATURES, beam_width=4)
    assert np.all(beam_scores.numpy() >= greedy_scores.numpy() - 1e-5)
    for row in np.concatenate([greedy.numpy(), beam.numpy()]).tolist():
        if config == "sort":
            assert sorted(row) == list(range(5))
        elif config == "tsp":
            assert len(row) == 4 and sorted(row) == [1, 2, 3, 4]
        else:
            length = row.index(-1) if -1 in row else len(row)
            head = row[:length]
            assert len(set(head)) == length and all(0 <= i < 5 for i in head)
            assert all(i == -1 for i in row[length:])


@pytest.mark.parametrize("config", ["sort", "hull"])
def test_wide_beam_is_exhaustive_search(config):
    """With more beams than partial sequences, beam search is exact."""
    encoded, features = ENCODED[:, :4], FEATURES[:, :4]
    layer = _decoder(config)
    _, scores = layer.decode(encoded, features, beam_width=64)
    candidates = []
    for length in ([4] if config == "sort" else range(1, 5)):
        for perm in itertools.permutations(range(4), length):
            row = list(perm) + ([4] if config == "hull" else []) + [-1] * (4 - length)
            candidates.append(row[: 4 + (config == "hull")])
    best = np.max([_sequence_log_prob(layer, np.array([c] * 3, "int32"), encoded, features)
                   for c in candidates], axis=0)
    np.testing.assert_allclose(scores.numpy(), best, atol=1e-4)


def test_teacher_forcing_excludes_chosen_elements_and_the_fixed_first():
    layer = _decoder("tsp")
    targets = np.array([[3, 1, 4, 2]] * 3, "int32")
    probs = np.exp(layer([ENCODED, FEATURES, targets]).numpy())
    assert np.all(probs[:, :, 0] == 0)
    for t in range(1, 4):
        assert np.all(probs[:, t, targets[0, :t]] == 0)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)


def test_padding_is_never_chosen():
    layer = _decoder("hull")
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] * 4 + [False]])
    sequences, _ = layer.decode(ENCODED, FEATURES, mask=mask, beam_width=2)
    for row, m in zip(sequences.numpy(), mask):
        assert not any(i >= 0 and not m[i] for i in row)
    log_probs = layer([ENCODED, FEATURES, np.zeros((3, 2), "int32")], mask=[mask, None, None])
    assert np.all(np.exp(log_probs.numpy())[:, :, :5][~np.repeat(mask[:, None], 2, 1)] == 0)


@pytest.mark.parametrize("n", [3, 7])
def test_xla_and_graph_decoding_agree_for_any_size(n):
    layer = _decoder("hull")
    encoded = RNG.normal(size=(2, n, 6)).astype("float32")
    features = RNG.random((2, n, 2)).astype("float32")
    eager = layer.decode(encoded, features, beam_width=3)
    spec = [tf.TensorSpec((None, None, 6)), tf.TensorSpec((None, None, 2))]
    graph = tf.function(lambda e, f: layer.decode(e, f, beam_width=3), input_signature=spec)
    xla = tf.function(lambda e, f: layer.decode(e, f, beam_width=3), jit_compile=True)
    for sequences, scores in (graph(encoded, features), xla(encoded, features)):
        np.testing.assert_array_equal(sequences.numpy(), eager[0].numpy())
        np.testing.assert_allclose(scores.numpy(), eager[1].numpy(), atol=1e-4)


def test_mixed_precision_decoding_is_finite():
    layer = PointerDecoder(8, end_token=True, dtype="mixed_float16")
    sequences, scores = layer.decode(ENCODED, FEATURES, beam_width=3)
    assert scores.dtype == tf.float32 and np.all(scores.numpy() > MASKED_LOGIT / 2)
    assert sequences.dtype == tf.int32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`units` must be an int >= 1"):
        PointerDecoder(0)
    with pytest.raises(ValueError, match=r"`inputs` must be \[encoded, features, targets\]"):
        PointerDecoder(4)([ENCODED, FEATURES])
    with pytest.raises(ValueError, match="`beam_width` must be an int >= 1"):
        _decoder("sort").decode(ENCODED, FEATURES, beam_width=0)
