import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from custom_layers import MemoryHop
from training.tasks.babi import pipeline as babi_tasks
from training.tasks.babi import reader as babi
from zoo import memn2n

EXAMPLES = memn2n._examples


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
def test_tying_shares_what_the_paper_shares(tying):
    model = memn2n.build_memn2n(hops=3, depth=8, tying=tying)
    hops = [l for l in model.layers if isinstance(l, MemoryHop)]
    embeddings = [l for l in model.layers if l.name.endswith("_embedding")]
    if tying == "adjacent":  # E0..E3, one hop each
        assert len(hops) == 3 and len(embeddings) == 4
    else:  # A, B, C and one hop (with H) used three times
        assert len(hops) == 1 and hops[0].state_transform and len(embeddings) == 3
    with pytest.raises(ValueError, match="`tying` must be"):
        memn2n.build_memn2n(tying="none")


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
def test_tied_answers_read_the_last_output_embedding(tying, tmp_path):
    model = memn2n.build_memn2n(hops=2, depth=8, tying=tying, answer="tied")
    table = memn2n.vocabulary()
    answer_layer = model.get_layer("E2_embedding" if tying == "adjacent" else "C_embedding")
    assert not any(l.name == "answer" and l.weights for l in model.layers)  # no W of its own
    free = [a for a in table["answers"] if a not in table["words"]]
    assert answer_layer.free.shape == (len(free), 8)
    # Moving the row of the word "garden" moves only the answer "garden" (state held fixed).
    u = np.random.default_rng(0).normal(size=(1, 8)).astype("float32")
    before = answer_layer(u, readout=True).numpy()
    garden = table["words"].index("garden") + 2
    shift = np.zeros(answer_layer.embeddings.shape, "float32")
    shift[garden] = 1.0
    answer_layer.embeddings.assign(answer_layer.embeddings.numpy() + shift)
    moved = np.flatnonzero(~np.isclose(answer_layer(u, readout=True).numpy(), before))
    assert [table["answers"][i] for i in moved] == ["garden"]
    inputs = {"story_ids": np.random.default_rng(1).integers(0, 40, (2, 5, 4)).astype("int32"),
              "question_ids": np.random.default_rng(2).integers(0, 40, (2, 4)).astype("int32")}
    model.save(tmp_path / "tied.keras")
    restored = keras.saving.load_model(tmp_path / "tied.keras")
    np.testing.assert_allclose(restored(inputs).numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="`answer` must be 'dense' or 'tied'"):
        memn2n.build_memn2n(answer="shared")


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
def test_a_null_slot_takes_attention_the_sentences_give_up(tying, tmp_path):
    model = memn2n.build_memn2n(hops=2, depth=8, tying=tying, null_slot=True)
    nulls = sorted(l.name for l in model.layers if l.__class__.__name__ == "NullMemory")
    assert nulls == (["E0_null", "E1_null", "E2_null"] if tying == "adjacent" else ["A_null", "C_null"])
    rng = np.random.default_rng(0)
    story = rng.integers(2, 40, (2, 5, 4)).astype("int32")
    story[:, 3:] = 0  # two empty slots: masked, as without the null slot
    inputs = {"story_ids": story, "question_ids": rng.integers(2, 40, (2, 4)).astype("int32")}
    probe = keras.Model(model.input, [model.output, model.hop_attention])
    _, attention = (t.numpy() for t in probe(inputs))
    assert attention.shape == (2, 2, 5) and np.all(attention[..., 3:] == 0)
    # zero-initialised: the null slot scores 0, so its share is 1 / (1 + sum of exp(scores))
    sentences = attention.sum(-1)
    assert np.all(sentences < 1) and np.all(sentences > 0.5)
    # a null key that outscores every sentence draws the attention off them
    for layer in model.layers:
        if layer.name in ("E0_null", "A_null"):
            u = model.get_layer("question_encoder")(model.get_layer(
                "E0_embedding" if tying == "adjacent" else "B_embedding")(inputs["question_ids"]))
            layer.slot.assign(1000.0 * np.sign(u.numpy()[0]))
    _, drawn = (t.numpy() for t in probe(inputs))
    assert drawn[0, 0].sum() < 1e-3
    model.save(tmp_path / "null.keras")
    restored = keras.saving.load_model(tmp_path / "null.keras")
    np.testing.assert_allclose(restored(inputs).numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("null_slot", [False, True])
def test_empty_slots_share_the_softmax_as_the_authors_zero_memories_do(null_slot, tmp_path):
    model = memn2n.build_memn2n(hops=2, depth=8, tying="layerwise", null_slot=null_slot,
                                empty_slots=True, max_sentences=6)
    hop = next(l for l in model.layers if isinstance(l, MemoryHop))
    assert hop.capacity == 6 + null_slot  # the null slot is a real one
    rng = np.random.default_rng(0)
    story = rng.integers(2, 40, (2, 5, 4)).astype("int32")
    story[0, 2:] = 0  # 2 sentences: 4 empty slots; 5 sentences: 1
    inputs = {"story_ids": story, "question_ids": rng.integers(2, 40, (2, 4)).astype("int32")}
    probe = keras.Model(model.input, [model.output, model.hop_attention])
    _, attention = (t.numpy() for t in probe(inputs))
    assert np.all(attention[0, :, 2:] == 0)
    total = attention.sum(-1)  # the empty slots take what the sentences leave
    assert np.all(total < 1) and np.all(total[0] < total[1])
    model.save(tmp_path / "empty.keras")
    restored = keras.saving.load_model(tmp_path / "empty.keras")
    np.testing.assert_allclose(restored(inputs).numpy(), model(inputs).numpy(), rtol=1e-5, atol=1e-7)


def test_serving_tokenises_strings_and_returns_answers_and_attention():
    model = memn2n.build_memn2n(hops=2, depth=8)
    serve = memn2n.serving_fn(model)
    inputs = EXAMPLES()
    outputs = serve(**{k: tf.constant(v.astype(str)) for k, v in inputs.items()})
    answers = memn2n.vocabulary()["answers_as_written"]
    assert all(a.decode() in answers for a in outputs["answer"].numpy())
    attention = outputs["attention"].numpy()
    assert attention.shape == (4, 2, 50)
    padding = inputs["story"] == ""
    assert np.all(attention[np.repeat(padding[:, None], 2, 1)] == 0)
    np.testing.assert_allclose(attention.sum(-1), 1, atol=1e-5)
    # unknown words and odd case or punctuation never fail
    odd = serve(story=tf.constant([["Zorg WENT to the Moon!!", ""]]),
                question=tf.constant(["Where is Zorg?"]))
    assert odd["answer"].shape == (1,)


def test_random_noise_inserts_empty_memories_and_keeps_order():
    story = np.zeros((2, 50, 3), np.int32)
    story[0, :10, 0] = np.arange(1, 11)
    story[1, :50, 0] = np.arange(1, 51)
    noisy = babi_tasks.insert_empty_memories(story, np.random.default_rng(0), 0.3)
    kept = noisy[0, :, 0][noisy[0].any(-1)]
    np.testing.assert_array_equal(kept, np.arange(1, 11))
    assert noisy[0, :, 0].tolist().index(10) > 9  # empties went in before the last
    full = noisy[1, :, 0][noisy[1].any(-1)]
    assert full[-1] == 50 and np.all(np.diff(full) > 0)  # the most recent are kept


def test_random_noise_moves_the_ages_the_temporal_encoding_reads():
    story = np.zeros((1, 50, 3), np.int32)
    story[0, :12, 0] = np.arange(2, 14)
    noisy = babi_tasks.insert_empty_memories(story, np.random.default_rng(0), 0.5)
    embedding = keras.layers.Embedding(20, 4, mask_zero=True, embeddings_initializer="zeros")
    encoder = memn2n.SentenceEncoder(position_encoding=False, temporal=True)

    def ages_of_words(ids):  # the temporal vector each word's sentence gets, by word
        out = encoder(embedding(ids)).numpy()[0]
        first_word = ids[0, :, 0]
        return {int(w): out[i] for i, w in enumerate(first_word) if w}

    clean, jittered = ages_of_words(story), ages_of_words(noisy)
    assert set(clean) == set(jittered)
    np.testing.assert_allclose(clean[13], jittered[13])  # the last sentence stays the most recent
    assert any(not np.allclose(clean[w], jittered[w]) for w in clean)


def test_balance_tasks_repeats_a_small_task_toward_the_largest():
    def examples(task, n):
        return [babi.Example(("s",), f"q{i}", "a", (), task, i, "train", "f") for i in range(n)]

    out = babi_tasks.balanced(examples(1, 10) + examples(3, 3) + examples(5, 4))
    counts = {task: sum(e.task == task for e in out) for task in (1, 3, 5)}
    assert counts == {1: 10, 3: 9, 5: 8}
    assert sorted(e.question for e in out if e.task == 3) == ["q0"] * 3 + ["q1"] * 3 + ["q2"] * 3

    def batches(split, balance_tasks):
        # the fixture's first 7 training questions: 5 of qa1, 2 of qa8
        ds = babi_tasks.dataset(split, Path(__file__).parent / "fixtures", batch_size=1, limit=7,
                                tasks=[1, 8], balance_tasks=balance_tasks)
        return [int(answer[0]) for _, answer in ds.as_numpy_iterator()]

    plain, balanced = batches("train", False), batches("train", True)
    assert len(plain) == 7 and len(balanced) == 9 and sorted(set(balanced)) == sorted(set(plain))
    assert batches("validation", True) == batches("validation", False)
    with pytest.raises(ValueError, match="`balance_tasks` must be true or false"):
        batches("train", "yes")


def test_scores_per_task():
    labels = np.array([(1, "yes"), (1, "no"), (2, "n,w"), (2, "garden")], dtype=babi_tasks.LABELS)
    outputs = {"answer": np.array([b"yes", b"yes", b"n,w", b"garden"])}
    scores = babi_tasks.score(outputs, {}, labels)
    assert scores["task_errors"] == {1: 0.5, 2: 0.0}
    assert scores["mean_task_error"] == 0.25 and scores["failed_tasks"] == 1


def test_tasks_option_picks_task_numbers_or_names_the_argument():
    assert babi_tasks.task_numbers(None) == babi.TASKS
    assert babi_tasks.task_numbers(19) == (19,) and babi_tasks.task_numbers([8, 1]) == (1, 8)
    for bad in (0, 21, [], [1, 1], "19", [True], 1.0):
        with pytest.raises(ValueError, match="`tasks` must be bAbI task numbers"):
            babi_tasks.task_numbers(bad)


def test_a_run_on_some_tasks_is_trained_and_scored_on_those_only(tmp_path):
    from specialnets import cli
    from training import train

    fixtures = Path(__file__).parent / "fixtures"
    run_dir = tmp_path / "qa8"
    cli.main(["train", "memn2n_babi", "--preset", "smoke", "--data-dir", str(fixtures), "--run-dir",
              str(run_dir), "--verbose", "0", "--task-set", "tasks=[8]"])
    info = json.loads((run_dir / "metrics.json").read_text())
    assert info["task_overrides"] == {"tasks": [8]}
    assert info["command"].endswith("--task-set 'tasks=[8]'")
    assert info["data"].endswith("changed by --task-set: {'tasks': [8]}")
    # the fixture's qa8 has 3 validation questions and no other task is scored
    held_out = info["metrics"]["held_out"]
    assert list(held_out["task_errors"]) == ["8"] and held_out["examples"] == 3
    assert info["metrics"]["validation"]["examples"] == 3
    with pytest.raises(ValueError, match="changed the model or its training"):
        train.publish("memn2n_babi", run_dir)
    with pytest.raises(ValueError, match=r"`task_overrides`: the babi task has no option \['task'\]"):
        train.train("memn2n_babi", preset="smoke", data_dir=fixtures, run_dir=tmp_path / "x",
                    task_overrides={"task": 8})
    with pytest.raises(ValueError, match="`tasks` must be bAbI task numbers"):
        train.train("memn2n_babi", preset="smoke", data_dir=fixtures, run_dir=tmp_path / "y",
                    task_overrides={"tasks": [21]})


def test_a_run_logs_per_task_errors_during_training(tmp_path):
    from specialnets import cli
    from training import train

    fixtures = Path(__file__).parent / "fixtures"
    run_dir = tmp_path / "run"
    cli.main(["train", "memn2n_babi", "--preset", "smoke", "--data-dir", str(fixtures), "--run-dir",
              str(run_dir), "--verbose", "0", "--epochs", "2", "--held-out-every", "1",
              "--task-set", "tasks=[1,8]"])
    lines = [json.loads(line) for line in (run_dir / "held_out.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 1]
    final = json.loads((run_dir / "metrics.json").read_text())["metrics"]["held_out"]
    assert lines[-1] == {"epoch": 1, **final}  # the last epoch's line is the final weights' figures
    assert sorted(final["task_errors"], key=int) == ["1", "8"]
    assert list((run_dir / "logs" / "held_out").iterdir())
    with pytest.raises(ValueError, match="`held_out_every` must be an int >= 0"):
        train.train("memn2n_babi", preset="smoke", data_dir=fixtures, run_dir=tmp_path / "x",
                    task_overrides={"tasks": [1, 8]}, held_out_every=-1)
    assert zoo.get("memn2n_babi").preset("paper").held_out_every == 5
    assert zoo.get("memn2n_babi").preset("smoke").held_out_every == 0


def test_held_out_figures_are_of_the_model_each_epoch_trained(tmp_path, monkeypatch):
    # Linear start puts the softmaxes back at an epoch's end: the log must score before that,
    # the model the epoch trained (as history.csv's val_loss is).
    from custom_layers import LinearStart
    from training import train
    from training.held_out_log import HeldOutLog

    class Fitted(Exception):
        pass

    def fit(self, *args, callbacks=(), **kwargs):
        order.extend(type(c) for c in callbacks)
        raise Fitted

    order = []
    monkeypatch.setattr(keras.Model, "fit", fit)
    with pytest.raises(Fitted):
        train.train("memn2n_babi", preset="smoke", data_dir=Path(__file__).parent / "fixtures",
                    run_dir=tmp_path / "run", task_overrides={"tasks": [1]}, held_out_every=1,
                    training_overrides={"linear_start_epochs": 1})
    assert order.index(HeldOutLog) < order.index(LinearStart)


def test_committed_vocabulary_is_the_data_s(data_dir):
    examples = [e for size in babi.SIZES for e in babi.load(data_dir, size=size)]
    assert babi_tasks.vocabulary_of(examples) == memn2n.vocabulary()


def test_visualize_writes_the_hop_table(tmp_path, capsys):
    import json

    from specialnets import cli

    entry = zoo.get("memn2n_babi")
    run = tmp_path / "run"
    run.mkdir()
    entry.build("smoke").save_weights(run / "final.weights.h5")
    (run / "metrics.json").write_text(json.dumps({"model_config": entry.preset("smoke").model}))
    cli.main(["visualize", "memn2n_babi", "--weights", str(run / "final.weights.h5"),
              "--output", str(tmp_path / "m.png")])
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "m.txt").read_text().splitlines()
    assert table[0].split()[-2:] == ["hop", "2"] and "julius is green" in table[2]
    assert table[-1].startswith("question: what color is brian?")
    assert "question: what color is brian?" in capsys.readouterr().out


@pytest.mark.parametrize("name,mean_error", [("memn2n_babi", 0.13), ("memn2n_babi_10k", 0.08)])
def test_pretrained_export_on_held_out_questions(name, mean_error, data_dir, zoo_exports):
    from exports import verify

    scores = verify.evaluate_export(zoo_exports.get(name), name, data_dir=data_dir)
    assert scores["mean_task_error"] <= mean_error, scores  # RESULTS.md: 11.9% and 7.2%
    assert set(scores["task_errors"]) == set(range(1, 21))


# Task 5's answers are names, which the files write capitalised.
QA5 = """1 Fred picked up the football there.
2 Fred gave the football to Jeff.
3 Who gave the football? \tFred\t2
4 Who received the football? \tJeff\t2
"""


def test_vocabulary_keeps_each_answers_spelling_in_the_data():
    def example(answer, written):
        return babi.Example(story=("fred left",), question="who left", answer=answer, supporting=(0,),
                            task=5, story_id=0, split="train", source="", written=written)

    table = babi_tasks.vocabulary_of([example("fred", "Fred"), example("fred", "Fred"), example("fred", "fred"),
                                      example("kitchen", "kitchen"), example("n,w", "n,w")])
    assert table["answers"] == ["fred", "kitchen", "n,w"]
    assert table["answers_as_written"] == ["Fred", "kitchen", "n,w"]
    names = {a: w for a, w in zip(memn2n.vocabulary()["answers"], memn2n.vocabulary()["answers_as_written"])}
    assert names["fred"] == "Fred" and names["kitchen"] == "kitchen" and names["apple,football"] == "apple,football"


def test_an_export_is_scored_on_official_test_files(tmp_path, zoo_exports):
    from exports import verify

    folder = tmp_path / "babi" / "en"
    folder.mkdir(parents=True)
    for source in (Path(__file__).parent / "fixtures" / "babi" / "en").glob("qa*_train.txt"):
        (folder / source.name.replace("_train", "_test")).write_text(source.read_text())
    (folder / "qa5_three-arg-relations_test.txt").write_text(QA5)
    path = zoo_exports.get("memn2n_babi")
    inputs, labels = babi_tasks.held_out("test", data_dir=tmp_path, tasks=[5])
    assert list(labels["answer"]) == ["Fred", "Jeff"]  # as the file writes them
    report, outputs = verify.run_isolated(path, "memn2n_babi", inputs=inputs)
    assert [str(a) for a in outputs["answer"]] == ["Fred", "Jeff"]  # the data's casing, from the graph
    scores = verify.evaluate_export(path, "memn2n_babi", data_dir=tmp_path, split="test",
                                    tasks=[1, 5, 8])
    assert scores["split"] == "test" and scores["examples"] == 17  # every question of the files
    assert set(scores["task_errors"]) == {1, 5, 8} and scores["task_errors"][5] == 0.0, scores
    # the fixture's handmade task-1 stories are easy (0% validation error on task 1); a
    # reader that misaligned stories and questions would answer at chance (60 answers)
    assert scores["task_errors"][1] == 0.0, scores
