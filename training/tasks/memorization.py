"""Memorisation of 20 random symbols (Kalchbrenner, Danihelka & Graves,
"Grid Long Short-Term Memory", ICLR 2016, section 4.2): the network reads
a sequence, then writes it back.

Each sequence holds 20 symbols drawn independently and uniformly from the
64 of `zoo.grid_lstm_memorization.ALPHABET`. The network reads them in 20
steps, then gets 20 steps of the "go" flag alone, and at write step i must
answer symbol i (`zoo/grid_lstm_memorization.py`); the targets are the 20
symbol indices of the write phase, the read phase has none.

Every sequence is drawn from a NumPy generator seeded by a tuple that
names its stream (`rng_for`):
- training: `batch_size` sequences a batch, fresh every epoch, from (seed,
  "train", epoch); a resumed run goes on from its epoch (`training/epochs.py`);
- Keras's validation batches: one fixed stream, the same for every seed;
- the held-out `validation` and `test` sets that the scores use: sequence
  i of split s from (seed 0, s, i), streams no training run draws from.

`builder` makes the sequences a tensorflow-datasets dataset. A run's or
the shipped weights are scored with

    specialnets evaluate grid_lstm_memorization [--weights PATH] [--split validation] [--examples 1000]
"""

import numpy as np
import tensorflow as tf

from training.tasks import generated
from training.tasks.base import Task
from zoo.grid_lstm_memorization import ALPHABET, FEATURES, LENGTH, STEPS, SYMBOLS

SPLITS = {"train": 0, "validation": 1, "test": 2}
TAG = 4220  # this task's streams differ from every other task's that seeds NumPy by (seed, split, index)
HELD_OUT_EXAMPLES = 1_000
DEFAULT_EXAMPLES = {"train": 10_000, "validation": HELD_OUT_EXAMPLES, "test": HELD_OUT_EXAMPLES}


def rng_for(seed, split, index):
    """The generator of sequence `index` of `split` (held-out sets), or of
    epoch `index` of the training stream of `seed`."""
    return generated.stream_rng(seed, split, index, SPLITS, TAG)


def sequences(rng, count):
    """`count` sequences of 20 random symbol indices: int32 [count, 20]."""
    return rng.integers(0, SYMBOLS, size=(count, LENGTH)).astype(np.int32)


def encode(indices):
    """Symbol indices [B, 20] -> the network's input float32 [B, 40, 65]:
    one-hot symbols, then 20 steps of the go flag."""
    indices = np.asarray(indices)
    x = np.zeros((len(indices), STEPS, FEATURES), np.float32)
    np.put_along_axis(x[:, :LENGTH], indices[..., None], 1.0, axis=-1)
    x[:, LENGTH:, SYMBOLS] = 1.0
    return x


def decode(probabilities):
    """Symbol probabilities (or one-hots) [B, 20, 64] -> symbol indices int32 [B, 20]."""
    return np.argmax(probabilities, axis=-1).astype(np.int32)


def text(indices):
    """Symbol indices [B, 20] -> strings [B]."""
    table = np.array(list(ALPHABET))
    return np.array(["".join(row) for row in table[np.asarray(indices)]])


def memorization_dataset(split, data_dir=None, batch_size=64, augment=False, seed=0, limit=None,
                         cache_dir=None, shuffle=None, train_examples=64_000, validation_examples=1024,
                         first_epoch=0):
    """(steps float32 [B, 40, 65], symbols int32 [B, 20]) batches:
    `train_examples` (or `limit`) fresh sequences a training epoch (epoch
    e's from `(seed, "train", e)`, e counted from `first_epoch`); the
    validation split's `validation_examples` are the same for every seed.
    `data_dir`, `augment`, `cache_dir` and `shuffle` are unused."""
    def batch(rng, size):
        indices = sequences(rng, size)
        return encode(indices), indices

    spec = (tf.TensorSpec((None, STEPS, FEATURES), tf.float32), tf.TensorSpec((None, LENGTH), tf.int32))
    return generated.fresh_batches(split, seed, batch_size, train_examples, validation_examples, limit,
                                   first_epoch, SPLITS, TAG, batch, spec)


def held_out_indices(split, examples=HELD_OUT_EXAMPLES, seed=0):
    """Symbol indices int32 [examples, 20] of `split`: sequence i from `rng_for(seed, split, i)`."""
    return np.concatenate([sequences(rng_for(seed, split, i), 1) for i in range(examples)])


def held_out(split, data_dir=None, cache_dir=None, examples=HELD_OUT_EXAMPLES, seed=0, **options):
    """({"symbols": str [E]}, the same str [E]) of `split` ("validation" or
    "test"): sequence i from `rng_for(seed, split, i)` (seed 0: the sets
    the scores use; another seed: fresh sequences)."""
    if split not in ("validation", "test"):
        raise ValueError(f"`split` must be 'validation' or 'test'; received {split!r}.")
    symbols = text(held_out_indices(split, examples, seed))
    return {"symbols": symbols}, symbols.copy()


def _text(values):
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()])


def score(outputs, inputs, labels):
    """Exact-sequence accuracy of the `recalled` strings, its complement,
    the number wrong, and the per-symbol accuracy."""
    out, want = _text(outputs["recalled"]), _text(labels)
    right = out == want
    same = [sum(a == b for a, b in zip(o, w)) / LENGTH for o, w in zip(out, want)]
    return {"accuracy": float(right.mean()), "error": float(1.0 - right.mean()), "wrong": int((~right).sum()),
            "symbol_accuracy": float(np.mean(same))}


TASKS = {"memorization": Task(
    name="memorization",
    dataset=memorization_dataset,
    loss="sparse_categorical_crossentropy",
    metrics=("sparse_categorical_accuracy",),
    error_metric="sparse_categorical_accuracy",
    prediction_output="recalled",
    description=f"sequences of {LENGTH} random symbols of {SYMBOLS} (generated, seeded; fresh every epoch), "
                "read, then written back after a go flag; scored on exact sequences of held-out ones",
    needs_data=False,
    held_out=held_out,
    score=score,
)}


def _features(config):
    import tensorflow_datasets as tfds

    return {"symbols": tfds.features.Text(),
            "steps": tfds.features.Tensor(shape=(STEPS, FEATURES), dtype=np.float32),
            "targets": tfds.features.Tensor(shape=(LENGTH,), dtype=np.int32)}


def _example(config, split, index):
    indices = sequences(rng_for(config.seed, split, index), 1)
    return {"symbols": text(indices)[0], "steps": encode(indices)[0], "targets": indices[0]}


def builder(examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of sequences, `examples` per split (sequence i of
    a split from `rng_for(seed, split, i)`: with seed 0 the validation and
    test splits are `held_out`'s sequences)."""
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, SPLITS)
    classes = generated.builder_class(
        "SpecialnetsMemorization", f"Sequences of {LENGTH} random symbols to read and write back (Kalchbrenner "
        "et al. 2016), generated.", _features, _example, supervised_keys=lambda config: ("steps", "targets"))
    return generated.prepare_builder(classes, "memorization", f"seed{seed}", f"20-symbol memorisation, seed {seed}",
                                     examples, cache_dir, seed=seed)

