"""tensorflow-datasets builders of the counting languages, generated offline.

    builder = language_datasets.builder("anbn", counts=(1, 20), examples={"train": 10_000})
    ds = builder.as_dataset(split="train")  # {"sequence", "n", "m"}

Example i of a split is `generators.example(language, seed, split, i)`
(m is 0 for the one-count languages). Training (`specialnets train
stack_rnn_anbn`) draws fresh strings every epoch instead; these builders
fix a dataset for reuse.
"""

import numpy as np

from training.tasks import generated
from training.tasks.languages import generators as gen

DEFAULT_EXAMPLES = {"train": 10_000, "validation": 1000, "test": 1000}


def _features(config):
    import tensorflow_datasets as tfds

    return {"sequence": tfds.features.Text(), "n": np.int32, "m": np.int32}


def _example(config, split, index):
    low, high = config.counts
    text, n, m = gen.example(config.language, config.seed, split, index, low, high)
    return {"sequence": text, "n": n, "m": m or 0}


def builder(language="anbn", counts=(1, 20), examples=None, seed=0, cache_dir="runs/tfds"):
    """A prepared builder of `language` (a name of `generators.LANGUAGES`)
    with counts drawn uniformly from `counts` (inclusive) and `examples` per split."""
    gen.language(language)
    low, high = counts
    if not 1 <= low <= high:
        raise ValueError(f"`counts` must be (low, high) with 1 <= low <= high; received {counts}.")
    examples = generated.split_counts(examples, DEFAULT_EXAMPLES, gen.SPLITS)
    classes = generated.builder_class(
        "SpecialnetsLanguages", "The counting languages of Joulin & Mikolov (2015), generated.",
        _features, _example, fields={"language": "anbn", "counts": (1, 20)})
    return generated.prepare_builder(
        classes, "languages", f"{language}-n{low}-{high}-seed{seed}",
        f"{gen.LANGUAGES[language].title}, counts in [{low}, {high}], seed {seed}", examples, cache_dir,
        language=language, counts=(low, high), seed=seed)
