"""tensorflow-datasets builders of the pointer tasks, generated offline.

    builder = pointer_datasets.builder("tsp", sizes=(5, 20), examples={"train": 100_000})
    ds = builder.as_dataset(split="train")  # {"inputs", "label", "size"}

Example i of a split is `pointer_tasks.rng_for(seed, split, i)`'s draw, so
a builder of one size holds exactly the held-out cases that
`training.tasks.pointer.pipeline.held_out` scores (seed 0). Labels are in DESIGN.md's
canonical order. Training (`specialnets train pointer_*`) draws fresh
examples every epoch instead; these builders fix a dataset for reuse.
"""

import dataclasses
import functools
from pathlib import Path

import numpy as np

from training.tasks.base import prepare
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


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import tensorflow_datasets as tfds
    from etils import epath

    @dataclasses.dataclass
    class PointerTaskConfig(tfds.core.BuilderConfig):
        task: str = "sort"
        sizes: tuple = (10, 10)
        examples: tuple = tuple(DEFAULT_EXAMPLES.items())
        seed: int = 0

    class SpecialnetsPointerTasks(tfds.core.GeneratorBasedBuilder):
        """Sorting, convex hulls and TSP tours (Vinyals et al. 2015), generated."""

        VERSION = tfds.core.Version("1.0.0")
        BUILDER_CONFIG_CLASS = PointerTaskConfig
        pkg_dir_path = epath.Path(__file__).parent  # see training/tasks/mnist/idx.py

        def _info(self):
            config = self.builder_config
            shape = (None,) if config.task == "sort" else (None, 2)
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "inputs": tfds.features.Tensor(shape=shape, dtype=np.float32),
                    "label": tfds.features.Tensor(shape=(None,), dtype=np.int32),
                    "size": np.int32,
                }),
                supervised_keys=("inputs", "label"),
                disable_shuffling=True,  # example i stays the i-th
            )

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split, count)
                    for split, count in self.builder_config.examples}

        def _generate_examples(self, split, count):
            config = self.builder_config
            for index in range(count):
                inputs, label, size = example(config.task, config.seed, split, index, config.sizes)
                yield index, {"inputs": inputs, "label": label, "size": size}

    return SpecialnetsPointerTasks, PointerTaskConfig


def builder(task, sizes=(10, 10), examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of `task` ("sort", "hull" or "tsp") with n drawn
    uniformly from `sizes` (inclusive) and `examples` per split."""
    import tensorflow_datasets as tfds

    if task not in EXAMPLES:
        raise ValueError(f"`task` must be one of {sorted(EXAMPLES)}; received {task!r}.")
    low, high = sizes
    if not 2 <= low <= high:
        raise ValueError(f"`sizes` must be (low, high) with 2 <= low <= high; received {sizes}.")
    examples = {**DEFAULT_EXAMPLES, **(examples or {})}
    unknown = set(examples) - set(pt.SPLITS)
    if unknown:
        raise ValueError(f"`examples` splits must be among {sorted(pt.SPLITS)}; received {sorted(unknown)}.")
    counts = "-".join(f"{examples[s]}" for s in sorted(examples))
    builder_class, config_class = _builder_class()
    config = config_class(
        name=f"{task}-n{low}-{high}-seed{seed}-{counts}",
        description=f"{task}, n in [{low}, {high}], seed {seed}",
        task=task, sizes=(low, high), examples=tuple(sorted(examples.items())), seed=seed,
    )
    prepared = builder_class(config=config, data_dir=str(Path(cache_dir) / "pointer-tasks"))
    return prepare(prepared, download_config=tfds.download.DownloadConfig())
