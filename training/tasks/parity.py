"""k-bit parity (Kalchbrenner, Danihelka & Graves, "Grid Long Short-Term
Memory", ICLR 2016, section 4.1): a string of K random bits in, 1 out if it
holds an odd number of ones, else 0.

Every string is drawn from a NumPy generator seeded by a tuple that names
its stream (`rng_for`; a held-out string has a generator of its own, so
those sets are the same whatever the batch size):
- training: `batch_size` strings a batch, fresh every epoch, from (seed,
  "train", epoch); a resumed run goes on from its epoch (`training/epochs.py`).
  With `curriculum=True` only k bits of a training string are random and
  the others 0 (which leaves its parity that of the k bits): k bits at
  random positions (`curriculum_positions="random"`) or the first k
  (`"leading"`); k starts at 2 and grows by one after every epoch whose
  training accuracy reaches `curriculum_threshold` (`Curriculum`,
  `CurriculumCallback`), up to K. `density="mixed"` draws strings of every
  density of ones instead;
- Keras's validation batches: one fixed stream, the same for every seed;
- the held-out `validation` and `test` sets that the scores (and the
  pretrained export's tests) use: string i of split s from (0, s, i),
  streams that no training run draws from.

`builder` makes the held-out strings a tensorflow-datasets dataset.
"""

import sys

import keras
import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks import generated
from training.tasks.base import Task
from zoo import grid_lstm_parity

SPLITS = {"train": 0, "validation": 1, "test": 2}
TAG = 28  # this task's streams differ from every other task's that seeds NumPy by (seed, split, index)
HELD_OUT_EXAMPLES = 1000
DEFAULT_EXAMPLES = {"train": 10_000, "validation": HELD_OUT_EXAMPLES, "test": HELD_OUT_EXAMPLES}


def rng_for(seed, split, index):
    """The generator of string `index` of `split` (held-out sets), or of
    epoch `index` of the training stream of `seed`."""
    return generated.stream_rng(seed, split, index, SPLITS, TAG)


def check_bits(bits):
    """`bits` (K) as an int >= 1, or a clear ValueError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise ValueError(f"`bits` (K, the length of the strings) must be a positive int; received {bits!r}.")
    return int(bits)


DENSITIES = ("half", "mixed")


def strings(rng, count, bits, density="half"):
    """`count` random strings of `bits` bits: float32 [count, bits] in {0, 1}.
    `density="half"`: every bit 1 with probability 1/2 (the task's strings);
    `"mixed"`: each string's probability of a one drawn uniformly from
    [0, 1], so that strings with few (or many) ones, whose parity shows in
    simple features of the string, are common (a training distribution
    only: the held-out strings are always "half")."""
    if density not in DENSITIES:
        raise ValueError(f"`density` must be one of {DENSITIES}; received {density!r}.")
    if density == "half":
        return rng.integers(0, 2, size=(count, bits)).astype(np.float32)
    ones = rng.uniform(0.0, 1.0, size=(count, 1))
    return (rng.uniform(0.0, 1.0, size=(count, bits)) < ones).astype(np.float32)


def parity(strings):
    """1 where a string [..., K] holds an odd number of ones, else 0 (int64 [...])."""
    return (np.sum(np.asarray(strings) > 0.5, axis=-1) % 2).astype(np.int64)


class Curriculum:
    """The number of random bits (k) of the training strings: 2 at
    first, one more after each epoch whose training accuracy reaches
    `threshold`, at most `bits` (K); without a curriculum (`active=False`)
    always K.

    Args:
        bits: K.
        threshold: training accuracy of an epoch that moves k on.
        active: whether there is a curriculum at all.
    """

    def __init__(self, bits, threshold=0.9, active=True):
        if not 0.5 < threshold <= 1.0:
            raise ValueError(f"`curriculum_threshold` must be in (0.5, 1]; received {threshold!r}.")
        self.total, self.threshold = check_bits(bits), float(threshold)
        self.bits = min(2, self.total) if active else self.total
        self.history = []  # (epoch, k) whenever k grew

    def update(self, epoch, accuracy):
        """After `epoch` (from 0) of training accuracy `accuracy`: k + 1 if
        it reached the threshold. Returns the new k."""
        if self.bits < self.total and accuracy >= self.threshold:
            self.bits += 1
            self.history.append((int(epoch) + 1, self.bits))
        return self.bits


POSITIONS = ("random", "leading")


def curriculum_mask(rng, count, bits, active, positions="random"):
    """float32 [count, bits]: 1 at the `active` random bits of each string
    (all when `active` is `bits`), 0 at those to zero; `positions`
    "random" (each string its own) or "leading" (the first `active`)."""
    if active >= bits:
        return np.ones((count, bits), np.float32)
    if positions == "leading":
        return np.broadcast_to(np.arange(bits) < active, (count, bits)).astype(np.float32)
    ranks = np.argsort(rng.uniform(size=(count, bits)), axis=1)
    return (ranks < active).astype(np.float32)


_LATEST = []  # the curriculum of the last training split made, for `curriculum_callbacks`


def curriculum_callbacks(preset):
    """The training callbacks of `preset` (`Task.callbacks`): a
    `CurriculumCallback` of the training split that `train` made just
    before, when its task options ask for a curriculum."""
    if not preset.task.get("curriculum") or not _LATEST:
        return []
    return [CurriculumCallback(_LATEST[-1])]


class CurriculumCallback(keras.callbacks.Callback):
    """Moves a `Curriculum` on at the end of each epoch, from the epoch's
    training accuracy (`binary_accuracy`), and says so on stderr."""

    def __init__(self, curriculum):
        super().__init__()
        self.curriculum = curriculum

    def on_epoch_end(self, epoch, logs=None):
        before = self.curriculum.bits
        after = self.curriculum.update(epoch, float((logs or {}).get("binary_accuracy", 0.0)))
        if after != before:
            print(f"parity curriculum: {after} random bits from epoch {epoch + 2}", file=sys.stderr)


def parity_dataset(split, data_dir=None, batch_size=128, augment=False, seed=0, limit=None, cache_dir=None,
                   shuffle=None, bits=grid_lstm_parity.BITS, density="half", curriculum=False,
                   curriculum_threshold=0.9, curriculum_positions="random", train_examples=64_000,
                   validation_examples=1024, first_epoch=0):
    """(bits float32 [B, K], parity float32 [B, 1]) batches: `train_examples`
    (or `limit`) strings a training epoch, fresh every epoch (epoch e's from
    `(seed, "train", e)`, e counted from `first_epoch`), drawn with
    `density` (see `strings`); with `curriculum`, of a `Curriculum`'s
    number of random bits, at `curriculum_positions` (a run resumed from a
    backup starts it at 2 again). The validation split's `validation_examples` are the same for
    every seed, K bits of density "half", as the held-out strings. `data_dir`,
    `augment`, `cache_dir` and `shuffle` are unused."""
    bits = check_bits(bits)
    if density not in DENSITIES:
        raise ValueError(f"`density` must be one of {DENSITIES}; received {density!r}.")
    if not isinstance(curriculum, bool):
        raise ValueError(f"`curriculum` must be true or false; received {curriculum!r}.")
    if curriculum_positions not in POSITIONS:
        raise ValueError(f"`curriculum_positions` must be one of {POSITIONS}; received {curriculum_positions!r}.")
    if split not in ("train", "validation"):
        raise ValueError(f"`split` must be 'train' or 'validation' (held-out sets: `held_out`); "
                         f"received {split!r}.")
    count = limit or (train_examples if split == "train" else validation_examples)
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)
    schedule = Curriculum(bits, curriculum_threshold, active=curriculum and split == "train")
    if split == "train":
        _LATEST[:] = [schedule]

    def generate():
        active = schedule.bits
        if split == "train":
            rng = rng_for(seed, "train", epochs.draw())
        else:  # not a held-out stream: those start (0, split, index, TAG)
            rng = np.random.default_rng([0, SPLITS[split], 0, TAG, 7])
        for _ in range(batches):
            x = strings(rng, batch_size, bits, density if split == "train" else "half")
            x *= curriculum_mask(rng, batch_size, bits, active, curriculum_positions)
            yield x, parity(x).astype(np.float32)[:, None]

    spec = (tf.TensorSpec((None, bits), tf.float32), tf.TensorSpec((None, 1), tf.float32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def held_out(split, data_dir=None, cache_dir=None, bits=grid_lstm_parity.BITS, examples=HELD_OUT_EXAMPLES,
             **options):
    """({"bits": float32 [E, K]}, parity int64 [E]) of `split` ("validation"
    or "test"): string i from `rng_for(0, split, i)`."""
    bits = check_bits(bits)
    if split not in ("validation", "test"):
        raise ValueError(f"`split` must be 'validation' or 'test'; received {split!r}.")
    x = np.concatenate([strings(rng_for(0, split, i), 1, bits) for i in range(examples)])
    return {"bits": x}, parity(x)


def score(outputs, inputs, labels):
    """Accuracy of the `parity` output, its complement, and K."""
    right = np.asarray(outputs["parity"]).astype(np.int64) == np.asarray(labels).astype(np.int64)
    return {"bits": int(np.shape(inputs["bits"])[1]), "accuracy": float(right.mean()),
            "error": float(1.0 - right.mean())}


TASKS = {"parity": Task(
    name="parity",
    dataset=parity_dataset,
    loss="binary_crossentropy",
    metrics=("binary_accuracy",),
    error_metric="binary_accuracy",
    prediction_output="parity",
    description="parity of K random bits (generated, seeded; fresh strings every epoch, with a curriculum "
                "only k bits random, at random positions, the others 0, k growing from 2 to K as training "
                "masters them); held out: uniform K-bit strings",
    needs_data=False,
    held_out=held_out,
    score=score,
    callbacks=curriculum_callbacks,
)}


def _features(config):
    import tensorflow_datasets as tfds

    return {"bits": tfds.features.Tensor(shape=(config.bits,), dtype=np.float32),
            "parity": tfds.features.ClassLabel(names=("even", "odd"))}


def _example(config, split, index):
    x = strings(rng_for(config.seed, split, index), 1, config.bits)[0]
    return {"bits": x, "parity": int(parity(x))}


def builder(bits=grid_lstm_parity.BITS, examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of K = `bits`-bit strings, `examples` per split
    (string i of a split from `rng_for(seed, split, i)`: with seed 0 the
    validation and test splits are `held_out`'s strings)."""
    bits = check_bits(bits)
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, SPLITS)
    classes = generated.builder_class(
        "SpecialnetsParity", "Random K-bit strings and their parity (Kalchbrenner et al. 2016), generated.",
        _features, _example, fields={"bits": grid_lstm_parity.BITS},
        supervised_keys=lambda config: ("bits", "parity"))
    return generated.prepare_builder(classes, "parity", f"k{bits}-seed{seed}", f"{bits}-bit parity, seed {seed}",
                                     examples, cache_dir, bits=bits, seed=seed)
