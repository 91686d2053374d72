"""Training tasks: data pipelines, losses and held-out metrics per task."""

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from training import chat_task, mnist
from training.epochs import EpochCounter, resumed_seed

DATA_ENV = "SPECIALNETS_DATA"


def resolve_data_dir(data_dir=None):
    """`data_dir`, else `$SPECIALNETS_DATA`, else a clear error."""
    data_dir = data_dir or os.environ.get(DATA_ENV)
    if not data_dir:
        raise ValueError(
            f"No data directory: pass --data-dir DIR or set {DATA_ENV}=DIR "
            "(a directory holding the task's files, e.g. mnist/*-idx3-ubyte.gz)."
        )
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"Data directory {path} does not exist.")
    return path


def class_error(outputs, inputs, labels, output="class_id"):
    """Score of a classifier: the fraction of wrong classes."""
    return {"error": float(np.mean(outputs[output] != labels))}


@dataclasses.dataclass(frozen=True)
class Task:
    """How to feed and score a zoo model.

    `dataset(split, data_dir=, batch_size=, augment=, seed=, limit=,
    cache_dir=, shuffle=, first_epoch=, **options)` gives (inputs, labels)
    batches for `fit`; `first_epoch` is the epoch a resumed run starts at
    (`training/epochs.py`); `options` come from the preset's `task` dict. `loss` and each of
    `metrics` is a Keras name or a zero-argument factory. `held_out(split,
    data_dir=, cache_dir=, **options)` gives (inputs by serving name,
    labels) and `score(outputs, inputs, labels)` the figures (an "error"
    among them) of the serving outputs on them; by default both come from
    the dataset and `prediction_output` against the labels.
    """

    name: str
    dataset: Callable[..., tf.data.Dataset]
    loss: Any
    metrics: tuple
    error_metric: str  # the Keras metric whose complement is the error in training
    prediction_output: str  # the serving output compared with the labels
    description: str
    needs_data: bool = True  # False for tasks generated on the fly
    held_out: Callable | None = None
    score: Callable | None = None
    callbacks: Callable | None = None  # extra training callbacks: a factory of the preset

    def compile_arguments(self):
        make = lambda item: item() if callable(item) else item  # noqa: E731
        return dict(loss=make(self.loss), metrics=[make(m) for m in self.metrics])

    def scores(self, outputs, inputs, labels):
        if self.score is not None:
            return self.score(outputs, inputs, labels)
        return class_error(outputs, inputs, labels, self.prediction_output)


def mnist_dataset(
    split,
    data_dir=None,
    batch_size=128,
    augment=False,
    seed=0,
    limit=None,
    cache_dir="runs/tfds",
    shuffle=None,
    first_epoch=0,
):
    """(image float32 [28, 28, 1] in [0, 1], label int64) batches of MNIST.

    `augment` applies random shifts of up to 2 pixels and rotations of up to
    10 degrees, drawn anew every epoch from `seed` (another one for a run
    resumed at `first_epoch`, see `training/epochs.py`).
    """
    seed = resumed_seed(seed, first_epoch)
    builder = mnist.builder(resolve_data_dir(data_dir), cache_dir)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    if limit:
        ds = ds.take(limit)
    ds = ds.map(lambda image, label: (tf.cast(image, tf.float32) / 255.0, label))
    ds = ds.cache()
    if shuffle if shuffle is not None else split == "train":
        ds = ds.shuffle(8192, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        augmenter = keras.Sequential(
            [
                keras.layers.RandomRotation(10 / 360, fill_mode="constant", seed=seed),
                keras.layers.RandomTranslation(
                    2 / 28, 2 / 28, fill_mode="constant", seed=seed + 1
                ),
            ]
        )
        # Sequential on purpose: parallel calls would draw the seeded random
        # transforms in thread order, and runs would not repeat.
        ds = ds.map(lambda image, label: (augmenter(image, training=True), label))
    return ds.prefetch(tf.data.AUTOTUNE)


DISTORTION_SEED = 0  # held-out splits are distorted alike for every training seed


def mnist_rts_dataset(
    split,
    data_dir=None,
    batch_size=128,
    augment=False,
    seed=0,
    limit=None,
    cache_dir="runs/tfds",
    shuffle=None,
    variant="RTS",
    first_epoch=0,
):
    """(image float32 [S, S, 1], label int64) batches of distorted MNIST.

    The training split draws fresh distortions every epoch (from `seed` and
    the epoch number, counted from `first_epoch`: a resumed run's); other splits are distorted once, the same way for
    every training seed. `augment` and `cache_dir` are unused: the
    distortion is the augmentation, and it is cheap enough to draw anew.
    """
    from training import distorted_mnist

    images, labels = mnist.load(resolve_data_dir(data_dir))
    indices = np.array(mnist.split_indices(len(images), split))[:limit]
    size = distorted_mnist.VARIANTS[variant]
    if split != "train":
        distorted, _ = distorted_mnist.distort(
            images[indices], variant, DISTORTION_SEED, split, indices=indices)
        ds = tf.data.Dataset.from_tensor_slices((distorted, labels[indices].astype(np.int64)))
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    epochs = EpochCounter(first_epoch)

    def one_epoch():
        epoch = epochs.draw()
        distorted, _ = distorted_mnist.distort(
            images[indices], variant, seed, split, epoch=epoch, indices=indices)
        order = np.random.default_rng([seed, epoch]).permutation(len(indices))
        for i in order:
            yield distorted[i], np.int64(labels[indices[i]])

    ds = tf.data.Dataset.from_generator(
        one_epoch,
        output_signature=(
            tf.TensorSpec((size, size, 1), tf.float32),
            tf.TensorSpec((), tf.int64),
        ),
    ).apply(tf.data.experimental.assert_cardinality(len(indices)))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


TASKS = {
    "mnist": Task(
        name="mnist",
        dataset=mnist_dataset,
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="class_id",
        description="MNIST digits from IDX files (last 1,000 held out for validation)",
    ),
    "mnist_rts": Task(
        name="mnist_rts",
        dataset=mnist_rts_dataset,
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="class_id",
        description=(
            "RTS-distorted MNIST (rotation +-45 deg, scale 0.7-1.2, random place on "
            "42x42) from IDX files; last 1,000 digits held out for validation"
        ),
    ),
    "chat": Task(name="chat", **chat_task.TASK_FIELDS),  # greetings with unseen names
}


def get(name):
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; expected one of {sorted(TASKS)}.")
    return TASKS[name]


def _pointer_task(kind, description):
    import functools

    from training import pointer_data

    return Task(
        name=f"pointer_{kind}",
        dataset=functools.partial(pointer_data.dataset, kind),
        loss=pointer_loss,
        metrics=(pointer_accuracy,),
        error_metric="pointer_accuracy",
        prediction_output={"sort": "order", "hull": "hull", "tsp": "tour"}[kind],
        description=description,
        needs_data=False,
        held_out=functools.partial(pointer_data.held_out, kind),
        score=getattr(pointer_data, f"score_{kind}"),
    )


def pointer_loss():
    from custom_layers.pointer_losses import PointerLoss

    return PointerLoss()


def pointer_accuracy():
    from custom_layers.pointer_losses import PointerAccuracy

    return PointerAccuracy()


TASKS.update(
    pointer_sort=_pointer_task("sort", "sorting n uniform floats (generated, seeded)"),
    pointer_hull=_pointer_task(
        "hull", "planar convex hulls of n uniform points in the unit square (generated, exact)"),
    pointer_tsp=_pointer_task(
        "tsp", "TSP tours of n uniform cities; optimal (Held-Karp) up to 12, 2-opt beyond"),
)


def _babi_task(size):
    import functools

    from training import babi_tasks

    def linear_start(preset):
        from custom_layers import LinearStart

        # babi_lstm_baseline has no hops
        return [LinearStart(skip_without_hops=True, epochs=preset.linear_start_epochs)]

    return Task(
        name="babi" if size == "1k" else "babi_10k",
        dataset=functools.partial(babi_tasks.dataset, size=size),
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="answer",
        description=(f"bAbI v1.2, the 20 tasks jointly, {size} training files; the last 10% of "
                     "each task's stories held out for validation"),
        held_out=functools.partial(babi_tasks.held_out, size=size),
        score=babi_tasks.score,
        callbacks=linear_start,
    )


TASKS.update(babi=_babi_task("1k"), babi_10k=_babi_task("10k"))


def _vqa_task():
    from training import shapes_vqa

    return Task(
        name="vqa_shapes",
        dataset=shapes_vqa.dataset,
        loss="sparse_categorical_crossentropy",
        metrics=("sparse_categorical_accuracy",),
        error_metric="sparse_categorical_accuracy",
        prediction_output="answer",
        description=("generated shapes VQA: 2 to 5 coloured shapes on a 3 x 3 grid; existence, "
                     "colour, shape and relative-position questions (tfds builder, seed 0)"),
        needs_data=False,
        held_out=shapes_vqa.held_out,
        score=shapes_vqa.score,
    )


TASKS.update(vqa_shapes=_vqa_task())
