"""tensorflow-datasets builders of the NTM tasks, generated offline.

    builder = ntm_datasets.builder("copy", lengths=(1, 20), examples={"train": 100_000})
    ds = builder.as_dataset(split="train")  # {"bits", "length"}
    ntm_datasets.builder("repeat_copy", lengths=(1, 10), repeats=(1, 10))  # {"bits", "length", "repeats"}
    ntm_datasets.builder("recall", lengths=(2, 6))  # {"items", "query"}: `lengths` counts items

Example i of a split is `generators.rng_for(seed, split, i, task)`'s draw
(a repeat copy's count cycles through `repeats`, as in the held-out sets),
so a builder of one length holds exactly the held-out cases that
`training.tasks.ntm.pipeline`'s `*_held_out` score (seed 0). Training
(`specialnets train ntm_copy`, ...) draws fresh sequences every epoch
instead; these builders fix a dataset for reuse.
"""

import numpy as np

from training.tasks import generated
from training.tasks.ntm import generators as gen

TASKS = ("copy", "repeat_copy", "recall")
DEFAULT_EXAMPLES = {"train": 10_000, "validation": 1000, "test": 1000}


def example(seed, split, index, lengths, task="copy", repeats=(1, 10)):
    """The features of example `index` of `split`: copy's {bits, length},
    repeat copy's {bits, length, repeats}, recall's {items, query}. The
    length (or number of items) is drawn from its own stream, so a fixed
    one gives the held-out cases."""
    low, high = lengths
    length = low if low == high else int(
        np.random.default_rng([seed, gen.SPLITS[split], index, 1]).integers(low, high + 1))
    rng = gen.rng_for(seed, split, index, task)
    if task == "recall":
        items, query = gen.recall_example(rng, length)
        return {"items": items, "query": query}
    features = {"bits": gen.copy_example(rng, length), "length": length}
    if task == "repeat_copy":
        features["repeats"] = repeats[0] + index % (repeats[1] - repeats[0] + 1)
    return features


def _features(config):
    import tensorflow_datasets as tfds

    if config.task == "recall":
        return {"items": tfds.features.Tensor(shape=(None, gen.RECALL_ROWS, gen.RECALL_BITS), dtype=np.float32),
                "query": np.int32}
    features = {"bits": tfds.features.Tensor(shape=(None, gen.BITS), dtype=np.float32), "length": np.int32}
    if config.task == "repeat_copy":
        features["repeats"] = np.int32
    return features


def _supervised_keys(config):
    return ("items", "query") if config.task == "recall" else ("bits", "bits")


def _example(config, split, index):
    return example(config.seed, split, index, config.lengths, config.task, config.repeats)


def builder(task="copy", lengths=(1, 20), examples=None, seed=0, cache_dir="runs/tfds", repeats=(1, 10)):
    """A prepared builder of `task` ("copy", "repeat_copy" or "recall") with
    T (recall: the number of items) drawn uniformly from `lengths`
    (inclusive), a repeat copy's count cycling through `repeats`
    (inclusive), and `examples` per split."""
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)}; received {task!r}.")
    low, high = lengths
    least = 2 if task == "recall" else 1
    if not least <= low <= high:
        raise ValueError(f"`lengths` must be (low, high) with {least} <= low <= high; received {lengths}.")
    if not 1 <= repeats[0] <= repeats[1]:
        raise ValueError(f"`repeats` must be (low, high) with 1 <= low <= high; received {repeats}.")
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, gen.SPLITS)
    classes = generated.builder_class(
        "SpecialnetsNtmTasks",
        "The copy, repeat-copy and recall tasks of the Neural Turing Machine (Graves et al. 2014), generated.",
        _features, _example, fields={"task": "copy", "lengths": (1, 20), "repeats": (1, 10)},
        supervised_keys=_supervised_keys)
    counted = f"-r{repeats[0]}-{repeats[1]}" if task == "repeat_copy" else ""
    return generated.prepare_builder(
        classes, "ntm-tasks", f"{task}-t{low}-{high}{counted}-seed{seed}",
        f"{task}, T in [{low}, {high}], seed {seed}", examples, cache_dir,
        task=task, lengths=(low, high), seed=seed, repeats=tuple(repeats))
