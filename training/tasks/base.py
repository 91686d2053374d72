"""What every task family gives the training loop: a `Task`, and where its data lies."""

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

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


def prepare(builder, **kwargs):
    """`builder.download_and_prepare(**kwargs)`, its chatter on stderr (stdout
    is for results), under a lock file beside the data: processes preparing
    the same data at once (restarts, workers, parallel tests) take turns
    instead of racing to rename the same directory."""
    lock_path = Path(f"{builder.data_dir}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock, contextlib.redirect_stdout(sys.stderr):
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; prepare unguarded
            fcntl = None
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        builder.download_and_prepare(**kwargs)
        if not builder.info.splits:  # made before another process prepared it: read what that one wrote
            builder.info.read_from_directory(builder.data_dir)
    return builder


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
    # options of the `paper` preset's task data that also choose the held-out data (shapes VQA's
    # `relational`): what a model was trained on is what it is scored on unless told otherwise
    held_out_from_preset: tuple = ()

    def compile_arguments(self):
        make = lambda item: item() if callable(item) else item  # noqa: E731
        return dict(loss=make(self.loss), metrics=[make(m) for m in self.metrics])

    def scores(self, outputs, inputs, labels):
        if self.score is not None:
            return self.score(outputs, inputs, labels)
        return class_error(outputs, inputs, labels, self.prediction_output)
