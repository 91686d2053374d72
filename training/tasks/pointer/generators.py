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

import numpy as np

from training.tasks import generated

SPLITS = {"train": 0, "validation": 1, "test": 2}
HELD_KARP_MAX = 12


def rng_for(seed, split, index):
    return generated.stream_rng(seed, split, index, SPLITS)


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
    """An optimal closed tour of `cities` [n, 2] starting at 0 (exact).

    Dynamic programming over (visited subset, last city), vectorised over
    all subsets of one size: O(n^2 2^n) time, O(n 2^n) memory.
    """
    n = len(cities)
    if n > HELD_KARP_MAX:
        raise ValueError(f"Held-Karp is exact but O(n^2 2^n): at most {HELD_KARP_MAX} cities; got {n}.")
    if n <= 3:
        return np.arange(n, dtype=np.int32)
    distance = np.linalg.norm(cities[:, None].astype(np.float64) - cities[None], axis=-1)
    m = n - 1  # cities 1..n-1 are bits 0..m-1
    inner = distance[1:, 1:]  # inner[k, j]: from city k+1 to city j+1
    cost = np.full((1 << m, m), np.inf)
    parent = np.zeros((1 << m, m), dtype=np.int64)
    bits = 1 << np.arange(m)
    cost[bits, np.arange(m)] = distance[0, 1:]
    masks = np.arange(1 << m)
    sizes = np.array([bin(x).count("1") for x in range(1 << m)])
    for size in range(2, m + 1):
        group = masks[sizes == size]
        previous = group[:, None] ^ bits[None]  # [G, j]: the subset before ending at j
        candidates = cost[previous] + inner.T[None]  # [G, j, k]
        best = candidates.argmin(axis=-1)
        value = np.take_along_axis(candidates, best[..., None], -1)[..., 0]
        inside = (group[:, None] & bits[None]) > 0
        cost[group] = np.where(inside, value, np.inf)
        parent[group] = best
    full = (1 << m) - 1
    last = int(np.argmin(cost[full] + distance[1:, 0]))
    tour, subset = [], full
    for _ in range(m):
        tour.append(last + 1)
        subset, last = subset ^ (1 << last), int(parent[subset, last])
    tour = [0] + tour[::-1]
    if tour[1] > tour[-1]:
        tour = [0] + tour[1:][::-1]
    return np.array(tour, dtype=np.int32)


def two_opt(cities, rng, restarts=8, max_rounds=1000):
    """Good closed tours of a batch of instances [B, n, 2] by 2-opt.

    Each instance starts from `restarts` random tours; every round applies,
    to every tour, the segment reversal that shortens it most, until none
    does; the shortest local optimum is kept (rotated to start at city 0).
    A heuristic: `tsp_reference` measures its gap to Held-Karp.
    """
    cities = np.asarray(cities, dtype=np.float64)
    b, n, _ = cities.shape
    if n <= 3:
        return np.tile(np.arange(n, dtype=np.int32), (b, 1))
    tours = np.argsort(rng.random((b * restarts, n)), axis=1)
    points = np.repeat(cities, restarts, axis=0)
    distance = np.linalg.norm(points[:, :, None] - points[:, None], axis=-1)
    rows = np.arange(b * restarts)[:, None]
    i, j = np.triu_indices(n, 2)
    keep = ~((i == 0) & (j == n - 1))
    i, j = i[keep], j[keep]
    position = np.arange(n)[None]
    for _ in range(max_rounds):
        nxt = np.roll(tours, -1, axis=1)
        d = lambda a, c: distance[rows, a, c]  # noqa: E731
        gain = (d(tours[:, i], tours[:, j]) + d(nxt[:, i], nxt[:, j])
                - d(tours[:, i], nxt[:, i]) - d(tours[:, j], nxt[:, j]))
        move = gain.argmin(axis=1)
        better = gain[np.arange(len(tours)), move] < -1e-12
        if not better.any():
            break
        lo, hi = i[move][:, None] + 1, j[move][:, None]
        inside = better[:, None] & (position >= lo) & (position <= hi)
        source = np.where(inside, lo + hi - position, position)
        tours = np.take_along_axis(tours, source, axis=1)
    ring = np.take_along_axis(points, np.repeat(tours[..., None], 2, -1), axis=1)
    lengths = np.linalg.norm(ring - np.roll(ring, -1, axis=1), axis=-1).sum(-1)
    best = lengths.reshape(b, restarts).argmin(axis=1)
    tours = tours.reshape(b, restarts, n)[np.arange(b), best]
    start = np.argmax(tours == 0, axis=1)[:, None]
    tours = np.take_along_axis(tours, (start + np.arange(n)[None]) % n, axis=1)
    flip = tours[:, 1] > tours[:, -1]
    tours[flip, 1:] = tours[flip, 1:][:, ::-1]
    return tours.astype(np.int32)


def tsp_example(rng, n):
    """Cities and a tour: optimal (Held-Karp) up to `HELD_KARP_MAX`
    cities, the best of 2-opt from 16 random tours beyond."""
    cities = rng.random((n, 2)).astype(np.float32)
    if n <= HELD_KARP_MAX:
        return cities, held_karp(cities)
    return cities, two_opt(cities[None], rng, restarts=16)[0]
