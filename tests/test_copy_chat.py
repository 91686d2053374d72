import numpy as np
import pytest
import tensorflow as tf

import zoo
from training.tasks import chat as ct
from training import tasks, train
from zoo import copy_chat as cc


def test_examples_are_deterministic_per_seed_split_and_index():
    first = ct.examples("train", seed=3, size=50)
    assert first == ct.examples("train", seed=3, size=50)
    assert first != ct.examples("train", seed=4, size=50)
    assert ct.examples("train", seed=3, size=10, start=20)[0] == first[0][20:30]
    assert ct.examples("test", seed=0, size=50) != ct.examples("validation", seed=0, size=50)
    with pytest.raises(ValueError, match="`split` must be one of"):
        ct.rng_for(0, "dev", 0)


def test_held_out_splits_do_not_depend_on_the_training_seed():
    batch = lambda seed: next(iter(ct.chat_dataset("validation", seed=seed, size=64)))  # noqa: E731
    for a, b in zip(tf.nest.flatten(batch(0)), tf.nest.flatten(batch(7))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    prompts, replies = ct.held_out("test", size=30)
    assert list(prompts["prompt"]) == list(ct.examples("test", 0, 30)[0])
    assert list(replies) == list(ct.examples("test", 0, 30)[1])


def test_train_and_test_names_are_disjoint_and_test_names_out_of_vocabulary():
    train_names = set(ct.examples("train", seed=0, size=3000)[2])
    test_names = set(ct.examples("test", seed=0, size=500)[2])
    assert len(test_names) > 400 and not train_names & test_names
    assert all(ct.name_split(n) == "test" for n in test_names)
    assert not (train_names | test_names) & set(cc.VOCABULARY)
    for prompt, reply, name in zip(*ct.examples("test", seed=0, size=200)):
        assert name in prompt.split() and name in reply.split() and ct.name_of(prompt) == name


def test_templates_use_only_vocabulary_words_and_replies_follow_the_prompt():
    for prompt, reply in ct.TEMPLATES:
        words = (prompt + " " + reply).replace("{name}", "").replace("{town}", "").split()
        assert set(words) <= set(cc.VOCABULARY), set(words) - set(cc.VOCABULARY)
    for prompt, reply, name in zip(*ct.examples("train", seed=0, size=300)):
        new = [w for w in prompt.split() if w not in cc.VOCABULARY]
        assert new[0] == name and len(new) <= 2

        def template(text):
            slots = {name: "{name}", new[-1]: "{town}" if len(new) == 2 else "{name}"}
            return " ".join(slots.get(w, w) for w in text.split())

        assert (template(prompt), template(reply)) in ct.TEMPLATES


def test_encoding_copies_the_name_through_the_extended_vocabulary():
    prompts = ["good morning , i am zubelo from poluni"]
    replies = ["good morning , zubelo ! how is poluni ?"]
    inputs, labels = ct.encode(prompts, replies)
    v = cc.VOCAB_SIZE
    words = prompts[0].split()
    assert inputs["source"][0, words.index("zubelo")] == cc.UNK_ID
    assert inputs["source_extended"][0, words.index("zubelo")] == v
    assert inputs["source_extended"][0, words.index("poluni")] == v + 1
    assert labels[0, 3] == v and labels[0, 7] == v + 1 and labels[0, 9] == cc.END_ID
    assert inputs["decoder_input"][0, 0] == cc.START_ID
    assert inputs["decoder_input"][0, 4] == cc.UNK_ID  # the copied name goes in as [UNK]
    _, plain = ct.encode(prompts, replies, copy=False)
    assert plain[0, 3] == cc.UNK_ID and plain.max() < v


def test_graph_tokenisation_and_extended_ids_match_the_training_encoding():
    prompts, replies, _ = ct.examples("test", seed=0, size=64)
    prompts = list(prompts) + ["hello , i am bobo , bobo and kiki and lulu and mimi and nono"]
    replies = list(replies) + ["hello"]
    inputs, _ = ct.encode(prompts, replies)
    shouted = [p.upper().replace(" , ", ", ") for p in prompts]  # case and spacing vary
    tokens = cc.tokenize(tf.constant(shouted))
    table = {w: i for i, w in enumerate(cc.VOCABULARY)}
    ids = tf.constant([[table.get(w.decode(), cc.UNK_ID) for w in row] for row in tokens.numpy()])
    extended, slot_position = cc.extended_ids(tokens, ids, cc.MAX_OOV)
    n = ct.SOURCE_LENGTH
    np.testing.assert_array_equal(ids.numpy()[:, :n], inputs["source"])
    np.testing.assert_array_equal(extended.numpy()[:, :n], inputs["source_extended"])
    last = [w.decode() for w in tokens.numpy()[-1]]
    assert [last[p] for p in slot_position.numpy()[-1]] == ["bobo", "kiki", "lulu", "mimi"]
    assert extended.numpy()[-1, last.index("nono")] == cc.UNK_ID  # beyond MAX_OOV slots


def test_score_counts_exact_replies_and_names():
    inputs = {"prompt": np.array(["hello , i am zubelo", "hey , kavira here"])}
    labels = np.array(["nice to meet you , zubelo !", "hey kavira ! what can i do for you ?"])
    outputs = {"reply": np.array([b"nice to meet you , zubelo !",
                                  b"hey [UNK] ! what can i do for you ?"], dtype=object)}
    assert ct.score(outputs, inputs, labels) == {
        "error": 0.5, "exact_reply_accuracy": 0.5, "exact_name_accuracy": 0.5,
        "accuracy_new_words_blanked": 1.0,
    }
    outputs = {"reply": np.array([b"nice to meet you , kavira !", b"hey kavira"], dtype=object)}
    assert ct.score(outputs, inputs, labels)["exact_name_accuracy"] == 0.5


def _check_replies(outputs, pointer):
    assert outputs["reply"].dtype == tf.string and outputs["reply"].shape == (2,)
    assert all(len(r.split()) <= cc.MAX_REPLY_LENGTH for r in outputs["reply"].numpy())
    assert ("p_gen" in outputs) == pointer
    if pointer:
        p_gen = outputs["p_gen"].numpy()
        assert p_gen.shape == (2, cc.MAX_REPLY_LENGTH) and np.all((p_gen >= 0) & (p_gen <= 1))


PROMPTS = tf.constant(["Hi! My name is Zubelo", ""])


def test_smoke_training_run_and_serving_on_string_prompts(tmp_path, monkeypatch):
    monkeypatch.setitem(ct.SIZES, "validation", 64)  # held-out scoring after training: quick
    info = train.train("copy_chat", preset="smoke", run_dir=tmp_path, verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["examples"] == 64 and 0 <= held_out["exact_name_accuracy"] <= 1
    model = train.load_run_model(tmp_path)
    _check_replies(zoo.get("copy_chat").serving_fn(model)(prompt=PROMPTS), pointer=True)


def test_model_without_pointer_fits_its_own_labels_and_serves():
    entry = zoo.get("copy_chat_no_pointer")
    model = entry.build("smoke")
    model.compile(**tasks.get("chat").compile_arguments())
    ds = ct.chat_dataset("train", batch_size=16, limit=48, **entry.preset("smoke").task)
    assert "source_extended" not in next(iter(ds))[0]
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    _check_replies(entry.serving_fn(model)(prompt=PROMPTS), pointer=False)


def test_the_task_is_registered_for_training():
    task = tasks.get("chat")
    assert not task.needs_data and task.held_out is ct.held_out and task.score is ct.score
    assert zoo.get("copy_chat").task == zoo.get("copy_chat_no_pointer").task == "chat"


@pytest.fixture(scope="module")
def pretrained():
    entry = zoo.get("copy_chat")
    return entry, entry.serving_fn(entry.load_pretrained())


def test_pretrained_model_greets_unseen_names(pretrained):
    entry, serve = pretrained
    prompts, replies = ct.held_out("test", size=32)
    outputs = serve(prompt=tf.constant(prompts["prompt"]))
    scores = ct.score({k: v.numpy() for k, v in outputs.items()}, prompts, replies)
    assert scores["exact_name_accuracy"] >= 0.95, scores
    examples = serve(**entry.example_inputs())["reply"].numpy()
    tokens = cc.tokenize(tf.constant(entry.example_inputs()["prompt"])).numpy()
    for words, reply in zip(tokens, examples):
        name = next(w.decode() for w in words if w.decode() not in cc.VOCABULARY)
        assert name in reply.decode().split(), (words, reply)


def test_pretrained_model_copies_where_the_name_goes(pretrained):
    _, serve = pretrained
    out = serve(prompt=tf.constant(["hello , i am zubelo"]))
    words = out["reply"].numpy()[0].decode().split()
    p_gen = out["p_gen"].numpy()[0]
    assert "zubelo" in words
    # the step that wrote the name copied (p_gen low); the others generated
    assert p_gen[words.index("zubelo")] < 0.5 < p_gen[0]


def test_tfds_builder_holds_the_same_examples(tmp_path):
    builder = ct.builder(tmp_path, sizes={"train": 8, "validation": 4, "test": 6})
    rows = {(r["prompt"].numpy().decode(), r["reply"].numpy().decode(), r["name"].numpy().decode())
            for r in builder.as_dataset(split="test")}
    assert rows == set(zip(*ct.examples("test", seed=0, size=6)))
    assert builder.info.splits["train"].num_examples == 8
