"""tensorflow-datasets builders of the counting languages, generated offline.

    builder = language_datasets.builder("anbn", counts=(1, 20), examples={"train": 10_000})
    ds = builder.as_dataset(split="train")  # {"sequence", "n", "m"}

Example i of a split is `generators.example(language, seed, split, i)`
(m is 0 for the one-count languages). Training (`specialnets train
stack_rnn_anbn`) draws fresh strings every epoch instead; these builders
fix a dataset for reuse.
"""

import dataclasses
import functools
from pathlib import Path

import numpy as np

from training.tasks.base import prepare
from training.tasks.languages import generators as gen

DEFAULT_EXAMPLES = {"train": 10_000, "validation": 1000, "test": 1000}


@functools.cache  # tfds registers a builder class by name: define it once
def _builder_class():
    import tensorflow_datasets as tfds
    from etils import epath

    @dataclasses.dataclass
    class LanguageConfig(tfds.core.BuilderConfig):
        language: str = "anbn"
        counts: tuple = (1, 20)
        examples: tuple = tuple(DEFAULT_EXAMPLES.items())
        seed: int = 0

    class SpecialnetsLanguages(tfds.core.GeneratorBasedBuilder):
        """The counting languages of Joulin & Mikolov (2015), generated."""

        VERSION = tfds.core.Version("1.0.0")
        BUILDER_CONFIG_CLASS = LanguageConfig
        pkg_dir_path = epath.Path(__file__).parent  # see training/tasks/mnist/idx.py

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "sequence": tfds.features.Text(),
                    "n": np.int32,
                    "m": np.int32,
                }),
                disable_shuffling=True,  # example i stays the i-th
            )

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split, count)
                    for split, count in self.builder_config.examples}

        def _generate_examples(self, split, count):
            config = self.builder_config
            low, high = config.counts
            for index in range(count):
                text, n, m = gen.example(config.language, config.seed, split, index, low, high)
                yield index, {"sequence": text, "n": n, "m": m or 0}

    return SpecialnetsLanguages, LanguageConfig


def builder(language="anbn", counts=(1, 20), examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of `language` (a name of `generators.LANGUAGES`)
    with counts drawn uniformly from `counts` (inclusive) and `examples` per split."""
    import tensorflow_datasets as tfds

    gen.language(language)
    low, high = counts
    if not 1 <= low <= high:
        raise ValueError(f"`counts` must be (low, high) with 1 <= low <= high; received {counts}.")
    examples = {**DEFAULT_EXAMPLES, **(examples or {})}
    unknown = set(examples) - set(gen.SPLITS)
    if unknown:
        raise ValueError(f"`examples` splits must be among {sorted(gen.SPLITS)}; received {sorted(unknown)}.")
    sizes = "-".join(f"{examples[s]}" for s in sorted(examples))
    builder_class, config_class = _builder_class()
    config = config_class(
        name=f"{language}-n{low}-{high}-seed{seed}-{sizes}",
        description=f"{gen.LANGUAGES[language].title}, counts in [{low}, {high}], seed {seed}",
        language=language, counts=(low, high), examples=tuple(sorted(examples.items())), seed=seed,
    )
    prepared = builder_class(config=config, data_dir=str(Path(cache_dir) / "languages"))
    return prepare(prepared, download_config=tfds.download.DownloadConfig())
