import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import zoo
from training import tasks, train
from training.tasks import mnist as mnist_tasks
from training.tasks.mnist import idx as mnist

REPO = Path(__file__).resolve().parents[1]


def _write_idx(path, magic, array, truncate=0):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as f:
        f.write(data[: len(data) - truncate])


def test_idx_reader_reads_the_fixture(tiny_data_dir):
    images, labels = mnist.load(tiny_data_dir)
    assert images.shape == (1100, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1100,) and set(np.unique(labels)) <= set(range(10))


def test_idx_reader_names_the_file_and_the_problem(tmp_path):
    _write_idx(tmp_path / "x-images-idx3-ubyte.gz", 2049, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"x-images-idx3-ubyte.gz: IDX magic number is 2049, expected 2051"):
        mnist.read_idx(tmp_path / "x-images-idx3-ubyte.gz", mnist.IMAGE_MAGIC)
    _write_idx(tmp_path / "t-images-idx3-ubyte.gz", 2051, np.zeros((2, 28, 28)), truncate=10)
    with pytest.raises(ValueError, match=r"t-images-idx3-ubyte.gz: header announces \[2, 28, 28\]"):
        mnist.read_idx(tmp_path / "t-images-idx3-ubyte.gz", mnist.IMAGE_MAGIC)
    (tmp_path / "n-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="cannot read IDX file"):
        mnist.read_idx(tmp_path / "n-labels-idx1-ubyte.gz", mnist.LABEL_MAGIC)


def test_mismatched_counts_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="No MNIST IDX files"):
        mnist.load(tmp_path)
    _write_idx(tmp_path / "a-images-idx3-ubyte.gz", 2051, np.zeros((3, 28, 28)))
    _write_idx(tmp_path / "a-labels-idx1-ubyte.gz", 2049, np.zeros((2,)))
    with pytest.raises(ValueError, match="holds 3 images but .* holds 2 labels"):
        mnist.load(tmp_path)


def test_missing_data_dir_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(tasks.DATA_ENV, raising=False)
    with pytest.raises(ValueError, match="--data-dir DIR or set SPECIALNETS_DATA"):
        tasks.resolve_data_dir(None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tasks.resolve_data_dir(tmp_path / "nowhere")


def test_tfds_builder_splits_and_pipeline(tiny_data_dir, tmp_path):
    builder = mnist.builder(tiny_data_dir, tmp_path)
    assert builder.info.splits["train"].num_examples == 100
    assert builder.info.splits["validation"].num_examples == 1000
    ds = mnist_tasks.mnist_dataset("validation", tiny_data_dir, batch_size=64, cache_dir=tmp_path)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    # tfds stores examples in its own (hashed) order: compare as sets of (image, label)
    images, labels = mnist.load(tiny_data_dir)
    want = sorted((img.tobytes(), int(lab)) for img, lab in zip(images[100:], labels[100:]))
    got = sorted((np.round(img[..., 0] * 255).astype(np.uint8).tobytes(), int(lab))
                 for img, lab in zip(x, y))
    assert got == want


def test_augmented_training_batches_are_seeded(tiny_data_dir, tmp_path):
    def first_batch(seed):
        ds = mnist_tasks.mnist_dataset("train", tiny_data_dir, batch_size=8, augment=True,
                                 seed=seed, cache_dir=tmp_path)
        return next(iter(ds))[0].numpy()

    np.testing.assert_array_equal(first_batch(1), first_batch(1))
    assert not np.array_equal(first_batch(1), first_batch(2))


def test_real_mnist_split(data_dir, tmp_path):
    builder = mnist.builder(data_dir, tmp_path)
    assert builder.info.splits["train"].num_examples == 7000
    assert builder.info.splits["validation"].num_examples == 1000


def _train_command(run_dir, data_dir, cache_dir, epochs):
    return [
        sys.executable, "-m", "specialnets", "train", "highway_mnist", "--preset", "smoke",
        "--epochs", str(epochs), "--run-dir", str(run_dir), "--data-dir", str(data_dir),
        "--cache-dir", str(cache_dir), "--verbose", "2",
    ]


def test_train_resumes_after_kill_9(tiny_data_dir, tmp_path):
    run_dir, cache = tmp_path / "run", tmp_path / "tfds"
    epochs_log = run_dir / "epochs.log"

    def logged():
        return [int(e) for e in epochs_log.read_text().split()] if epochs_log.exists() else []

    # kill three times, at whatever moment: mid-epoch or mid-backup
    for _ in range(3):
        before = len(logged())
        process = subprocess.Popen(_train_command(run_dir, tiny_data_dir, cache, 400), cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(logged()) < before + 3:
            assert process.poll() is None, process.stderr.read()[-2000:]
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        resumed = logged()[before:]
        assert before == 0 or resumed[0] >= logged()[before - 1], "a resume restarted from scratch"
    done_before = logged()
    assert (run_dir / "backup").exists() and not (run_dir / "final.weights.h5").exists()

    total = done_before[-1] + 3
    result = subprocess.run(_train_command(run_dir, tiny_data_dir, cache, total), cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed = logged()[len(done_before):]
    # it resumes after the last backed-up epoch (at most the one in flight is redone)
    assert resumed[0] >= done_before[-1] and resumed[-1] == total - 1
    assert len(resumed) <= 4
    info = json.loads((run_dir / "metrics.json").read_text())
    assert info["epochs"] == total and (run_dir / "final.weights.h5").exists()
    assert (run_dir / "logs").is_dir() and not (run_dir / "backup").exists()


def test_same_seed_same_weights(tiny_data_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        train.train("highway_mnist", "smoke", tiny_data_dir, tmp_path / name, seed=3,
                    epochs=1, cache_dir=tmp_path / "tfds", verbose=0)
        runs.append(train.load_run_model(tmp_path / name).get_weights())
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_preset_is_a_clear_error(tiny_data_dir):
    with pytest.raises(ValueError, match="Unknown preset 'huge'.*expected one of"):
        train.train("highway_mnist", "huge", tiny_data_dir)


def test_depth_study_prints_the_best_run_per_configuration(tiny_data_dir, tmp_path, capsys):
    from training.tasks.mnist import depth_study

    out = tmp_path / "study.json"
    depth_study.main(["--data-dir", str(tiny_data_dir), "--depths", "2", "3", "--epochs", "1",
                      "--width", "8", "--learning-rates", "0.01", "--activations", "tanh",
                      "--cache-dir", str(tmp_path / "tfds"), "--out", str(out)])
    table = capsys.readouterr().out.split("| depth |")[1].splitlines()
    assert table[2].startswith("| 2 | ") and table[3].startswith("| 3 | ")
    assert "(tanh, lr 0.01, b -2)" in table[2]
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 2 * (1 + 2 + 1)  # plain, highway at two biases, residual


def test_a_run_stopped_after_its_final_weights_is_finished_without_training(tmp_path, recwarn):
    from zoo import registry

    run_dir = tmp_path / "run"
    train.train("pointer_sort", preset="smoke", run_dir=run_dir, verbose=0)
    digest = registry.sha256_of(run_dir / "final.weights.h5")
    epochs = (run_dir / "epochs.log").read_text()
    first = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").unlink()  # as if killed before the figures were written
    info = train.train("pointer_sort", preset="smoke", run_dir=run_dir, verbose=0)
    assert (run_dir / "epochs.log").read_text() == epochs  # no epoch ran again
    assert registry.sha256_of(run_dir / "final.weights.h5") == digest
    assert info["metrics"] == first["metrics"]
    assert not [w for w in recwarn if "Skipping variable loading" in str(w.message)]


def test_a_variant_is_recorded_and_never_published(tmp_path):
    run_dir = tmp_path / "lstm"
    info = train.train("pointer_sort", preset="smoke", run_dir=run_dir, verbose=0,
                       model_overrides={"encoder": "lstm"})
    assert info["model_config"]["encoder"] == "lstm"
    assert info["command"].endswith("--set encoder=lstm")
    assert train.load_run_model(run_dir).get_layer("encoder").__class__.__name__ == "LSTM"
    with pytest.raises(ValueError, match="changed the model"):
        train.publish("pointer_sort", run_dir)
    with pytest.raises(ValueError, match=r"has no builder argument \['depth'\]"):
        train.train("pointer_sort", preset="smoke", run_dir=tmp_path / "x", model_overrides={"depth": 3})


@pytest.mark.parametrize("name", zoo.names())
def test_published_weights_are_their_paper_preset_as_it_is_now(name):
    entry = zoo.get(name)
    info = json.loads(entry.weights_info_path.read_text())
    assert info["preset"] == "paper"
    assert info["model_config"] == entry.preset("paper").model
    assert train.changes_to_paper_preset(entry, info) == {}


def test_only_overrides_that_differ_from_the_paper_preset_are_changes(tmp_path):
    entry = zoo.get("memn2n_babi_10k")
    paper = entry.preset("paper")
    run = {"preset": "paper", "model_config": paper.model, "epochs": paper.epochs, "init_weights": None,
           "model_overrides": {"tying": paper.model["tying"]}, "task_overrides": {"size": "10k"},
           "training_overrides": {"learning_rate": paper.learning_rate}}
    assert train.changes_to_paper_preset(entry, run) == {}
    changed = {**run, "model_overrides": {"tying": "other", "hops": 3}, "task_overrides": {"tasks": [16]},
               "training_overrides": {"clipnorm": 1.0}, "epochs": 9, "init_weights": "w.h5"}
    assert train.changes_to_paper_preset(entry, changed) == {
        "tying": "other", "tasks": [16], "clipnorm": 1.0, "epochs": 9, "init_weights": "w.h5"}
    # a preset that starts from another zoo model's weights: a run that did not is not the preset
    repeat = zoo.get("ntm_repeat_copy")
    cold = {**run, "model_config": repeat.preset("paper").model, "epochs": repeat.preset("paper").epochs,
            "model_overrides": {}, "task_overrides": {}, "training_overrides": {}}
    assert train.changes_to_paper_preset(repeat, cold) == {"warm_start": None}
    assert train.changes_to_paper_preset(repeat, {**cold, "warm_start": {"model": "ntm_copy"}}) == {}
    # a run of an earlier paper preset, with no overrides, is not the preset either
    run_dir = tmp_path / "earlier"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({**run, "model_config": {**paper.model, "depth": 20}}))
    with pytest.raises(ValueError, match="the preset changed after the run"):
        train.publish("memn2n_babi_10k", run_dir)


def test_init_weights_continues_a_finished_run(tiny_data_dir, tmp_path):
    import csv

    first, second = tmp_path / "first", tmp_path / "second"
    common = dict(preset="smoke", data_dir=tiny_data_dir, cache_dir=tmp_path / "tfds", verbose=0)
    train.train("highway_mnist", run_dir=first, **common)
    info = train.train("highway_mnist", run_dir=second, init_weights=first / "final.weights.h5", **common)
    assert info["init_weights"] == str(first / "final.weights.h5")
    assert info["command"].endswith(f"--init-weights {first / 'final.weights.h5'}")
    losses = [[float(row["loss"]) for row in csv.DictReader(open(run / "history.csv"))]
              for run in (first, second)]
    assert losses[1][0] < losses[0][0]  # it starts where the first run ended
    with pytest.raises(FileNotFoundError, match="`init_weights`: .* is not a file"):
        train.train("highway_mnist", run_dir=tmp_path / "x", init_weights=tmp_path / "no.h5", **common)
    with pytest.raises(ValueError, match="`init_weights`: .* does not fit highway_mnist"):
        train.train("highway_mnist", run_dir=tmp_path / "y", model_overrides={"width": 8},
                    init_weights=first / "final.weights.h5", **common)


def test_training_overrides_sgd_halving_and_errors(tmp_path):
    import keras

    from zoo import registry

    config = train._with_training_overrides(
        registry.Preset(model={}, epochs=3, learning_rate=0.1), {"optimizer": "sgd", "halve_every": 1})
    optimizer = train._optimizer(config, total_steps=30, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.SGD)
    schedule = optimizer._learning_rate
    assert [round(float(schedule(step)), 6) for step in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    with pytest.raises(ValueError, match=r"no training field \['depth'\]"):
        train._with_training_overrides(config, {"depth": 3})
    with pytest.raises(ValueError, match="`optimizer` must be 'adam' or 'sgd'"):
        train._with_training_overrides(config, {"optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="`halve_every` must be a positive int"):
        train._with_training_overrides(config, {"halve_every": 0})
    run_dir = tmp_path / "sgd"
    info = train.train("pointer_sort", preset="smoke", run_dir=run_dir, verbose=0,
                       training_overrides={"optimizer": "sgd", "learning_rate": 0.05})
    assert info["command"].endswith("--train-set optimizer=sgd --train-set learning_rate=0.05")
    with pytest.raises(ValueError, match="changed the model or its training"):
        train.publish("pointer_sort", run_dir)


def test_a_preset_can_train_with_xla(tmp_path, monkeypatch):
    import keras

    compiled = []
    original = keras.Model.compile

    def recording_compile(self, *args, **kwargs):
        compiled.append(kwargs.get("jit_compile"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "compile", recording_compile)
    plain = train.train("fizzbuzz", preset="smoke", run_dir=tmp_path / "plain", verbose=0)
    xla = train.train("fizzbuzz", preset="smoke", run_dir=tmp_path / "xla", verbose=0,
                      training_overrides={"jit_compile": True})
    assert compiled[0] == "auto" and True in compiled
    assert xla["command"].endswith("--train-set jit_compile=true")
    # The same training, compiled by XLA: the same figures within float error.
    assert xla["metrics"]["validation"]["loss"] == pytest.approx(
        plain["metrics"]["validation"]["loss"], rel=1e-3)
    with pytest.raises(ValueError, match="`jit_compile` must be true or false"):
        train._with_training_overrides(train.zoo.get("fizzbuzz").preset("smoke"), {"jit_compile": "yes"})
