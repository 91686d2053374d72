"""Pipelines and scores of the NTM tasks.

Training batches hold one length each, drawn from the preset's `lengths`,
fresh every epoch from (seed, epoch); the validation split is fixed. The
held-out scores count wrong bits of the serving outputs, each output bit
rounded at 0.5, as the NTM papers (and their peers) report them.
"""

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
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
