import numpy as np
import pytest

from training.tasks.ntm import builders as ntm_datasets
from training.tasks.ntm import generators as gen
from training.tasks.ntm import pipeline


def _batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_copy_batches_are_deterministic_per_seed_and_fresh_per_epoch():
    make = lambda seed, first_epoch=0: pipeline.copy_dataset(  # noqa: E731
        "train", seed=seed, batch_size=4, train_examples=12, lengths=(2, 6), first_epoch=first_epoch)
    ds = make(0)
    epoch_1, epoch_2 = _batches(ds), _batches(ds)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(epoch_1, _batches(make(0))))
    assert not all(a[0].shape == b[0].shape and np.array_equal(a[0], b[0]) for a, b in zip(epoch_1, epoch_2))
    resumed = _batches(make(0, first_epoch=1))  # a run resumed at epoch 1 sees epoch 1's data
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(epoch_2, resumed))
    assert not np.array_equal(epoch_1[0][0], _batches(make(1))[0][0])
    for bits, target in epoch_1:
        assert bits.shape[0] == 4 and 2 <= bits.shape[1] <= 6 and bits.shape[2] == 8
        np.testing.assert_array_equal(bits, target)
        assert set(np.unique(bits)) <= {0.0, 1.0}


def test_validation_is_the_same_for_every_seed():
    a = _batches(pipeline.copy_dataset("validation", seed=0, batch_size=8, validation_examples=16))
    b = _batches(pipeline.copy_dataset("validation", seed=5, batch_size=8, validation_examples=16))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))


def test_held_out_sequences_are_not_training_sequences():
    inputs, labels = pipeline.copy_held_out("validation", length=20, examples=50)
    assert inputs["bits"].shape == (50, 20, 8)
    train = np.concatenate([x for x, _ in _batches(pipeline.copy_dataset(
        "train", batch_size=50, train_examples=50, lengths=(20, 20)))])
    assert not any(np.array_equal(train[i], inputs["bits"][j]) for i in range(50) for j in range(50))
    test, _ = pipeline.copy_held_out("test", length=20, examples=50)
    assert not np.array_equal(test["bits"], inputs["bits"])


def test_score_counts_wrong_bits_per_sequence():
    labels = np.zeros((3, 4, 8), "float32")
    copy = np.full((3, 4, 8), 0.2, "float32")
    copy[1, 0, :3] = 0.9   # three wrong bits
    copy[2, 2, 7] = 0.51  # one
    scores = pipeline.score_copy({"copy": copy}, {"bits": labels}, labels)
    assert scores["bits_per_sequence"] == pytest.approx(4 / 3)
    assert scores["exact"] == pytest.approx(1 / 3) and scores["error"] == pytest.approx(2 / 3)
    assert scores["length"] == 4


def test_bad_lengths_are_named():
    with pytest.raises(ValueError, match="`lengths`"):
        pipeline.copy_dataset("train", lengths=(0, 5))
    with pytest.raises(ValueError, match="`length`"):
        pipeline.copy_held_out("validation", length=0)
    with pytest.raises(ValueError, match="`split`"):
        gen.rng_for(0, "dev", 0)


def test_tfds_builder_holds_the_held_out_cases(tmp_path):
    builder = ntm_datasets.builder("copy", lengths=(20, 20), examples={"validation": 5, "train": 3, "test": 2},
                                   cache_dir=tmp_path)
    rows = list(builder.as_dataset(split="validation").as_numpy_iterator())
    held_out, _ = pipeline.copy_held_out("validation", length=20, examples=5)
    np.testing.assert_array_equal(np.stack([r["bits"] for r in rows]), held_out["bits"])
    varied = ntm_datasets.builder("copy", lengths=(1, 20), examples={"train": 20, "validation": 1, "test": 1},
                                  cache_dir=tmp_path)
    lengths = [int(r["length"]) for r in varied.as_dataset(split="train").as_numpy_iterator()]
    assert len(set(lengths)) > 3 and min(lengths) >= 1 and max(lengths) <= 20
    with pytest.raises(ValueError, match="`task`"):
        ntm_datasets.builder("sort")
