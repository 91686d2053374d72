"""A resumed run's training data continues where the killed run stopped."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from training import tasks, train
from training.epochs import EpochCounter, resumed_seed
from training.tasks import chat as chat_task
from training.tasks import mnist as mnist_tasks
from training.tasks.babi import pipeline as babi_tasks
from training.tasks.pointer import pipeline as pointer_data

FIXTURES = Path(__file__).parent / "fixtures"


def _epochs(ds, count):
    """The first batch of each of `count` passes over `ds` (each pass: one epoch)."""
    firsts = []
    for _ in range(count):
        inputs, labels = next(iter(ds))
        parts = inputs.values() if isinstance(inputs, dict) else [inputs]
        firsts.append([np.asarray(p) for p in parts] + [np.asarray(labels)])
    return firsts


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_resumed_seed_and_epoch_counter():
    assert resumed_seed(7, 0) == 7
    assert resumed_seed(7, 3) == resumed_seed(7, 3) != 7
    assert len({resumed_seed(7, e) for e in range(1, 6)} | {resumed_seed(8, 1)}) == 6
    counter = EpochCounter(4)
    assert [counter.draw() for _ in range(3)] == [4, 5, 6]
    for bad in (-1, 1.0, True, "2"):
        with pytest.raises(ValueError, match="`first_epoch` must be an int >= 0"):
            EpochCounter(bad)


@pytest.mark.parametrize("make", [
    lambda first: babi_tasks.dataset("train", FIXTURES, batch_size=4, seed=1, random_noise=0.3,
                                     tasks=[1, 8], first_epoch=first),
    lambda first: pointer_data.dataset("sort", "train", batch_size=8, seed=1, train_examples=16,
                                       sizes=(3, 6), first_epoch=first),
    lambda first: mnist_tasks.mnist_rts_dataset("train", FIXTURES, batch_size=8, seed=1, limit=16,
                                          first_epoch=first),
], ids=["babi", "pointer", "distorted_mnist"])
def test_a_pipeline_resumed_at_epoch_2_draws_the_uninterrupted_epochs(make):
    uninterrupted = _epochs(make(0), 4)
    assert not _same(uninterrupted[0], uninterrupted[2])  # each epoch draws anew
    assert all(_same(a, b) for a, b in zip(_epochs(make(2), 2), uninterrupted[2:], strict=True))


def test_a_shuffled_pipeline_resumed_does_not_replay_its_first_orders():
    def make(first):
        return chat_task.chat_dataset("train", batch_size=16, seed=1, size=200, first_epoch=first)

    uninterrupted, resumed = _epochs(make(0), 2), _epochs(make(3), 2)
    assert _same(_epochs(make(3), 1)[0], resumed[0])  # still fixed by the seed
    assert not any(_same(r, u) for r in resumed for u in uninterrupted)


def test_train_passes_the_resumed_epoch_to_the_training_data(tiny_data_dir, tmp_path, monkeypatch):
    seen = []
    task = tasks.get("mnist")

    def recording(split, **kwargs):
        seen.append((split, kwargs.get("first_epoch", 0)))
        return task.dataset(split, **kwargs)

    monkeypatch.setitem(tasks.TASKS, "mnist", dataclasses.replace(task, dataset=recording))
    run_dir = tmp_path / "run"
    (run_dir / "backup").mkdir(parents=True)
    # a kill after 2 of 3 epochs left this (the weights file is optional to Keras)
    (run_dir / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    assert train.resumed_epoch(run_dir) == 2 and train.resumed_epoch(tmp_path) == 0
    train.train("highway_mnist", preset="smoke", data_dir=tiny_data_dir, run_dir=run_dir,
                cache_dir=tmp_path / "tfds", epochs=3, verbose=0)
    assert ("train", 2) in seen and all(epoch == 0 for split, epoch in seen if split != "train")
    assert (run_dir / "epochs.log").read_text().split() == ["2"]  # only the last epoch ran
