"""Generated tasks of the pointer networks paper: sorting, convex hull, TSP.

Every example is drawn from a NumPy generator seeded by (seed, split,
index), so a split is the same whatever the batch size. Labels are exact:
- `sort_example`: indices that sort the values ascending;
- `hull_example`: the convex hull's vertices, counter-clockwise, starting at
  the smallest index on the hull (DESIGN.md's canonical order), collinear
  points on an edge left out;
- `tsp_example`: an optimal tour (Held-Karp dynamic programming, exact,
  O(n^2 2^n): used up to `HELD_KARP_MAX` cities), starting at city 0, in the
  direction whose second city has the smaller index.
"""

import itertools

import numpy as np

SPLITS = {"train": 0, "validation": 1, "test": 2}
HELD_KARP_MAX = 12


def rng_for(seed, split, index):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {sorted(SPLITS)}; received {split!r}.")
    return np.random.default_rng([seed, SPLITS[split], index])


def sort_example(rng, n):
    values = rng.random(n).astype(np.float32)
    return values, np.argsort(values, kind="stable").astype(np.int32)


def convex_hull(points):
    """Indices of the hull of `points` [n, 2], counter-clockwise, starting at
    the smallest index on the hull (Andrew's monotone chain)."""
    points = np.asarray(points, dtype=np.float64)
    order = sorted(range(len(points)), key=lambda i: (points[i, 0], points[i, 1], i))

    def cross(o, a, b):
        return (points[a, 0] - points[o, 0]) * (points[b, 1] - points[o, 1]) - (
            points[a, 1] - points[o, 1]) * (points[b, 0] - points[o, 0])

    def half(indices):
        chain = []
        for i in indices:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], i) <= 0:
                chain.pop()
            chain.append(i)
        return chain

    lower, upper = half(order), half(order[::-1])
    hull = lower[:-1] + upper[:-1] or order[:1]
    start = hull.index(min(hull))
    return np.array(hull[start:] + hull[:start], dtype=np.int32)


def hull_example(rng, n):
    points = rng.random((n, 2)).astype(np.float32)
    return points, convex_hull(points)


def tour_length(cities, tour):
    ordered = np.asarray(cities, dtype=np.float64)[np.asarray(tour)]
    return float(np.linalg.norm(ordered - np.roll(ordered, -1, axis=0), axis=1).sum())


def held_karp(cities):
    """An optimal closed tour of `cities` [n, 2] starting at 0 (exact)."""
    n = len(cities)
    if n > HELD_KARP_MAX:
        raise ValueError(f"Held-Karp is exact but O(n^2 2^n): at most {HELD_KARP_MAX} cities; got {n}.")
    if n <= 3:
        return np.arange(n, dtype=np.int32)
    distance = np.linalg.norm(cities[:, None].astype(np.float64) - cities[None], axis=-1)
    cost = {(1 << k, k): (distance[0, k], 0) for k in range(1, n)}
    for size in range(2, n):
        for subset in itertools.combinations(range(1, n), size):
            bits = sum(1 << k for k in subset)
            for k in subset:
                previous = bits & ~(1 << k)
                cost[bits, k] = min(
                    (cost[previous, m][0] + distance[m, k], m) for m in subset if m != k
                )
    full = (1 << n) - 2
    _, last = min((cost[full, k][0] + distance[k, 0], k) for k in range(1, n))
    tour, bits = [], full
    while last:
        tour.append(last)
        bits, last = bits & ~(1 << last), cost[bits, last][1]
    tour = [0] + tour[::-1]
    if tour[1] > tour[-1]:
        tour = [0] + tour[1:][::-1]
    return np.array(tour, dtype=np.int32)


def tsp_example(rng, n):
    cities = rng.random((n, 2)).astype(np.float32)
    return cities, held_karp(cities)
