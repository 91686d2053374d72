import numpy as np
import pytest
import tensorflow as tf

from training.tasks.pointer import pipeline as pdata
from training.tasks.pointer import builders as pointer_datasets
from training.tasks.pointer import generators as pt
from zoo import pointer_networks as pn


def test_tfds_builder_holds_the_held_out_cases(tmp_path):
    builder = pointer_datasets.builder(
        "hull", sizes=(9, 9), examples={"train": 4, "validation": 2, "test": 6}, cache_dir=tmp_path)
    assert builder.info.splits["test"].num_examples == 6
    inputs, labels = pdata.held_out("hull", "test", size=9, examples=6)
    for i, example in enumerate(builder.as_dataset(split="test").as_numpy_iterator()):
        np.testing.assert_array_equal(example["inputs"], inputs["points"][i])
        np.testing.assert_array_equal(example["label"], labels[i][labels[i] >= 0])
    with pytest.raises(ValueError, match="`task` must be one of"):
        pointer_datasets.builder("knapsack")
    with pytest.raises(ValueError, match="`sizes` must be"):
        pointer_datasets.builder("sort", sizes=(9, 3))


def test_variable_sizes_are_seeded(tmp_path):
    sizes = [pointer_datasets.example("tsp", 0, "train", i, (5, 9))[2] for i in range(30)]
    assert min(sizes) >= 5 and max(sizes) <= 9 and len(set(sizes)) > 2
    assert sizes == [pointer_datasets.example("tsp", 0, "train", i, (5, 9))[2] for i in range(30)]


def test_training_targets_follow_geometry():
    points, hull = pt.hull_example(pt.rng_for(0, "train", 3), 12)
    target = pdata.training_target("hull", points, hull)
    length = len(hull)
    ring = target[:length]
    assert points[ring[0], 0] == points[hull, 0].min()  # starts at the leftmost vertex
    assert sorted(ring) == sorted(hull) and target[length] == 12 and np.all(target[length + 1:] == -1)
    assert pdata.signed_area(points, ring) > 0
    cities, tour = pt.tsp_example(pt.rng_for(0, "train", 3), 8)
    rest = pdata.training_target("tsp", cities, tour)
    assert pdata.signed_area(cities, np.r_[0, rest]) > 0
    assert abs(pt.tour_length(cities, np.r_[0, rest]) - pt.tour_length(cities, tour)) < 1e-9


def test_training_batches_have_one_size_each_and_fresh_epochs():
    ds = pdata.dataset("hull", "train", batch_size=8, sizes=(5, 12), train_examples=64, seed=3)
    first = [(x["points"].numpy(), y.numpy()) for x, y in ds]
    second = [x["points"].numpy() for x, _ in ds]
    assert len(first) == 8 and all(5 <= p.shape[1] <= 12 for p, _ in first)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for (a, _), b in zip(first, second))
    for points, targets in first:  # END (= n) closes every row
        assert np.all((targets == points.shape[1]).sum(axis=1) == 1)
    again = pdata.dataset("hull", "train", batch_size=8, sizes=(5, 12), train_examples=64, seed=3)
    np.testing.assert_array_equal(next(iter(again))[0]["points"], first[0][0])
    with pytest.raises(ValueError, match="`sizes` must be"):
        pdata.dataset("sort", "train", sizes=(1, 4))


def test_scores_of_perfect_and_of_broken_answers():
    inputs, labels = pdata.held_out("hull", "validation", size=20, examples=8)
    perfect = pdata.score_hull({"hull": labels}, inputs, labels)
    assert perfect["exact"] == 1 and perfect["valid"] == 1
    assert perfect["area_coverage"] == pytest.approx(1)
    broken = labels.copy()
    broken[0, 1] = broken[0, 0]  # a repeated vertex
    broken[1] = -1  # nothing
    scores = pdata.score_hull({"hull": broken}, inputs, labels)
    assert scores["valid"] == 0.75 and scores["exact"] == 0.75 and scores["area_coverage"] < 0.8

    inputs, labels = pdata.held_out("tsp", "validation", size=8, examples=5)
    lengths = [pt.tour_length(c, t) for c, t in zip(inputs["cities"], labels)]
    scores = pdata.score_tsp({"tour": labels, "tour_length": np.array(lengths)}, inputs, labels)
    assert scores["error"] == pytest.approx(0) and scores["valid"] == 1
    assert scores["tour_length_max_error"] == 0
    bad = labels.copy()
    bad[0, 0], bad[0, 1] = bad[0, 1], bad[0, 0]  # does not start at 0
    assert pdata.score_tsp({"tour": bad, "tour_length": np.array(lengths)}, inputs, labels)["valid"] == 0.8

    inputs, labels = pdata.held_out("sort", "validation", size=6, examples=4)
    assert pdata.score_sort({"order": labels}, inputs, labels)["exact"] == 1
    assert pdata.score_sort({"order": labels[:, ::-1]}, inputs, labels)["exact"] == 0


def test_two_opt_is_close_to_optimal():
    cities = np.random.default_rng(0).random((20, 9, 2))
    heuristic = pt.two_opt(cities, np.random.default_rng(1), restarts=16)
    optimal = [pt.tour_length(c, pt.held_karp(c)) for c in cities]
    found = [pt.tour_length(c, t) for c, t in zip(cities, heuristic)]
    assert all(sorted(t) == list(range(9)) and t[0] == 0 and t[1] < t[-1] for t in heuristic.tolist())
    assert np.mean(found) <= np.mean(optimal) * 1.005


def test_hull_rotation_and_tour_length_in_the_graph():
    hull = tf.constant([[4, 2, 7, 1, -1, -1, -1, -1], [3, 0, 5, -1, -1, -1, -1, -1]])
    np.testing.assert_array_equal(pn._start_at_smallest(hull).numpy(),
                                  [[1, 4, 2, 7, -1, -1, -1, -1], [0, 5, 3, -1, -1, -1, -1, -1]])
    cities = np.random.default_rng(0).random((2, 6, 2)).astype("float32")
    tour = np.array([[0, 3, 1, 5, 2, 4], [0, 1, 2, 3, 4, 5]], "int32")
    np.testing.assert_allclose(pn._closed_length(cities, tour).numpy(),
                               [pt.tour_length(c, t) for c, t in zip(cities, tour)], rtol=1e-6)
