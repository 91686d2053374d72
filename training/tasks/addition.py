"""15-digit integer addition (Kalchbrenner, Danihelka & Graves, "Grid Long
Short-Term Memory", ICLR 2016, section 4.2): two random integers in, their
sum out.

Each number has k digits, k drawn uniformly from 1..15 (its leading digit
not 0 when k > 1; a 1-digit number is 0..9), each number on its own. The
network sees the pair side by side, least significant digit first, padded
to 16 positions (`zoo/grid_lstm_addition.py`), and writes the sum's 16
digits in the same order.

Every pair is drawn from a NumPy generator seeded by a tuple that names
its stream (`rng_for`):
- training: `batch_size` pairs a batch, fresh every epoch, from (seed,
  "train", epoch); a resumed run goes on from its epoch (`training/epochs.py`);
- Keras's validation batches: one fixed stream, the same for every seed;
- the held-out `validation` and `test` sets that the scores use: pair i of
  split s from (0, s, i), streams that no training run draws from (short
  numbers repeat by chance: there are only 100 pairs of 1-digit numbers).

`builder` makes the pairs a tensorflow-datasets dataset. A run's or the
shipped weights are scored with

    specialnets evaluate grid_lstm_addition [--weights PATH] [--split validation]
        [--examples 10000] [--digits 15]
"""


import numpy as np
import tensorflow as tf

from training.tasks import generated
from training.tasks.base import Task
from zoo import grid_lstm_addition
from zoo.grid_lstm_addition import MAX_DIGITS, POSITIONS

SPLITS = {"train": 0, "validation": 1, "test": 2}
TAG = 2842  # this task's streams differ from every other task's that seeds NumPy by (seed, split, index)
HELD_OUT_EXAMPLES = 2_000
DEFAULT_EXAMPLES = {"train": 10_000, "validation": HELD_OUT_EXAMPLES, "test": HELD_OUT_EXAMPLES}


def rng_for(seed, split, index):
    """The generator of pair `index` of `split` (held-out sets), or of
    epoch `index` of the training stream of `seed`."""
    return generated.stream_rng(seed, split, index, SPLITS, TAG)


def check_digits(digits):
    """`digits` as None or an int in 1..15, or a clear ValueError."""
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, (int, np.integer))
                               or not 1 <= digits <= MAX_DIGITS):
        raise ValueError(f"`digits` must be None (1 to {MAX_DIGITS}, uniform) or an int in 1..{MAX_DIGITS}; "
                         f"received {digits!r}.")
    return digits


def numbers(rng, count, digits=None):
    """`count` random int64 numbers of k digits, k uniform in 1..15 (or `digits`)."""
    k = rng.integers(1, MAX_DIGITS + 1, size=count) if digits is None else np.full(count, digits)
    low = np.where(k == 1, 0, 10 ** (k - 1))
    return rng.integers(low, 10 ** k, dtype=np.int64)


def pairs(rng, count, digits=None):
    """(a, b): two int64 [count] arrays of random numbers (see `numbers`)."""
    return numbers(rng, count, digits), numbers(rng, count, digits)


def digits(values, positions=POSITIONS):
    """int64 numbers [...] -> their digits int32 [..., positions], least significant first."""
    powers = 10 ** np.arange(positions, dtype=np.int64)
    return ((np.asarray(values, np.int64)[..., None] // powers) % 10).astype(np.int32)


def encode(a, b):
    """Numbers [B] -> the network's input float32 [B, 16, 20]: one-hot digits of a, then of b."""
    eye = np.eye(10, dtype=np.float32)
    return np.concatenate([eye[digits(a)], eye[digits(b)]], axis=-1)


def decode(probabilities):
    """Sum digit probabilities (or one-hots) [B, T, 10] -> the sums as int64 [B]."""
    d = np.argmax(probabilities, axis=-1).astype(np.int64)
    return (d * 10 ** np.arange(d.shape[-1], dtype=np.int64)).sum(axis=-1)


def addition_dataset(split, data_dir=None, batch_size=128, augment=False, seed=0, limit=None, cache_dir=None,
                     shuffle=None, train_examples=64_000, validation_examples=1024, first_epoch=0):
    """(digits float32 [B, 16, 20], sum digits int32 [B, 16]) batches:
    `train_examples` (or `limit`) fresh pairs a training epoch (epoch e's
    from `(seed, "train", e)`, e counted from `first_epoch`); the
    validation split's `validation_examples` are the same for every seed.
    `data_dir`, `augment`, `cache_dir` and `shuffle` are unused."""
    def batch(rng, size):
        a, b = pairs(rng, size)
        return encode(a, b), digits(a + b)

    spec = (tf.TensorSpec((None, POSITIONS, grid_lstm_addition.FEATURES), tf.float32),
            tf.TensorSpec((None, POSITIONS), tf.int32))
    return generated.fresh_batches(split, seed, batch_size, train_examples, validation_examples, limit,
                                   first_epoch, SPLITS, TAG, batch, spec)


def held_out_pairs(split, examples=HELD_OUT_EXAMPLES, seed=0, digits=None):
    """(a, b) int64 [examples] of `split`: pair i from `rng_for(seed, split, i)`
    (both numbers of `digits` digits, if given)."""
    digits = check_digits(digits)
    drawn = [pairs(rng_for(seed, split, i), 1, digits) for i in range(examples)]
    return np.concatenate([a for a, _ in drawn]), np.concatenate([b for _, b in drawn])


def held_out(split, data_dir=None, cache_dir=None, examples=HELD_OUT_EXAMPLES, digits=None, **options):
    """({"a": str [E], "b": str [E]}, sums str [E]) of `split` ("validation"
    or "test"): pair i from `rng_for(0, split, i)`; with `digits`, both
    numbers of that many digits (issue 28's "pairs of 15-digit numbers")."""
    if split not in ("validation", "test"):
        raise ValueError(f"`split` must be 'validation' or 'test'; received {split!r}.")
    a, b = held_out_pairs(split, examples, digits=digits)
    return {"a": a.astype(str), "b": b.astype(str)}, (a + b).astype(str)


def _text(values):
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()])


def score(outputs, inputs, labels):
    """Exact-sum accuracy of the `sum` strings, its complement, the number
    wrong, and the accuracy by the longer number's digit count."""
    right = _text(outputs["sum"]) == _text(labels)
    longer = np.maximum(np.char.str_len(_text(inputs["a"])), np.char.str_len(_text(inputs["b"])))
    by_digits = {str(k): float(right[longer == k].mean()) for k in range(1, MAX_DIGITS + 1) if (longer == k).any()}
    return {"accuracy": float(right.mean()), "error": float(1.0 - right.mean()), "wrong": int((~right).sum()),
            "accuracy_by_digits": by_digits}


TASKS = {"addition": Task(
    name="addition",
    dataset=addition_dataset,
    loss="sparse_categorical_crossentropy",
    metrics=("sparse_categorical_accuracy",),
    error_metric="sparse_categorical_accuracy",
    prediction_output="sum",
    description="sums of two random numbers of 1 to 15 digits (generated, seeded; fresh pairs every epoch), "
                "side by side, least significant digit first; scored on exact sums of held-out pairs",
    needs_data=False,
    held_out=held_out,
    score=score,
)}


def _features(config):
    import tensorflow_datasets as tfds

    return {"a": tfds.features.Text(), "b": tfds.features.Text(), "sum": tfds.features.Text(),
            "digits": tfds.features.Tensor(shape=(POSITIONS, grid_lstm_addition.FEATURES), dtype=np.float32),
            "sum_digits": tfds.features.Tensor(shape=(POSITIONS,), dtype=np.int32)}


def _example(config, split, index):
    a, b = pairs(rng_for(config.seed, split, index), 1)
    return {"a": str(a[0]), "b": str(b[0]), "sum": str(a[0] + b[0]), "digits": encode(a, b)[0],
            "sum_digits": digits(a + b)[0]}


def builder(examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of pairs, `examples` per split (pair i of a split
    from `rng_for(seed, split, i)`: with seed 0 the validation and test
    splits are `held_out`'s pairs)."""
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, SPLITS)
    classes = generated.builder_class(
        "SpecialnetsAddition", "Pairs of random numbers of 1 to 15 digits and their sums (Kalchbrenner et "
        "al. 2016), generated.", _features, _example, supervised_keys=lambda config: ("digits", "sum_digits"))
    return generated.prepare_builder(classes, "addition", f"seed{seed}", f"15-digit addition, seed {seed}",
                                     examples, cache_dir, seed=seed)
