"""Generated tasks of the Neural Turing Machine paper (Graves et al. 2014).

Every example is drawn from a NumPy generator seeded by (seed, split,
index) (`rng_for`; the repeat-copy and recall tasks add their own tag, so
their streams differ from the copy task's), so a split is the same
whatever the batch size:
- `copy_example`: T random 8-bit vectors, to be copied after a delimiter;
- `repeat_copy_example`: T vectors and a repeat count R, to be copied R
  times, then an end marker (`repeat_copy_target`);
- `recall_example`: K items of three 6-bit vectors and a query item
  (0..K-2), whose successor is to be recalled.
"""

import numpy as np

from training.tasks import generated

SPLITS = {"train": 0, "validation": 1, "test": 2}
TASK_TAGS = {"copy": None, "repeat_copy": 2, "recall": 3}
BITS = 8
RECALL_BITS, RECALL_ROWS = 6, 3


def rng_for(seed, split, index, task="copy"):
    if task not in TASK_TAGS:
        raise ValueError(f"`task` must be one of {sorted(TASK_TAGS)}; received {task!r}.")
    return generated.stream_rng(seed, split, index, SPLITS, TASK_TAGS[task])


def copy_example(rng, length):
    """bits [length, 8] in {0, 1}; the target is the same."""
    return rng.integers(0, 2, size=(length, BITS)).astype(np.float32)


def repeat_copy_example(rng, length, repeats):
    """(bits [length, 8], repeats): the target is bits tiled `repeats` times."""
    return copy_example(rng, length), np.int32(repeats)


def repeat_copy_target(bits, repeats, most_repeats=None):
    """[most_repeats*T + 1, 9]: `bits` [T, 8] tiled `repeats` times in channels
    0..7 (0 past them), and channel 8 the end marker: 0 before step
    repeats*T, 1 from it on (the output has ended)."""
    length = bits.shape[0]
    most_repeats = repeats if most_repeats is None else most_repeats
    target = np.zeros((most_repeats * length + 1, BITS + 1), np.float32)
    target[: repeats * length, :BITS] = np.tile(bits, (repeats, 1))
    target[repeats * length:, BITS] = 1.0
    return target


def recall_example(rng, items):
    """(items [K, 3, 6], query in [0, K-2]): the target is items[query + 1]."""
    values = rng.integers(0, 2, size=(items, RECALL_ROWS, RECALL_BITS)).astype(np.float32)
    return values, np.int32(rng.integers(0, items - 1))
