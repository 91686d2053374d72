import numpy as np
import pytest
import tensorflow as tf

import zoo
from training.tasks.pointer import pipeline as pdata
from zoo.pointer_networks import build_pointer_network, serving_fn

RNG = np.random.default_rng(0)
HULL_EXACT_AT_50 = 0.85  # published weights: 88.9% on the 1,000 test cases (RESULTS.md)


def _inputs(task, n, batch=3):
    shape = (batch, n) if task == "sort" else (batch, n, 2)
    return RNG.random(shape).astype("float32")


@pytest.mark.parametrize("encoder", ["set", "lstm"])
@pytest.mark.parametrize("task", ["sort", "hull", "tsp"])
def test_untrained_answers_are_valid_at_any_size(task, encoder):
    model = build_pointer_network(task, encoder=encoder, units=16, layers=1, heads=2)
    for n in (3, 13):
        x = _inputs(task, n)
        for beam in (1, 3):
            outputs = {k: v.numpy() for k, v in serving_fn(task, beam)(model)(x).items()}
            scorer = getattr(pdata, f"score_{task}")
            if task == "hull":  # any valid answer; the labels only set the shape here
                labels = np.full((3, n), -1)
                labels[:, :3] = [0, 1, 2]
            else:
                labels = np.tile(np.arange(n), (3, 1))
            scores = scorer(outputs, {pdata.INPUT_NAMES[task]: x}, labels)
            assert scores["valid"] == 1, (n, beam, outputs)
            if task == "tsp":
                assert scores["tour_length_max_error"] < 1e-5


def test_teacher_forcing_shapes():
    model = build_pointer_network("hull", units=16, layers=1, heads=2)
    log_probs = model({"points": _inputs("hull", 7), "targets": np.zeros((3, 4), "int32")})
    assert log_probs.shape == (3, 4, 8)  # 7 points and END


def test_non_finite_input_is_named():
    serve = serving_fn("tsp")(build_pointer_network("tsp", units=16, layers=1, heads=2))
    cities = _inputs("tsp", 5)
    cities[0, 1, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`cities` must be finite"):
        serve(cities)


@pytest.mark.parametrize("kwargs,message", [
    ({"task": "knapsack"}, "`task` must be one of"),
    ({"encoder": "gru"}, "`encoder` must be 'set' or 'lstm'"),
])
def test_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_pointer_network(**kwargs)


def test_entries_declare_design_signatures():
    assert [i.name for i in zoo.get("pointer_sort").inputs] == ["values"]
    assert [o.name for o in zoo.get("pointer_hull").outputs] == ["hull"]
    assert [o.name for o in zoo.get("pointer_tsp").outputs] == ["tour", "tour_length"]


@pytest.fixture(scope="module")
def exported(zoo_exports):
    names = ("pointer_sort", "pointer_hull", "pointer_tsp")
    zoo_exports.prefetch(names)
    return {name: zoo_exports.get(name) for name in names}


def _scores(exported, name, size, examples=200):
    from exports import verify

    return verify.evaluate_export(exported[name], name, split="test", size=size,
                                  examples=examples)


def test_pretrained_sort_export(exported):
    scores = _scores(exported, "pointer_sort", 10)
    assert scores["valid"] == 1 and scores["exact"] >= 0.95, scores


def test_pretrained_hull_export(exported):
    scores = _scores(exported, "pointer_hull", 50)
    assert scores["valid"] == 1 and scores["exact"] >= HULL_EXACT_AT_50, scores
    assert scores["area_coverage"] >= 0.999, scores


@pytest.mark.parametrize("size,gap", [(10, 0.005), (20, 0.02)])
def test_pretrained_tsp_export(exported, size, gap):
    scores = _scores(exported, "pointer_tsp", size)
    assert scores["valid"] == 1 and scores["tour_length_max_error"] < 1e-4, scores
    assert scores["error"] <= gap, scores


def test_set_encoder_network_is_permutation_equivariant():
    from zoo.pointer_networks import decoding_fn

    model = build_pointer_network("hull", units=16, layers=1, heads=2)
    points = _inputs("hull", 9, batch=2)
    perm = np.random.default_rng(1).permutation(9)
    decode = decoding_fn(model, beam_width=2)
    original = decode(points)[0].numpy()
    permuted = decode(points[:, perm])[0].numpy()
    mapped = np.where(permuted >= 0, perm[np.maximum(permuted, 0)], -1)
    np.testing.assert_array_equal(mapped, original)
