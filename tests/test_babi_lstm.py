import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from custom_layers import MemoryHop
from training import tasks
from zoo import babi_lstm, memn2n

RNG = np.random.default_rng(0)


def _last_words(ids, length):
    """NumPy reference: the last `length` non-zero ids, in order, left-padded."""
    rows = []
    for example in ids.reshape(len(ids), -1):
        words = example[example != 0][-length:]
        rows.append(np.concatenate([np.zeros(length - len(words), ids.dtype), words]))
    return np.stack(rows)


def test_last_words_keeps_the_last_words_in_order_and_drops_padding():
    layer = babi_lstm.LastWords(4)
    story = np.array([[[3, 4, 0], [0, 0, 0], [5, 0, 0]],  # padding inside and after sentences
                      [[0, 0, 0], [0, 0, 0], [0, 0, 0]],  # no words at all
                      [[1, 2, 3], [4, 5, 6], [7, 0, 0]]], np.int32)  # longer: truncated at the front
    np.testing.assert_array_equal(layer(story).numpy(), [[0, 3, 4, 5], [0, 0, 0, 0], [4, 5, 6, 7]])
    ids = RNG.integers(1, 9, size=(5, 7, 6)) * (RNG.random((5, 7, 6)) < 0.4)
    for length in (3, 10, 60):  # shorter than, about, longer than the words
        expected = _last_words(ids, length)
        np.testing.assert_array_equal(babi_lstm.LastWords(length)(ids).numpy(), expected)
    compiled = tf.function(babi_lstm.LastWords(10).__call__, jit_compile=True)
    np.testing.assert_array_equal(compiled(tf.constant(ids, tf.int32)).numpy(), _last_words(ids, 10))
    assert layer.compute_output_shape((None, 50, 11)) == (None, 4)
    copy = babi_lstm.LastWords.from_config(layer.get_config())
    assert copy.length == 4
    with pytest.raises(ValueError, match="`length` must be a positive int; received 0"):
        babi_lstm.LastWords(0)


def test_builder_shapes_and_bad_arguments():
    model = babi_lstm.build_babi_lstm(story_length=20, question_length=5, depth=8, units=4)
    story = RNG.integers(0, 30, size=(3, 50, 7)).astype("int32")
    question = RNG.integers(0, 30, size=(3, 7)).astype("int32")
    probabilities = model({"story_ids": story, "question_ids": question}).numpy()
    assert probabilities.shape == (3, len(memn2n.vocabulary()["answers"]))
    np.testing.assert_allclose(probabilities.sum(-1), 1, rtol=1e-5)
    # Only the kept words matter: padding moved around changes nothing.
    spread = np.zeros((3, 60, 9), "int32")
    spread[:, 5:55, 1:8] = story
    again = model({"story_ids": spread, "question_ids": np.pad(question, [(0, 0), (3, 0)])})
    np.testing.assert_allclose(again.numpy(), probabilities, atol=1e-6)
    for kwargs, message in [({"story_length": 0}, "`story_length` must be a positive int"),
                            ({"units": 2.5}, "`units` must be a positive int"),
                            ({"dropout": 1.0}, r"`dropout` must be in \[0, 1\)")]:
        with pytest.raises(ValueError, match=message):
            babi_lstm.build_babi_lstm(**kwargs)


def test_serving_strings_with_unknown_words_and_odd_case():
    entry = zoo.get("babi_lstm_baseline")
    serve = entry.serving_fn(entry.build("smoke"))
    outputs = serve(**{k: tf.constant(v.astype(str)) for k, v in entry.example_inputs().items()})
    assert list(outputs) == ["answer"] and outputs["answer"].shape == (4,)
    answers = memn2n.vocabulary()["answers_as_written"]
    for story, question in [(["Zorg WENT to the Moon!!", ""], "Where is Zorg?"),
                            (["", ""], ""), (["MARY   went ... to the KITCHEN"], "wHeRe Is MaRy")]:
        answer = serve(story=tf.constant([story]), question=tf.constant([question]))["answer"]
        assert answer.shape == (1,) and answer.numpy()[0].decode() in answers


def test_the_babi_task_keeps_linear_start_for_memory_networks_only():
    (callback,) = tasks.get("babi").callbacks(zoo.get("memn2n_babi").presets["paper"])
    for model, gated in [(babi_lstm.build_babi_lstm(depth=8, units=4), False),
                         (memn2n.build_memn2n(hops=1, depth=8), True)]:
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        callback.set_model(model)
        callback.on_train_begin()
        callback.on_epoch_end(0, {"val_loss": 1.0})
        hops = [layer for layer in model.layers if isinstance(layer, MemoryHop)]
        assert [float(h.softmax_gate.numpy()) for h in hops] == ([0.0] if gated else [])


def test_smoke_training_run(data_dir, tmp_path):
    from training import train

    info = train.train("babi_lstm_baseline", preset="smoke", data_dir=data_dir, run_dir=tmp_path,
                       verbose=0)
    held_out = info["metrics"]["held_out"]
    assert set(held_out["task_errors"]) == set(range(1, 21)) and held_out["examples"] == 1998
    assert (tmp_path / "final.weights.h5").exists()
