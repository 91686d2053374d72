"""Pipelines and scores of the pointer tasks: sorting, convex hull, TSP.

Training batches hold one size n each, drawn from the preset's `sizes`,
fresh every epoch from (seed, epoch). Targets are in the order the model is
taught, which depends only on geometry (a set encoder cannot see indices):
a hull starts at its leftmost point, a tour runs counter-clockwise from
city 0. Held-out labels are in DESIGN.md's canonical order, and the scores
compare the serving outputs with them.
"""

import numpy as np
import tensorflow as tf

from training.tasks.pointer import generators as pt
from training.epochs import EpochCounter

INPUT_NAMES = {"sort": "values", "hull": "points", "tsp": "cities"}
EXAMPLES = {"sort": pt.sort_example, "hull": pt.hull_example, "tsp": pt.tsp_example}
HELD_OUT_SIZE = {"sort": 10, "hull": 50, "tsp": 10}
HELD_OUT_EXAMPLES = 1000


def signed_area(points, ring):
    """Shoelace area of the polygon `points[ring]` (> 0: counter-clockwise)."""
    p = np.asarray(points, dtype=np.float64)[np.asarray(ring)]
    q = np.roll(p, -1, axis=0)
    return 0.5 * float(np.sum(p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]))


def training_target(kind, inputs, label):
    """The label in the order the decoder learns, as fed to `fit`:
    sort -> the order; hull -> from the leftmost point, then END (= n);
    tsp -> the tour after city 0, counter-clockwise."""
    n = len(inputs)
    if kind == "sort":
        return label
    if kind == "hull":
        start = min(range(len(label)), key=lambda k: (inputs[label[k], 0], inputs[label[k], 1]))
        ring = np.roll(label, -start)
        return np.concatenate([ring, [n], np.full(n - len(ring), -1)]).astype(np.int32)
    tour = label if signed_area(inputs, label) >= 0 else np.concatenate([[0], label[1:][::-1]])
    return tour[1:].astype(np.int32)


def _batch(kind, rng, size, batch_size):
    examples = [EXAMPLES[kind](rng, size) for _ in range(batch_size)]
    inputs = np.stack([x for x, _ in examples])
    targets = np.stack([training_target(kind, x, y) for x, y in examples])
    if kind == "hull":  # drop the columns that are padding in every row
        targets = targets[:, :int((targets >= 0).sum(axis=1).max())]
    return {INPUT_NAMES[kind]: inputs, "targets": targets}, targets


def _signature(kind):
    shape = (None, None) if kind == "sort" else (None, None, 2)
    targets = tf.TensorSpec((None, None), tf.int32)
    return ({INPUT_NAMES[kind]: tf.TensorSpec(shape, tf.float32), "targets": targets}, targets)


def dataset(kind, split, data_dir=None, batch_size=128, augment=False, seed=0, limit=None,
            cache_dir=None, shuffle=None, sizes=(10, 10), train_examples=100_000,
            validation_examples=1000, first_epoch=0):
    """Batches of one task for `fit`. The training split has
    `train_examples` (or `limit`) fresh examples per epoch (epoch e's from
    `(seed, e)`, e counted from `first_epoch`: a resumed run's), each batch of one
    size in `sizes` (inclusive range); other splits are fixed, of size
    `sizes[1]`. `data_dir`, `augment`, `cache_dir` are unused (generated)."""
    lo, hi = sizes
    if not 2 <= lo <= hi:
        raise ValueError(f"`sizes` must be (low, high) with 2 <= low <= high; received {sizes}.")
    count = limit or (train_examples if split == "train" else validation_examples)
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)

    def generate():
        if split == "train":
            rng = np.random.default_rng([seed, pt.SPLITS[split], epochs.draw()])
        else:  # the same for every training seed
            rng = np.random.default_rng([0, pt.SPLITS[split], hi])
        for _ in range(batches):
            size = int(rng.integers(lo, hi + 1)) if split == "train" else hi
            yield _batch(kind, rng, size, batch_size)

    ds = tf.data.Dataset.from_generator(generate, output_signature=_signature(kind))
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def held_out(kind, split, data_dir=None, cache_dir=None, size=None, examples=HELD_OUT_EXAMPLES,
             **options):
    """({input name: [E, n(, 2)]}, canonical labels [E, n], -1 padded) of
    `split`, example i drawn from `rng_for(0, split, i)`."""
    size = size or HELD_OUT_SIZE[kind]
    if size < 2:
        raise ValueError(f"`size` must be at least 2; received {size}.")
    inputs, labels = [], []
    for i in range(examples):
        x, y = EXAMPLES[kind](pt.rng_for(0, split, i), size)
        inputs.append(x)
        labels.append(np.concatenate([y, np.full(size - len(y), -1)]).astype(np.int32))
    return {INPUT_NAMES[kind]: np.stack(inputs)}, np.stack(labels)


def _is_permutation(rows, n):
    return np.array([sorted(r) == list(range(n)) for r in rows.tolist()])


def score_sort(outputs, inputs, labels):
    order = outputs["order"]
    exact = np.all(order == labels, axis=1)
    return {"size": int(labels.shape[1]), "error": 1 - float(exact.mean()),
            "exact": float(exact.mean()),
            "valid": float(_is_permutation(order, labels.shape[1]).mean())}


def _hull_rows(rows):
    """Each row's vertices (before the first -1), or None if malformed."""
    out = []
    for row in rows.tolist():
        length = row.index(-1) if -1 in row else len(row)
        head, tail = row[:length], row[length:]
        ok = length >= 1 and len(set(head)) == length and all(t == -1 for t in tail)
        out.append(head if ok and min(head) >= 0 and max(head) < len(row) else None)
    return out


def score_hull(outputs, inputs, labels):
    points = inputs["points"]
    exact = np.all(outputs["hull"] == labels, axis=1)
    coverage = []
    for p, predicted, label in zip(points, _hull_rows(outputs["hull"]), labels):
        truth = signed_area(p, label[label >= 0])
        area = signed_area(p, predicted) if predicted and len(predicted) >= 3 else 0.0
        coverage.append(max(area, 0.0) / truth)  # a clockwise answer covers nothing
    valid = [r is not None for r in _hull_rows(outputs["hull"])]
    return {"size": int(labels.shape[1]), "error": 1 - float(exact.mean()),
            "exact": float(exact.mean()), "area_coverage": float(np.mean(coverage)), "valid": float(np.mean(valid))}


def score_tsp(outputs, inputs, labels):
    cities, tours = inputs["cities"], outputs["tour"]
    n = tours.shape[1]
    valid = _is_permutation(tours, n) & (tours[:, 0] == 0)
    lengths = np.array([pt.tour_length(c, t) if v else np.nan
                        for c, t, v in zip(cities, tours, valid)])
    reference = np.array([pt.tour_length(c, t) for c, t in zip(cities, labels)])
    mean_length = float(np.nanmean(lengths)) if valid.any() else float("nan")
    return {
        "size": int(n),
        "error": mean_length / float(reference.mean()) - 1,  # the optimality gap
        "mean_tour_length": mean_length,
        "mean_reference_length": float(reference.mean()),
        "reference": "optimal (Held-Karp)" if n <= pt.HELD_KARP_MAX else "2-opt, best of 16 starts",
        "valid": float(valid.mean()),
        "tour_length_max_error": float(np.nanmax(np.abs(lengths - outputs["tour_length"]))),
    }
