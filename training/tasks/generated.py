"""tensorflow-datasets builders of generated tasks, made from two functions.

A generated task says what an example holds (`features(config)`) and how
example `index` of a split is drawn (`example(config, split, index)`);
`builder_class` makes the tfds builder and its config class from them, and
`prepare_builder` prepares one config of it:

    Builder, Config = generated.builder_class(
        "SpecialnetsLanguages", "The counting languages, generated.", features, example,
        fields={"language": "anbn", "counts": (1, 20)})
    builder = generated.prepare_builder(Builder, Config, "languages", name="anbn-n1-20-seed0",
                                        description="...", examples={"train": 100}, ...)

Every config also has `examples` ((split, count) pairs) and `seed`; example
i of a split stays the i-th (no shuffling), whatever the counts.
"""

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks.base import prepare

_CLASSES = {}  # tfds registers a builder class by its name: make each once


def stream_rng(seed, split, index, splits, tag=None):
    """The NumPy generator of stream `(seed, splits[split], index[, tag])`:
    an example `index` of a held-out split, or epoch `index` of a training
    stream; `tag` keeps one task's streams apart from another's."""
    if split not in splits:
        raise ValueError(f"`split` must be one of {sorted(splits)}; received {split!r}.")
    return np.random.default_rng([seed, splits[split], index] + ([] if tag is None else [tag]))


def fresh_batches(split, seed, batch_size, train_examples, validation_examples, limit, first_epoch,
                  splits, tag, make_batch, output_signature):
    """A tf.data pipeline of `make_batch(rng, batch_size)` batches: fresh
    ones every training epoch (epoch e's generator is stream `(seed,
    "train", e)`, e counted from `first_epoch`), the same validation batches
    for every seed (a stream apart from the held-out sets', which start
    `(0, split, index, tag)`); `limit` replaces the split's example count."""
    if split not in ("train", "validation"):
        raise ValueError(f"`split` must be 'train' or 'validation' (held-out sets: `held_out`); "
                         f"received {split!r}.")
    count = limit or (train_examples if split == "train" else validation_examples)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"`{split}_examples` must be a positive int; received {count!r}.")
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)

    def generate():
        if split == "train":
            rng = stream_rng(seed, "train", epochs.draw(), splits, tag)
        else:
            rng = np.random.default_rng([0, splits[split], 0, tag, 7])
        for _ in range(batches):
            yield make_batch(rng, batch_size)

    ds = tf.data.Dataset.from_generator(generate, output_signature=output_signature)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def builder_class(name, doc, features, example, fields=None, supervised_keys=None):
    """(builder class, config class) named `name` (and `name + "Config"`).

    `features(config)` gives {key: tfds feature}; `example(config, split,
    index)` the example as a dict of those keys; `fields` the config's own
    fields and their defaults; `supervised_keys(config)`, if given, the
    (input, label) keys of `as_supervised`.
    """
    if name in _CLASSES:
        return _CLASSES[name]
    import tensorflow_datasets as tfds
    from etils import epath

    own = [(key, type(value), dataclasses.field(default=value)) for key, value in (fields or {}).items()]
    config_class = dataclasses.make_dataclass(
        f"{name}Config",
        own + [("examples", tuple, dataclasses.field(default=())), ("seed", int, dataclasses.field(default=0))],
        bases=(tfds.core.BuilderConfig,))

    def _info(self):
        config = self.builder_config
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features(config)),
            supervised_keys=supervised_keys(config) if supervised_keys else None,
            disable_shuffling=True,  # example i stays the i-th
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split, count) for split, count in self.builder_config.examples}

    def _generate_examples(self, split, count):
        for index in range(count):
            yield index, example(self.builder_config, split, index)

    cls = type(name, (tfds.core.GeneratorBasedBuilder,), {
        "__doc__": doc,
        "__module__": __name__,
        "VERSION": tfds.core.Version("1.0.0"),
        "BUILDER_CONFIG_CLASS": config_class,
        "pkg_dir_path": epath.Path(__file__).parent,  # see training/tasks/mnist/idx.py
        "_info": _info,
        "_split_generators": _split_generators,
        "_generate_examples": _generate_examples,
    })
    _CLASSES[name] = cls, config_class
    return _CLASSES[name]


def split_counts(examples, defaults, splits):
    """{split: count}: `defaults` updated with `examples`, whose splits must be among `splits`."""
    examples = {**defaults, **(examples or {})}
    unknown = set(examples) - set(splits)
    if unknown:
        raise ValueError(f"`examples` splits must be among {sorted(splits)}; received {sorted(unknown)}.")
    return examples


def prepare_builder(classes, folder, name, description, examples, cache_dir="runs/tfds", **fields):
    """The builder of `classes` (from `builder_class`) for the config `name`
    and the counts of `examples` ({split: count}; e.g. "...-test10-train100"),
    prepared under `cache_dir/folder`."""
    import tensorflow_datasets as tfds

    builder, config_class = classes
    counts = "-".join(f"{s}{examples[s]}" for s in sorted(examples))
    config = config_class(name=f"{name}-{counts}", description=description,
                          examples=tuple(sorted(examples.items())), **fields)
    prepared = builder(config=config, data_dir=str(Path(cache_dir) / folder))
    return prepare(prepared, download_config=tfds.download.DownloadConfig())
