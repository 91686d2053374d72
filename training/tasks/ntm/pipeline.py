"""Pipelines and scores of the NTM tasks.

Training batches hold one length each, drawn from the preset's `lengths`,
fresh every epoch from (seed, epoch); the validation split is fixed. The
held-out scores count wrong bits of the serving outputs, each output bit
rounded at 0.5, as the NTM papers (and their peers) report them.
"""

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter, LinearCurriculum
from training.tasks.ntm import generators as gen

HELD_OUT_EXAMPLES = 1000


def copy_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                 cache_dir=None, shuffle=None, lengths=(1, 20), train_examples=50_000,
                 validation_examples=640, first_epoch=0):
    """(bits [B, T, 8], bits) batches. The training split has
    `train_examples` (or `limit`) fresh sequences per epoch (epoch e's from
    `(seed, e)`, e counted from `first_epoch`), each batch of one length T
    in `lengths` (inclusive); the validation split is the same for every
    seed. `data_dir`, `augment`, `cache_dir`, `shuffle` are unused."""
    low, high = lengths
    if not 1 <= low <= high:
        raise ValueError(f"`lengths` must be (low, high) with 1 <= low <= high; received {lengths}.")
    count = limit or (train_examples if split == "train" else validation_examples)
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)

    def generate():
        if split == "train":
            rng = np.random.default_rng([seed, gen.SPLITS[split], epochs.draw()])
        else:
            rng = np.random.default_rng([0, gen.SPLITS[split], high])
        for _ in range(batches):
            length = int(rng.integers(low, high + 1))
            bits = np.stack([gen.copy_example(rng, length) for _ in range(batch_size)])
            yield bits, bits

    spec = tf.TensorSpec((None, None, gen.BITS), tf.float32)
    ds = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def copy_held_out(split, data_dir=None, cache_dir=None, length=20, examples=HELD_OUT_EXAMPLES,
                  **options):
    """({"bits": [E, length, 8]}, the same bits): example i from
    `rng_for(0, split, i)`, so no training run (which draws from (seed,
    epoch) streams) sees them."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"`length` must be a positive integer; received {length!r}.")
    bits = np.stack([gen.copy_example(gen.rng_for(0, split, i), length) for i in range(examples)])
    return {"bits": bits}, bits


def wrong_bits(probabilities, target):
    """Wrong bits of each sequence: [E, T, 8] -> [E]."""
    return np.sum((np.asarray(probabilities) > 0.5) != (np.asarray(target) > 0.5), axis=(1, 2))


def score_copy(outputs, inputs, labels):
    errors = wrong_bits(outputs["copy"], labels)
    return {"length": int(labels.shape[1]), "bits_per_sequence": float(errors.mean()),
            "error": float(np.mean(errors > 0)), "exact": float(np.mean(errors == 0))}


def _range(name, value, least=1):
    low, high = value
    if not least <= low <= high:
        raise ValueError(f"`{name}` must be (low, high) with {least} <= low <= high; received {value}.")
    return int(low), int(high)


def _batches_of(task, split, seed, count, batch_size, first_epoch, make, spec):
    """`count` examples in batches made by `make(rng, epoch)`: training's
    from (seed, epoch) of `task`'s streams, fresh every epoch; validation's
    (epoch None) the same for every seed (a stream no held-out example
    uses)."""
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)

    def generate():
        epoch = None
        if split == "train":
            epoch = epochs.draw()
            rng = gen.rng_for(seed, "train", epoch, task)
        else:
            rng = np.random.default_rng([0, gen.SPLITS[split], 0, gen.TASK_TAGS[task], 7])
        for _ in range(batches):
            yield make(rng, epoch)

    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


REPEAT_SPEC = ({"bits": tf.TensorSpec((None, None, gen.BITS), tf.float32),
                "repeats": tf.TensorSpec((None,), tf.int32),
                "steps": tf.TensorSpec((None, None), tf.float32)},
               tf.TensorSpec((None, None, gen.BITS + 1), tf.float32))


def repeat_copy_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                        cache_dir=None, shuffle=None, lengths=(1, 10), repeats=(1, 10),
                        train_examples=50_000, validation_examples=640, curriculum_epochs=0, first_epoch=0):
    """({"bits" [B, T, 8], "repeats" [B], "steps" [B, R*T + 1]}, targets
    [B, R*T + 1, 9]) batches (`gen.repeat_copy_target`), each of one T in
    `lengths`, each example's count drawn from `repeats` (inclusive), R
    its largest (so that XLA compiles one step per T), drawn as
    `copy_dataset` draws them. With `curriculum_epochs` = k > 0 the largest
    T and count of training grow linearly from the lowest to the highest
    over the first k epochs (validation keeps the whole ranges)."""
    lengths, repeats = _range("lengths", lengths), _range("repeats", repeats)
    curriculum = LinearCurriculum(curriculum_epochs)

    def make(rng, epoch):
        length = int(rng.integers(lengths[0], curriculum.top(*lengths, epoch) + 1))
        bits = np.stack([gen.copy_example(rng, length) for _ in range(batch_size)])
        counts = rng.integers(repeats[0], curriculum.top(*repeats, epoch) + 1, size=batch_size).astype(np.int32)
        target = np.stack([gen.repeat_copy_target(b, int(r), repeats[1]) for b, r in zip(bits, counts)])
        steps = np.zeros((batch_size, repeats[1] * length + 1), np.float32)
        return {"bits": bits, "repeats": counts, "steps": steps}, target

    count = limit or (train_examples if split == "train" else validation_examples)
    return _batches_of("repeat_copy", split, seed, count, batch_size, first_epoch, make, REPEAT_SPEC)


def repeat_copy_held_out(split, data_dir=None, cache_dir=None, length=10, repeats=(1, 10),
                         examples=HELD_OUT_EXAMPLES, **options):
    """({"bits" [E, length, 8], "repeats" [E]}, targets [E, R*length + 1, 9]),
    R the largest repeat count: example i's bits from `rng_for(0, split, i,
    "repeat_copy")`, its repeat count `repeats` (an int) or, for a range,
    low + i mod (high - low + 1), so that every stretch of the set holds
    each count equally."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"`length` must be a positive integer; received {length!r}.")
    low, high = (repeats, repeats) if isinstance(repeats, int) else _range("repeats", repeats)
    if low < 1:
        raise ValueError(f"`repeats` must be >= 1; received {repeats!r}.")
    counts = np.array([low + i % (high - low + 1) for i in range(examples)], np.int32)
    bits = np.stack([gen.copy_example(gen.rng_for(0, split, i, "repeat_copy"), length)
                     for i in range(examples)])
    targets = np.stack([gen.repeat_copy_target(b, int(r), high) for b, r in zip(bits, counts)])
    return {"bits": bits, "repeats": counts}, targets


def score_repeat_copy(outputs, inputs, labels):
    """Wrong bits of the copies per sequence, and whether the end marker is
    right at every step of each example's own output (R*T + 1 steps)."""
    labels = np.asarray(labels)
    errors = wrong_bits(outputs["copy"], labels[:, :-1, :gen.BITS])
    steps = np.asarray(inputs["repeats"])[:, None] * inputs["bits"].shape[1] + 1
    own = np.arange(labels.shape[1])[None] < steps
    end_wrong = np.any(own & ((np.asarray(outputs["end"]) > 0.5) != (labels[..., gen.BITS] > 0.5)), axis=1)
    exact = (errors == 0) & ~end_wrong
    return {"length": int(inputs["bits"].shape[1]),
            "repeats": sorted({int(r) for r in np.unique(inputs["repeats"])}),
            "bits_per_sequence": float(errors.mean()), "end_correct": float(1 - end_wrong.mean()),
            "error": float(1 - exact.mean()), "exact": float(exact.mean())}


RECALL_SPEC = ({"items": tf.TensorSpec((None, None, gen.RECALL_ROWS, gen.RECALL_BITS), tf.float32),
                "query": tf.TensorSpec((None,), tf.int32)},
               tf.TensorSpec((None, gen.RECALL_ROWS, gen.RECALL_BITS), tf.float32))


def recall_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                   cache_dir=None, shuffle=None, items=(2, 6), train_examples=50_000,
                   validation_examples=640, first_epoch=0):
    """({"items" [B, K, 3, 6], "query" [B]}, the item after the query [B, 3, 6])
    batches, each of one K in `items` (inclusive), drawn as `copy_dataset`
    draws them."""
    low, high = _range("items", items, least=2)

    def make(rng, epoch):
        count = int(rng.integers(low, high + 1))
        values, queries = zip(*[gen.recall_example(rng, count) for _ in range(batch_size)])
        values, queries = np.stack(values), np.array(queries, np.int32)
        return {"items": values, "query": queries}, values[np.arange(batch_size), queries + 1]

    count = limit or (train_examples if split == "train" else validation_examples)
    return _batches_of("recall", split, seed, count, batch_size, first_epoch, make, RECALL_SPEC)


def recall_held_out(split, data_dir=None, cache_dir=None, items=6, examples=HELD_OUT_EXAMPLES,
                    **options):
    """({"items" [E, items, 3, 6], "query" [E]}, the items after the queries):
    example i from `rng_for(0, split, i, "recall")`."""
    if not isinstance(items, int) or items < 2:
        raise ValueError(f"`items` must be an integer >= 2; received {items!r}.")
    values, queries = zip(*[gen.recall_example(gen.rng_for(0, split, i, "recall"), items)
                            for i in range(examples)])
    values, queries = np.stack(values), np.array(queries, np.int32)
    return {"items": values, "query": queries}, values[np.arange(examples), queries + 1]


def score_recall(outputs, inputs, labels):
    errors = wrong_bits(outputs["next_item"], labels)
    return {"items": int(inputs["items"].shape[1]), "exact": float(np.mean(errors == 0)),
            "error": float(np.mean(errors > 0)), "bits_per_item": float(errors.mean())}
