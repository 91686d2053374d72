"""`fizzbuzz`: Joel Grus's Fizz Buzz network, its task and its export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from training import train
from training.tasks import fizzbuzz as task
from zoo import fizzbuzz

ENTRY = zoo.get("fizzbuzz")


def _text(tensor):
    return [v.decode() for v in tensor.numpy()]


def test_binary_digits_are_the_blogs_encoding():
    numbers = np.array([1, 2, 5, 6, 100, 512, 1023], np.int64)
    digits = fizzbuzz.BinaryDigits()(numbers).numpy()
    # The blog's binary_encode: [i >> d & 1 for d in range(10)], least significant first.
    expected = np.array([[n >> d & 1 for d in range(10)] for n in numbers.tolist()], "float32")
    np.testing.assert_array_equal(digits, expected)
    np.testing.assert_array_equal(digits[2], [1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    # Back to the numbers: every number of 1..1023 has its own code.
    every = np.arange(1, 1024, dtype=np.int64)
    codes = fizzbuzz.BinaryDigits()(every).numpy() @ (2.0 ** np.arange(10))
    np.testing.assert_array_equal(codes, every)
    xla = tf.function(fizzbuzz.BinaryDigits(), jit_compile=True)(tf.constant(numbers))
    np.testing.assert_array_equal(xla.numpy(), digits)
    np.testing.assert_array_equal(fizzbuzz.BinaryDigits(centred=True)(numbers).numpy(), 2 * expected - 1)


def test_labels_and_answers_follow_the_rules():
    numbers = np.arange(1, 31)
    answers = [task.answer(n) for n in numbers]
    assert answers[:15] == ["1", "2", "fizz", "4", "buzz", "fizz", "7", "8", "fizz", "buzz",
                            "11", "fizz", "13", "14", "fizzbuzz"]
    assert answers[29] == "fizzbuzz" and answers[24] == "buzz" and answers[26] == "fizz"
    np.testing.assert_array_equal(task.label([3, 5, 15, 7, 1020]), [1, 2, 3, 0, 3])


def test_splits_are_disjoint_and_cover_the_blogs_numbers():
    train_numbers, validation, test = (task.numbers(s) for s in ("train", "validation", "test"))
    assert set(train_numbers) | set(validation) == set(range(101, 1024))
    assert not set(train_numbers) & set(validation)
    assert len(validation) == 90 and np.all((validation // 15) % 10 == 0)
    np.testing.assert_array_equal(test, np.arange(1, 101))
    # Whole runs of 15: every class in its share (6 fizzbuzz, 12 buzz, 24 fizz, 48 numbers).
    np.testing.assert_array_equal(np.bincount(task.label(validation)), [48, 24, 12, 6])
    with pytest.raises(ValueError, match="`split` must be one of"):
        task.numbers("dev")


def test_dataset_repeats_and_shuffles_the_training_numbers():
    batches = list(task.fizzbuzz_dataset("train", batch_size=1000, repeats=3, seed=1))
    numbers = np.concatenate([x.numpy() for x, _ in batches])
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert len(numbers) == 3 * 833 and numbers.dtype == np.int64
    np.testing.assert_array_equal(np.sort(numbers), np.sort(np.tile(task.numbers("train"), 3)))
    for start in (0, 833, 1666):  # every pass is the whole training set, each in its own order
        np.testing.assert_array_equal(np.sort(numbers[start:start + 833]), task.numbers("train"))
    assert not np.array_equal(numbers[:833], np.sort(numbers[:833]))
    assert not np.array_equal(numbers[:833], numbers[833:1666])
    np.testing.assert_array_equal(labels, task.label(numbers))
    held = np.concatenate([x.numpy() for x, _ in task.fizzbuzz_dataset("validation", repeats=3)])
    np.testing.assert_array_equal(held, task.numbers("validation"))  # held out: one pass, in order
    with pytest.raises(ValueError, match="`repeats` must be a positive int"):
        task.fizzbuzz_dataset("train", repeats=0)


def test_answers_are_the_strings_of_the_predicted_classes():
    numbers = tf.constant([7, 9, 10, 30, 1023, 98], tf.int64)
    class_ids = tf.constant([0, 1, 2, 3, 0, 1], tf.int64)  # hand-made predictions, one wrong
    assert _text(fizzbuzz.answers(numbers, class_ids)) == ["7", "fizz", "buzz", "fizzbuzz", "1023", "fizz"]


class _Fixed:
    """A stand-in model predicting the given class of each number (one-hot)."""

    def __init__(self, classes):
        self.classes = classes

    def __call__(self, number, training=False):
        return tf.one_hot(tf.gather(self.classes, number), 4)


def test_serving_strings_on_hand_made_predictions():
    classes = tf.constant(task.label(np.arange(1024)), tf.int64)  # right everywhere...
    classes = tf.tensor_scatter_nd_update(classes, [[4], [23]], tf.constant([1, 1], tf.int64))  # ...but 4, 23
    serve = fizzbuzz.serving_fn(_Fixed(classes))
    out = serve(number=tf.constant([1, 3, 4, 5, 15, 23, 100], tf.int64))
    assert list(out) == ["answer"]
    assert _text(out["answer"]) == ["1", "fizz", "fizz", "buzz", "fizzbuzz", "fizz", "buzz"]
    scores = task.score({"answer": out["answer"].numpy()}, {"number": np.array([1, 3, 4, 5, 15, 23, 100])},
                        np.array([task.answer(n) for n in [1, 3, 4, 5, 15, 23, 100]]))
    assert scores["wrong"] == 2 and scores["error"] == pytest.approx(2 / 7)


@pytest.mark.parametrize("numbers", [[0], [1, 1024], [-5, 3]])
def test_numbers_outside_1_to_1023_are_a_clear_error(numbers):
    serve = tf.function(fizzbuzz.serving_fn(ENTRY.build("smoke")))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`number` must be in \[1, 1023\]"):
        serve(number=tf.constant(numbers, tf.int64))


def test_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`hidden` must be a positive int"):
        fizzbuzz.build_fizzbuzz(hidden=0)
    with pytest.raises(ValueError, match="`digits` must be an int in"):
        fizzbuzz.BinaryDigits(digits=0)


def test_the_paper_preset_is_the_blogs_network_widened():
    for preset, hidden in (("paper", 1000), ("paper", 100)):
        model = ENTRY.build(preset, hidden=hidden)
        dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
        assert [d.units for d in dense] == [hidden, 4]
        assert model.count_params() == 10 * hidden + hidden + hidden * 4 + 4
    assert ENTRY.preset("paper").model["hidden"] == 1000


def test_members_train_one_by_one_and_serve_averaged():
    model = fizzbuzz.build_fizzbuzz(hidden=6, members=3)
    numbers = np.array([1, 3, 5, 15, 68], np.int64)
    labels = task.label(numbers)
    probabilities = model(numbers).numpy()
    assert probabilities.shape == (5, 3, 4)
    own = [keras.losses.sparse_categorical_crossentropy(labels, probabilities[:, m]).numpy().mean()
           for m in range(3)]
    assert float(task.MemberCrossEntropy()(labels, probabilities)) == pytest.approx(np.mean(own), rel=1e-5)
    kernel = model.get_layer("hidden_1").kernel
    with tf.GradientTape(persistent=True) as tape:  # a member's gradient: its own loss's alone
        outputs = model(numbers)
        ensemble = task.MemberCrossEntropy()(labels, outputs)
        alone = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, outputs[:, 1])) / 3
    np.testing.assert_allclose(tape.gradient(ensemble, kernel).numpy(), tape.gradient(alone, kernel).numpy(),
                               rtol=1e-5, atol=1e-7)
    assert np.any(tape.gradient(alone, kernel).numpy())
    average = probabilities.mean(axis=1)
    metric = task.ensemble_accuracy()
    metric.update_state(labels, probabilities)
    assert float(metric.result()) == pytest.approx(np.mean(average.argmax(-1) == labels))
    out = fizzbuzz.serving_fn(model)(number=tf.constant(numbers))
    assert _text(out["answer"]) == _text(fizzbuzz.answers(tf.constant(numbers), average.argmax(-1)))
    with pytest.raises(ValueError, match="`members` must be a positive int"):
        fizzbuzz.build_fizzbuzz(members=0)


def test_smoke_training_of_an_ensemble(tmp_path):
    info = train.train("fizzbuzz", preset="smoke", run_dir=tmp_path / "ensemble", verbose=0,
                       model_overrides={"members": 2})
    assert info["metrics"]["held_out"]["examples"] == 90 and info["model_config"]["members"] == 2


def test_smoke_training_scores_the_held_out_numbers(tmp_path):
    info = train.train("fizzbuzz", preset="smoke", run_dir=tmp_path / "fizzbuzz", verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["split"] == "validation" and held_out["examples"] == 90
    assert 0 <= held_out["wrong"] <= 90 and held_out["error"] == pytest.approx(held_out["wrong"] / 90)
    assert info["metrics"]["validation"]["examples"] == 90


def test_pretrained_export_answers_1_to_100_better_than_the_blog(zoo_exports):
    """The blog's network got 96 of 1..100 right; issue 27 asks for all 100 (RESULTS.md)."""
    from exports import verify

    scores = verify.evaluate_export(zoo_exports.get("fizzbuzz"), "fizzbuzz", split="test")
    assert scores["examples"] == 100 and scores["wrong"] == 0, scores
    outputs = zoo_exports.outputs["fizzbuzz"]  # the example numbers, where no project code loads
    expected = [task.answer(n) for n in zoo_exports.inputs["fizzbuzz"]["number"]]
    assert list(outputs["answer"]) == expected


def test_tfds_builder_holds_the_splits_numbers_and_answers(tmp_path):
    builder = task.builder(cache_dir=tmp_path)
    assert {s: builder.info.splits[s].num_examples for s in task.SPLITS} == {
        "train": 833, "validation": 90, "test": 100}
    rows = list(builder.as_dataset(split="test").as_numpy_iterator())
    assert [int(r["number"]) for r in rows] == list(range(1, 101))
    assert [r["answer"].decode() for r in rows[:15]] == [task.answer(n) for n in range(1, 16)]
    assert [int(r["label"]) for r in rows] == list(task.label(np.arange(1, 101)))


def test_cross_validation_folds_mimic_the_question_and_run():
    from training.tasks import fizzbuzz_cv

    for fold in fizzbuzz_cv.FOLDS:
        train_numbers, held = fizzbuzz_cv.fold_numbers(fold)
        assert len(held) == 100 and held.min() == 128 * fold and not np.isin(held, train_numbers).any()
        assert train_numbers.min() == 101 and len(train_numbers) + len(held) == 923
        assert set(held >> 7) == {fold}  # one top-bit prefix, as 1..100 have 000
    with pytest.raises(ValueError, match="`fold` must be one of"):
        fizzbuzz_cv.fold_numbers(0)
    lines = []
    figures = fizzbuzz_cv.cross_validate(seeds=2, model={"hidden": 4}, steps=2, log=lines.append, folds=(3,))
    assert len(lines) == 2 and figures["held_out_numbers"] == 100 and figures["model"]["hidden"] == 4
    assert figures["wrong_per_run"] == sum(len(v) for v in figures["wrong"].values()) / 2
    assert all(set(v) <= set(range(384, 484)) for v in figures["wrong"].values())
    assert 0 <= figures["ensemble_wrong"] <= 100
