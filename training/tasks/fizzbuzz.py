"""Fizz Buzz (Joel Grus, "Fizz Buzz in TensorFlow", 2016): classify a
number as itself, "fizz" (divisible by 3), "buzz" (by 5) or "fizzbuzz" (by 15).

Splits, all of 1..1023 (10 binary digits):
- `train`: 101..1023 but the validation numbers (833 numbers);
- `validation`: the 90 numbers of 101..1023 whose `n // 15` is a multiple
  of 10 (150-164, 300-314, ..., 900-914): six whole runs of 15, so every
  class comes in its share, held out of training;
- `test`: 1..100, the blog's question, never trained on.

The labels are computed, not read: the task needs no data directory.
"""


import keras
import numpy as np
import tensorflow as tf

from training.epochs import resumed_seed
from training.tasks import generated
from training.tasks.base import Task
from zoo import fizzbuzz

SPLITS = ("train", "validation", "test")


def label(numbers):
    """Class ids of `numbers`: 0 the number, 1 fizz, 2 buzz, 3 fizzbuzz."""
    numbers = np.asarray(numbers)
    return np.select([numbers % 15 == 0, numbers % 5 == 0, numbers % 3 == 0], [3, 2, 1], 0).astype(np.int32)


def answer(number):
    """The right answer to `number`, as the model's `answer` string."""
    class_id = int(label(number))
    return str(int(number)) if class_id == 0 else fizzbuzz.CLASSES[class_id]


def numbers(split):
    """The numbers of `split` (int64, ascending)."""
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {list(SPLITS)}; received {split!r}.")
    if split == "test":
        return np.arange(1, 101, dtype=np.int64)
    pool = np.arange(101, fizzbuzz.MAX_NUMBER + 1, dtype=np.int64)
    held = (pool // 15) % 10 == 0
    return pool[held] if split == "validation" else pool[~held]


def fizzbuzz_dataset(split, data_dir=None, batch_size=128, augment=False, seed=0, limit=None,
                     cache_dir=None, shuffle=None, repeats=1, first_epoch=0):
    """(number int64 [B], class id int32 [B]) batches of `split`.

    One epoch of `train` is `repeats` passes over its numbers (so that the
    blog's thousands of passes are tens of Keras epochs), each pass shuffled
    anew from `seed` (another seed for a run resumed at `first_epoch`).
    Held-out splits are one pass, in order. `limit` keeps the first numbers;
    `data_dir`, `augment` and `cache_dir` are unused.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"`repeats` must be a positive int; received {repeats!r}.")
    values = numbers(split)[:limit] if limit else numbers(split)
    training = split == "train"
    ds = tf.data.Dataset.from_tensor_slices((values, label(values)))
    if shuffle if shuffle is not None else training:
        ds = ds.shuffle(len(values), seed=resumed_seed(seed, first_epoch), reshuffle_each_iteration=True)
    if training:
        ds = ds.repeat(repeats)  # each pass in a new order: a batch of 833 is the whole set
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def held_out(split, data_dir=None, cache_dir=None, **options):
    """({"number": int64 [N]}, right answers str [N]) of `split`."""
    values = numbers(split)
    return {"number": values}, np.array([answer(n) for n in values])


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def score(outputs, inputs, labels):
    """Accuracy of the answer strings, its complement (the error), and the
    number of wrong answers."""
    right = np.array(_text(outputs["answer"])) == np.array(_text(labels))
    return {"error": float(1.0 - right.mean()), "accuracy": float(right.mean()),
            "wrong": int((~right).sum())}


def wrong_answers(outputs, inputs, labels):
    """{number: the wrong answer given} for the wrong ones."""
    given, expected = _text(outputs["answer"]), _text(labels)
    return {int(n): g for n, g, e in zip(np.asarray(inputs["number"]), given, expected) if g != e}


class MemberCrossEntropy(keras.losses.Loss):
    """Sparse cross-entropy of probabilities [B, 4], or of each member of an
    ensemble's [B, M, 4] on its own, averaged: the members train as
    independent networks (a loss on their average would train them as one)."""

    def __init__(self, name="member_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        if len(y_pred.shape) == 3:
            y_true = keras.ops.broadcast_to(keras.ops.expand_dims(y_true, -1), keras.ops.shape(y_pred)[:2])
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def ensemble_accuracy():
    """Accuracy of the (averaged) probabilities, under the usual metric's name."""
    def accuracy(y_true, y_pred):
        return keras.metrics.sparse_categorical_accuracy(y_true, fizzbuzz.average_members(y_pred))

    return keras.metrics.MeanMetricWrapper(accuracy, name="sparse_categorical_accuracy")


TASKS = {"fizzbuzz": Task(
    name="fizzbuzz",
    dataset=fizzbuzz_dataset,
    loss=MemberCrossEntropy,
    metrics=(ensemble_accuracy,),
    error_metric="sparse_categorical_accuracy",
    prediction_output="answer",
    description=("Fizz Buzz classes of numbers: training 101..1023 (833 numbers), validation the 90 "
                 "numbers of 101..1023 with n // 15 a multiple of 10, test 1..100"),
    needs_data=False,
    held_out=held_out,
    score=score,
)}


def _features(config):
    import tensorflow_datasets as tfds

    return {"number": tfds.features.Scalar(np.int64),
            "label": tfds.features.ClassLabel(names=fizzbuzz.CLASSES),
            "answer": tfds.features.Text()}


def _example(config, split, index):
    n = numbers(split)[index]
    return {"number": int(n), "label": int(label(n)), "answer": answer(n)}


def builder(cache_dir="runs/tfds"):
    """A prepared tensorflow-datasets builder of the task under `cache_dir`:
    the numbers of each split in order, their classes and answers."""
    classes = generated.builder_class(
        "SpecialnetsFizzbuzz", "Numbers 1..1023 and their Fizz Buzz answers, in the task's splits.",
        _features, _example, supervised_keys=lambda config: ("number", "label"))
    counts = {split: len(numbers(split)) for split in SPLITS}
    return generated.prepare_builder(classes, "fizzbuzz", "splits", "the task's splits", counts, cache_dir)
