"""Repeat copy and associative recall (Graves et al. 2014): data, protocol layers, scores, models."""

import numpy as np
import pytest
import tensorflow as tf

from training import train
from training.tasks.ntm import builders as ntm_datasets
from training.tasks.ntm import generators as gen
from training.tasks.ntm import pipeline
from zoo import ntm_tasks
from zoo.ntm_tasks import (RecallPhases, RecallReadOut, RepeatCopyMask, RepeatCopyPhases, RepeatCopyReadOut,
                           build_recall_model, build_repeat_copy_model)

SMALL = dict(units=8, memory_size=16, memory_width=4)


def _batches(ds):
    return [(x, y.numpy()) for x, y in ds]


def _same(a, b):
    return all(k_a.keys() == k_b.keys() and all(np.array_equal(k_a[k], k_b[k]) for k in k_a)
               and np.array_equal(y_a, y_b) for (k_a, y_a), (k_b, y_b) in zip(a, b))


@pytest.mark.parametrize("make", [
    lambda **k: pipeline.repeat_copy_dataset("train", batch_size=4, train_examples=12, **k),
    lambda **k: pipeline.recall_dataset("train", batch_size=4, train_examples=12, **k),
])
def test_training_batches_are_deterministic_per_seed_fresh_per_epoch_and_resumable(make):
    ds = make(seed=0)
    epoch_1, epoch_2 = _batches(ds), _batches(ds)
    assert _same(epoch_1, _batches(make(seed=0)))
    assert not _same(epoch_1, epoch_2)
    assert _same(epoch_2, _batches(make(seed=0, first_epoch=1)))
    assert not _same(epoch_1, _batches(make(seed=1)))


def test_repeat_copy_targets_tile_the_bits_then_mark_the_end():
    counts = set()
    for inputs, target in _batches(pipeline.repeat_copy_dataset("train", batch_size=4, train_examples=40)):
        bits, repeats = inputs["bits"].numpy(), inputs["repeats"].numpy()
        length = bits.shape[1]
        assert 1 <= length <= 10 and 1 <= repeats.min() and repeats.max() <= 10
        assert target.shape == (4, 10 * length + 1, 9) and inputs["steps"].shape == (4, 10 * length + 1)
        for example, count in zip(range(4), repeats):
            own = count * length
            counts.add(int(count))
            np.testing.assert_array_equal(target[example, :own, :8], np.tile(bits[example], (count, 1)))
            np.testing.assert_array_equal(target[example, own:, :8], 0)
            np.testing.assert_array_equal(target[example, :, 8], np.arange(10 * length + 1) >= own)
    assert len(counts) > 5
    padded = gen.repeat_copy_target(np.ones((2, 8), "float32"), 1, most_repeats=3)
    assert padded.shape == (7, 9) and padded[:2, :8].all() and not padded[2:, :8].any()
    np.testing.assert_array_equal(padded[:, 8], [0, 0, 1, 1, 1, 1, 1])


def test_repeat_copy_curriculum_grows_the_lengths_and_counts_of_training_only():
    ds = pipeline.repeat_copy_dataset("train", batch_size=8, train_examples=160, curriculum_epochs=4)
    largest = []
    for _ in range(5):
        batches = _batches(ds)
        largest.append((max(x["bits"].shape[1] for x, _ in batches), max(x["repeats"].numpy().max() for x, _ in batches)))
        assert all(x["steps"].shape[1] == 10 * x["bits"].shape[1] + 1 for x, _ in batches)
    assert largest[0][0] <= 4 and largest[0][1] <= 4 and largest[-1] == (10, 10)
    validation = _batches(pipeline.repeat_copy_dataset("validation", batch_size=8, validation_examples=160,
                                                       curriculum_epochs=4))
    assert max(x["bits"].shape[1] for x, _ in validation) > 4
    with pytest.raises(ValueError, match="`curriculum_epochs`"):
        pipeline.repeat_copy_dataset("train", curriculum_epochs=-1)


def test_recall_labels_are_the_items_after_the_queries():
    counts = set()
    for inputs, label in _batches(pipeline.recall_dataset("train", batch_size=8, train_examples=80)):
        items, query = inputs["items"].numpy(), inputs["query"].numpy()
        counts.add(items.shape[1])
        assert items.shape[2:] == (3, 6) and 0 <= query.min() and query.max() <= items.shape[1] - 2
        np.testing.assert_array_equal(label, items[np.arange(8), query + 1])
    assert counts <= set(range(2, 7)) and len(counts) > 2


def test_validation_is_fixed_and_held_out_sets_are_not_drawn_by_training():
    for make in (pipeline.repeat_copy_dataset, pipeline.recall_dataset):
        assert _same(_batches(make("validation", seed=0, batch_size=8, validation_examples=16)),
                     _batches(make("validation", seed=3, batch_size=8, validation_examples=16)))
    held, targets = pipeline.repeat_copy_held_out("validation", length=4, repeats=(1, 3), examples=30)
    np.testing.assert_array_equal(held["repeats"][:6], [1, 2, 3, 1, 2, 3])
    assert held["bits"].shape == (30, 4, 8) and targets.shape == (30, 13, 9)
    training = np.concatenate([x["bits"].numpy() for x, _ in pipeline.repeat_copy_dataset(
        "train", batch_size=50, train_examples=200, lengths=(4, 4))])
    assert not any(np.array_equal(t, h) for t in training for h in held["bits"])
    test, _ = pipeline.recall_held_out("test", items=6, examples=20)
    validation, labels = pipeline.recall_held_out("validation", items=6, examples=20)
    assert not np.array_equal(test["items"], validation["items"])
    np.testing.assert_array_equal(labels, validation["items"][np.arange(20), validation["query"] + 1])


def test_repeat_copy_phases_present_vectors_then_the_count_then_blanks():
    bits = np.random.default_rng(0).integers(0, 2, size=(2, 3, 8)).astype("float32")
    repeats = np.array([1, 2], "int32")
    steps = np.zeros((2, 7), "float32")  # 2 * 3 + 1
    phases = np.asarray(RepeatCopyPhases(repeats_mean=2.0, repeats_std=4.0)([bits, repeats, steps]))
    assert phases.shape == (2, 3 + 1 + 2 * 3 + 1, 10)
    np.testing.assert_array_equal(phases[:, :3, :8], bits)
    np.testing.assert_array_equal(phases[:, :3, 8:], 0)
    np.testing.assert_array_equal(phases[:, 3, :8], 0)
    np.testing.assert_array_equal(phases[:, 3, 8], 1)
    np.testing.assert_allclose(phases[:, 3, 9], [(1 - 2) / 4, (2 - 2) / 4])
    np.testing.assert_array_equal(phases[:, 4:], 0)
    hidden = np.arange(2 * 11 * 1, dtype="float32").reshape(2, 11, 1)
    np.testing.assert_array_equal(np.asarray(RepeatCopyReadOut()([hidden, steps])), hidden[:, 4:])
    with pytest.raises(ValueError, match="`repeats_std`"):
        RepeatCopyPhases(repeats_std=0)


def test_rows_past_an_examples_own_repeats_are_padding():
    outputs = np.full((2, 2 * 3 + 1, 9), 0.7, "float32")  # T = 2, repeats 1 and 3
    masked = np.asarray(RepeatCopyMask()([outputs, np.zeros((2, 2, 8), "float32"), np.array([1, 3])]))
    np.testing.assert_allclose(masked[0, :2, :8], 0.7)
    np.testing.assert_array_equal(masked[0, 2:, :8], 0)
    np.testing.assert_allclose(masked[0, :3, 8], 0.7)  # its own R*T + 1 steps: the model's
    np.testing.assert_array_equal(masked[0, 3:, 8], 1)
    np.testing.assert_allclose(masked[1, :6], outputs[1, :6])
    np.testing.assert_array_equal(masked[1, 6, :8], 0)
    serve = ntm_tasks.repeat_copy_serving_fn(build_repeat_copy_model(**SMALL))
    out = serve(bits=tf.ones((2, 4, 8)), repeats=tf.constant([2, 5]))
    assert out["copy"].shape == (2, 20, 8) and out["end"].shape == (2, 21)
    assert np.all(out["copy"].numpy()[0, 8:] == 0) and np.all(out["copy"].numpy()[1] > 0)
    assert np.all(out["end"].numpy()[0, 9:] == 1) and np.all(out["end"].numpy()[1] < 1)


def test_recall_phases_delimit_the_items_and_the_query():
    items = np.random.default_rng(1).integers(0, 2, size=(2, 3, 3, 6)).astype("float32")
    phases = np.asarray(RecallPhases()([items, np.array([0, 1], "int32")]))
    assert phases.shape == (2, 4 * 3 + 8, 8)
    for k in range(3):
        np.testing.assert_array_equal(phases[:, 4 * k], np.tile([0] * 6 + [1, 0], (2, 1)))
        np.testing.assert_array_equal(phases[:, 4 * k + 1: 4 * k + 4, :6], items[:, k])
        np.testing.assert_array_equal(phases[:, 4 * k + 1: 4 * k + 4, 6:], 0)
    for step in (12, 16):
        np.testing.assert_array_equal(phases[:, step], np.tile([0] * 7 + [1], (2, 1)))
    np.testing.assert_array_equal(phases[0, 13:16, :6], items[0, 0])
    np.testing.assert_array_equal(phases[1, 13:16, :6], items[1, 1])
    np.testing.assert_array_equal(phases[:, 13:16, 6:], 0)
    np.testing.assert_array_equal(phases[:, 17:], 0)
    np.testing.assert_array_equal(np.asarray(RecallReadOut()(phases)), phases[:, 17:])


def test_repeat_copy_score_counts_wrong_bits_and_end_markers():
    bits = np.zeros((3, 2, 8), "float32")
    repeats = np.array([1, 2, 1], "int32")
    labels = np.stack([gen.repeat_copy_target(b, int(r), 2) for b, r in zip(bits, repeats)])
    copy = np.full((3, 4, 8), 0.1, "float32")
    end = labels[..., 8].copy()
    copy[1, 3, :2] = 0.9  # two wrong bits in its second copy
    end[2, 1] = 1.0       # ends one step early
    end[0, 3] = 0.0       # past its own 3 steps: not scored
    scores = pipeline.score_repeat_copy({"copy": copy, "end": end}, {"bits": bits, "repeats": repeats}, labels)
    assert scores["bits_per_sequence"] == pytest.approx(2 / 3)
    assert scores["end_correct"] == pytest.approx(2 / 3)
    assert scores["exact"] == pytest.approx(1 / 3) and scores["error"] == pytest.approx(2 / 3)
    assert scores["length"] == 2 and scores["repeats"] == [1, 2]


def test_recall_score_counts_exact_items_and_wrong_bits():
    labels = np.zeros((4, 3, 6), "float32")
    answer = np.full((4, 3, 6), 0.3, "float32")
    answer[1, 2, 5] = 0.8
    answer[3, 0, :4] = 0.6
    scores = pipeline.score_recall({"next_item": answer}, {"items": np.zeros((4, 5, 3, 6))}, labels)
    assert scores == {"items": 5, "exact": 0.5, "error": 0.5, "bits_per_item": 1.25}


def test_bad_inputs_and_arguments_are_named():
    serve = ntm_tasks.repeat_copy_serving_fn(build_repeat_copy_model(**SMALL))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`bits` must hold only 0 and 1"):
        serve(bits=tf.fill((1, 2, 8), 0.5), repeats=tf.constant([1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`repeats` must be >= 1"):
        serve(bits=tf.ones((2, 2, 8)), repeats=tf.constant([1, 0]))
    recall = ntm_tasks.recall_serving_fn(build_recall_model(**SMALL))
    items = tf.ones((2, 4, 3, 6))
    assert recall(items=items, query=tf.constant([0, 2]))["next_item"].shape == (2, 3, 6)
    for query in ([0, 3], [-1, 0]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"`query` must be in \[0, K-2\]"):
            recall(items=items, query=tf.constant(query))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`bits` must hold only 0 and 1"):
        recall(items=tf.fill((1, 2, 3, 6), 2.0), query=tf.constant([0]))
    with pytest.raises(ValueError, match="`repeats`"):
        pipeline.repeat_copy_dataset("train", repeats=(0, 3))
    with pytest.raises(ValueError, match="`lengths`"):
        pipeline.repeat_copy_dataset("train", lengths=(5, 2))
    with pytest.raises(ValueError, match="`items`"):
        pipeline.recall_dataset("train", items=(1, 6))
    with pytest.raises(ValueError, match="`repeats`"):
        pipeline.repeat_copy_held_out("test", repeats=0)
    with pytest.raises(ValueError, match="`items`"):
        pipeline.recall_held_out("test", items=1)
    with pytest.raises(ValueError, match="`task`"):
        gen.rng_for(0, "train", 0, task="sort")


def test_layers_round_trip_their_config():
    for layer in (RepeatCopyPhases(repeats_mean=1.0, repeats_std=3.0), RepeatCopyReadOut(), RepeatCopyMask(),
                  RecallPhases(), RecallReadOut()):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


def test_tfds_builders_hold_the_held_out_cases(tmp_path):
    examples = {"validation": 6, "train": 2, "test": 1}
    repeat = ntm_datasets.builder("repeat_copy", lengths=(4, 4), repeats=(1, 3), examples=examples,
                                  cache_dir=tmp_path)
    rows = list(repeat.as_dataset(split="validation").as_numpy_iterator())
    held, _ = pipeline.repeat_copy_held_out("validation", length=4, repeats=(1, 3), examples=6)
    np.testing.assert_array_equal(np.stack([r["bits"] for r in rows]), held["bits"])
    np.testing.assert_array_equal([r["repeats"] for r in rows], held["repeats"])
    recall = ntm_datasets.builder("recall", lengths=(6, 6), examples=examples, cache_dir=tmp_path)
    rows = list(recall.as_dataset(split="validation").as_numpy_iterator())
    held, _ = pipeline.recall_held_out("validation", items=6, examples=6)
    np.testing.assert_array_equal(np.stack([r["items"] for r in rows]), held["items"])
    np.testing.assert_array_equal([r["query"] for r in rows], held["query"])
    with pytest.raises(ValueError, match="`lengths`"):
        ntm_datasets.builder("recall", lengths=(1, 6), cache_dir=tmp_path)


@pytest.mark.parametrize("name,figure,most", [("ntm_repeat_copy", "bits_per_sequence", 10 * 10 * 8),
                                              ("ntm_recall", "bits_per_item", 18)])
def test_smoke_training_scores_held_out_sequences(name, figure, most, tmp_path):
    info = train.train(name, preset="smoke", run_dir=tmp_path / name, verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["examples"] == 1000 and 0 <= held_out[figure] <= most
    assert 0 <= held_out["exact"] <= 1 and held_out["error"] == pytest.approx(1 - held_out["exact"])


_SCORES = {}  # (name, options) -> the export's scores: the bar and the guard share a run


def _export_scores(zoo_exports, name, **options):
    from exports import verify

    key = (name, repr(sorted(options.items())))
    if key not in _SCORES:
        _SCORES[key] = verify.evaluate_export(zoo_exports.get(name), name, split="test", examples=500,
                                              **options)
    return _SCORES[key]


def test_pretrained_recall_meets_issue_26_on_held_out_test_episodes(zoo_exports):
    """Issue 26's bar: >= 99% of queries answered exactly with 6 items; 12 items reported
    (RESULTS.md: 100% of 1,000 validation episodes at 2, 4, 6 and 12 items)."""
    assert _export_scores(zoo_exports, "ntm_recall", items=6)["exact"] >= 0.99
    assert _export_scores(zoo_exports, "ntm_recall", items=12)["exact"] >= 0.95


# Issue 26's bar within the trained range (RESULTS.md: 0.0 wrong bits per sequence on 1,000 test
# sequences of each of these lengths, the end marker right on 100% and 99.9%).
@pytest.mark.parametrize("name,options,figure,bound", [
    ("ntm_repeat_copy", dict(length=10, repeats=(1, 10)), "bits_per_sequence", 0.5),
    ("ntm_repeat_copy", dict(length=5, repeats=(1, 10)), "bits_per_sequence", 0.5),
    ("ntm_repeat_copy", dict(length=10, repeats=(1, 10)), "end_correct", 0.99),
])
def test_pretrained_export_meets_issue_26_on_held_out_test_sequences(zoo_exports, name, options, figure, bound):
    scores = _export_scores(zoo_exports, name, **options)
    if figure in ("exact", "end_correct"):
        assert scores[figure] >= bound, scores
    else:
        assert scores[figure] <= bound, scores


# What the shipped weights measured on these test sequences (500 each), less a margin: a guard
# against regressions of the export, not issue 26's bar.
@pytest.mark.parametrize("name,options,figure,bound", [
    ("ntm_recall", dict(items=2), "exact", 0.99),
    ("ntm_repeat_copy", dict(length=1, repeats=(1, 10)), "bits_per_sequence", 0.5),  # measured 0.0
    ("ntm_repeat_copy", dict(length=20, repeats=(1, 10)), "bits_per_sequence", 60),  # twice the range: 48.9
])
def test_pretrained_export_keeps_its_measured_scores(zoo_exports, name, options, figure, bound):
    scores = _export_scores(zoo_exports, name, **options)
    if figure == "exact":
        assert scores[figure] >= bound, scores
    else:
        assert scores[figure] <= bound, scores


def test_visualize_recall_shows_where_each_item_went(tmp_path, capsys):
    """The pretrained recall NTM writes each item to its own location and,
    after the query, reads at the location of the item it recalls (item 3)."""
    from specialnets import cli

    cli.main(["visualize", "ntm_recall", "--output", str(tmp_path / "recall.png")])
    assert (tmp_path / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines() if ": " in line)
    written = [int(w) for w in lines["most-written location of each item"].split()]
    assert len(written) == 6 and len(set(written[1:])) == 5  # one location an item after the first
    read = int(lines["most-read location after the query"])
    assert abs(read - written[3]) <= 1


def test_repeat_copy_from_copy_copies_once_as_the_copy_model():
    from zoo.ntm_copy import build_copy_model

    copy = build_copy_model(**SMALL)
    rng = np.random.default_rng(0)
    for weight in copy.weights:  # trained-looking weights: not the initialisation
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    repeat = ntm_tasks.build_repeat_copy_model(**SMALL)
    ntm_tasks.repeat_copy_from_copy(copy, repeat)
    bits = rng.integers(0, 2, size=(3, 4, gen.BITS)).astype("float32")
    want = np.asarray(copy(bits))
    got = np.asarray(repeat({"bits": bits, "repeats": np.ones(3, "int32"), "steps": np.zeros((3, 5), "float32")}))
    np.testing.assert_allclose(got[:, :4, :gen.BITS], want, atol=1e-6)
    kernel = {w.path.split("/")[-1]: w.numpy() for w in repeat.get_layer("ntm").weights}["kernel"]
    np.testing.assert_array_equal(kernel[gen.BITS + 1], 0.0)  # the count's row
    with pytest.raises(ValueError, match="same NTM sizes"):
        ntm_tasks.repeat_copy_from_copy(build_copy_model(**dict(SMALL, units=6)),
                                        ntm_tasks.build_repeat_copy_model(**SMALL))


def test_the_paper_preset_starts_from_the_pretrained_copy_model(tmp_path):
    import zoo

    assert zoo.get("ntm_repeat_copy").preset("paper").warm_start == "ntm_copy"
    info = train.train("ntm_repeat_copy", preset="paper", run_dir=tmp_path / "run", verbose=0, epochs=1,
                       training_overrides=dict(learning_rate=0.0, jit_compile=False),
                       task_overrides=dict(lengths=[1, 1], repeats=[1, 1], train_examples=32,
                                           validation_examples=32, curriculum_epochs=0))
    assert info["warm_start"] == {"model": "ntm_copy", "sha256": zoo.get("ntm_copy").weights_sha256}
    trained = zoo.get("ntm_repeat_copy").build("paper")
    trained.load_weights(tmp_path / "run" / "final.weights.h5")
    want = zoo.get("ntm_repeat_copy").build("paper")
    ntm_tasks.repeat_copy_from_copy(zoo.get("ntm_copy").load_pretrained(), want)
    for got, expected in zip(trained.get_layer("ntm").weights, want.get_layer("ntm").weights):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())  # learning rate 0: as it started
