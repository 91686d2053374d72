"""tensorflow-datasets builders of the NTM tasks, generated offline.

    builder = ntm_datasets.builder("copy", lengths=(1, 20), examples={"train": 100_000})
    ds = builder.as_dataset(split="train")  # {"bits", "length"}

Example i of a split is `generators.rng_for(seed, split, i)`'s draw, so a
builder of one length holds exactly the held-out cases that
`training.tasks.ntm.pipeline.copy_held_out` scores (seed 0). Training
(`specialnets train ntm_copy`) draws fresh sequences every epoch instead;
these builders fix a dataset for reuse.
"""

import contextlib
import dataclasses
import functools
import sys
from pathlib import Path

import numpy as np

from training.tasks.ntm import generators as gen

TASKS = ("copy",)
DEFAULT_EXAMPLES = {"train": 10_000, "validation": 1000, "test": 1000}


def example(seed, split, index, lengths):
    """(bits, length) of example `index` of `split`; the length is drawn
    from its own stream, so a fixed length gives the held-out cases."""
    low, high = lengths
    length = low if low == high else int(
        np.random.default_rng([seed, gen.SPLITS[split], index, 1]).integers(low, high + 1))
    return gen.copy_example(gen.rng_for(seed, split, index), length), length


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import tensorflow_datasets as tfds
    from etils import epath

    @dataclasses.dataclass
    class NTMTaskConfig(tfds.core.BuilderConfig):
        task: str = "copy"
        lengths: tuple = (1, 20)
        examples: tuple = tuple(DEFAULT_EXAMPLES.items())
        seed: int = 0

    class SpecialnetsNtmTasks(tfds.core.GeneratorBasedBuilder):
        """The copy task of the Neural Turing Machine (Graves et al. 2014), generated."""

        VERSION = tfds.core.Version("1.0.0")
        BUILDER_CONFIG_CLASS = NTMTaskConfig
        pkg_dir_path = epath.Path(__file__).parent  # see training/tasks/mnist/idx.py

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "bits": tfds.features.Tensor(shape=(None, gen.BITS), dtype=np.float32),
                    "length": np.int32,
                }),
                supervised_keys=("bits", "bits"),
                disable_shuffling=True,  # example i stays the i-th
            )

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split, count)
                    for split, count in self.builder_config.examples}

        def _generate_examples(self, split, count):
            config = self.builder_config
            for index in range(count):
                bits, length = example(config.seed, split, index, config.lengths)
                yield index, {"bits": bits, "length": length}

    return SpecialnetsNtmTasks, NTMTaskConfig


def builder(task="copy", lengths=(1, 20), examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of `task` ("copy") with T drawn uniformly from
    `lengths` (inclusive) and `examples` per split."""
    import tensorflow_datasets as tfds

    if task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)}; received {task!r}.")
    low, high = lengths
    if not 1 <= low <= high:
        raise ValueError(f"`lengths` must be (low, high) with 1 <= low <= high; received {lengths}.")
    examples = {**DEFAULT_EXAMPLES, **(examples or {})}
    unknown = set(examples) - set(gen.SPLITS)
    if unknown:
        raise ValueError(f"`examples` splits must be among {sorted(gen.SPLITS)}; received {sorted(unknown)}.")
    counts = "-".join(f"{examples[s]}" for s in sorted(examples))
    builder_class, config_class = _builder_class()
    config = config_class(
        name=f"{task}-t{low}-{high}-seed{seed}-{counts}",
        description=f"{task}, T in [{low}, {high}], seed {seed}",
        task=task, lengths=(low, high), examples=tuple(sorted(examples.items())), seed=seed,
    )
    prepared = builder_class(config=config, data_dir=str(Path(cache_dir) / "ntm-tasks"))
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for results
        prepared.download_and_prepare(download_config=tfds.download.DownloadConfig())
    return prepared
