"""MNIST tasks: digits from IDX files (`idx`), the spatial transformer
paper's distorted digits made from them (`distorted`), and digits to
reconstruct, with PCA as the baseline (`autoencoder`)."""

import functools

import keras
import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter, resumed_seed
from training.tasks.base import Task, resolve_data_dir
from training.tasks.mnist import autoencoder
from training.tasks.mnist import distorted as distorted_mnist
from training.tasks.mnist import idx


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
    builder = idx.builder(resolve_data_dir(data_dir), cache_dir)
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
# Halves of "validation" (see `idx.split_indices`), each distorted as the whole is.
VALIDATION_HALVES = {"validation_a": "validation", "validation_b": "validation"}


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
    every training seed; "validation_a" and "validation_b" are the first
    and second halves of "validation", the same distorted digits (select
    on one, report the other). `augment` and `cache_dir` are unused: the
    distortion is the augmentation, and it is cheap enough to draw anew.
    """
    images, labels = idx.load(resolve_data_dir(data_dir))
    indices = np.array(idx.split_indices(len(images), split))[:limit]
    size = distorted_mnist.VARIANTS[variant]
    if split != "train":
        # The halves of the validation split are its digits, distorted (and cluttered) as in it.
        whole = VALIDATION_HALVES.get(split, split)
        distorted, _ = distorted_mnist.distort(
            images[indices], variant, DISTORTION_SEED, whole, indices=indices,
            clutter_from=images[np.array(idx.split_indices(len(images), whole))])
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
    **{
        f"mnist_{variant.lower()}": Task(
            name=f"mnist_{variant.lower()}",
            dataset=functools.partial(mnist_rts_dataset, variant=variant),
            loss="sparse_categorical_crossentropy",
            metrics=("sparse_categorical_accuracy",),
            error_metric="sparse_categorical_accuracy",
            prediction_output="class_id",
            description=f"{what} MNIST from IDX files; last 1,000 digits held out for validation",
        )
        for variant, what in (
            ("R", "Rotated (+-90 deg, 28x28)"),
            ("P", "Projectively distorted (28x28)"),
            ("E", "Elastically distorted (thin-plate spline, 28x28)"),
            ("TC", "Translated and cluttered (60x60)"),
        )
    },
    **autoencoder.TASKS,  # mnist_autoencoder
}
