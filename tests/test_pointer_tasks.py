import itertools

import numpy as np
import pytest

from training.tasks.pointer import generators as pt


def test_examples_are_deterministic_per_seed_split_and_index():
    a = pt.sort_example(pt.rng_for(0, "train", 5), 10)
    b = pt.sort_example(pt.rng_for(0, "train", 5), 10)
    np.testing.assert_array_equal(a[0], b[0])
    for other in (pt.rng_for(1, "train", 5), pt.rng_for(0, "test", 5), pt.rng_for(0, "train", 6)):
        assert not np.array_equal(a[0], pt.sort_example(other, 10)[0])
    with pytest.raises(ValueError, match="`split` must be one of"):
        pt.rng_for(0, "dev", 0)


def test_sort_labels_sort():
    values, order = pt.sort_example(pt.rng_for(0, "train", 0), 12)
    assert np.all(np.diff(values[order]) >= 0) and sorted(order) == list(range(12))


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


@pytest.mark.parametrize("index", range(20))
def test_hull_is_convex_counter_clockwise_canonical_and_contains_every_point(index):
    points, hull = pt.hull_example(pt.rng_for(0, "test", index), 5 + index)
    assert hull[0] == hull.min() and len(set(hull)) == len(hull)
    ring = points[hull].astype(np.float64)
    for i in range(len(ring)):  # every turn is a strict left turn
        assert _cross(ring[i - 2], ring[i - 1], ring[i]) > 0
    for p in points.astype(np.float64):  # every point inside or on every edge
        assert all(_cross(ring[i - 1], ring[i], p) >= -1e-12 for i in range(len(ring)))


def test_hull_of_a_square_with_an_inner_point_and_collinear_points():
    points = np.array([[0.5, 0.5], [1, 1], [0, 0], [0.5, 0], [1, 0], [0, 1]])
    np.testing.assert_array_equal(pt.convex_hull(points), [1, 5, 2, 4])


@pytest.mark.parametrize("n", [4, 6, 8])
def test_held_karp_matches_brute_force(n):
    cities, tour = pt.tsp_example(pt.rng_for(0, "test", n), n)
    best = min(pt.tour_length(cities, (0,) + p) for p in itertools.permutations(range(1, n)))
    assert tour[0] == 0 and sorted(tour) == list(range(n)) and tour[1] < tour[-1]
    assert abs(pt.tour_length(cities, tour) - best) < 1e-9


def test_held_karp_refuses_too_many_cities():
    with pytest.raises(ValueError, match="at most 12 cities"):
        pt.held_karp(np.zeros((13, 2)))
