"""tensorflow-datasets builders of the pointer tasks, generated offline.

    builder = pointer_datasets.builder("tsp", sizes=(5, 20), examples={"train": 100_000})
    ds = builder.as_dataset(split="train")  # {"inputs", "label", "size"}

Example i of a split is `pointer_tasks.rng_for(seed, split, i)`'s draw, so
a builder of one size holds exactly the held-out cases that
`training.tasks.pointer.pipeline.held_out` scores (seed 0). Labels are in DESIGN.md's
canonical order. Training (`specialnets train pointer_*`) draws fresh
examples every epoch instead; these builders fix a dataset for reuse.
"""

import numpy as np

from training.tasks import generated
from training.tasks.pointer import generators as pt

EXAMPLES = {"sort": pt.sort_example, "hull": pt.hull_example, "tsp": pt.tsp_example}
DEFAULT_EXAMPLES = {"train": 10_000, "validation": 1000, "test": 1000}


def example(task, seed, split, index, sizes):
    """(inputs, canonical label, n) of example `index` of `split`."""
    low, high = sizes
    size = low if low == high else int(
        np.random.default_rng([seed, pt.SPLITS[split], index, 1]).integers(low, high + 1))
    inputs, label = EXAMPLES[task](pt.rng_for(seed, split, index), size)
    return inputs, label, size


def _features(config):
    import tensorflow_datasets as tfds

    shape = (None,) if config.task == "sort" else (None, 2)
    return {"inputs": tfds.features.Tensor(shape=shape, dtype=np.float32),
            "label": tfds.features.Tensor(shape=(None,), dtype=np.int32),
            "size": np.int32}


def _example(config, split, index):
    inputs, label, size = example(config.task, config.seed, split, index, config.sizes)
    return {"inputs": inputs, "label": label, "size": size}


def builder(task, sizes=(10, 10), examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of `task` ("sort", "hull" or "tsp") with n drawn
    uniformly from `sizes` (inclusive) and `examples` per split."""
    if task not in EXAMPLES:
        raise ValueError(f"`task` must be one of {sorted(EXAMPLES)}; received {task!r}.")
    low, high = sizes
    if not 2 <= low <= high:
        raise ValueError(f"`sizes` must be (low, high) with 2 <= low <= high; received {sizes}.")
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, pt.SPLITS)
    classes = generated.builder_class(
        "SpecialnetsPointerTasks", "Sorting, convex hulls and TSP tours (Vinyals et al. 2015), generated.",
        _features, _example, fields={"task": "sort", "sizes": (10, 10)},
        supervised_keys=lambda config: ("inputs", "label"))
    return generated.prepare_builder(
        classes, "pointer-tasks", f"{task}-n{low}-{high}-seed{seed}",
        f"{task}, n in [{low}, {high}], seed {seed}", examples, cache_dir,
        task=task, sizes=(low, high), seed=seed)
