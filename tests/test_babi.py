import collections
from pathlib import Path

import pytest

from training.tasks.babi import reader as babi

FIXTURES = Path(__file__).parent / "fixtures"

QA1 = FIXTURES / "babi" / "en" / "qa1_single-supporting-fact_train.txt"
QA8 = FIXTURES / "babi" / "en" / "qa8_lists-sets_train.txt"


def test_normalize():
    assert babi.normalize("Mary moved to the bathroom.") == "mary moved to the bathroom"
    assert babi.normalize("  Where is  Mary? ") == "where is mary"
    assert babi.normalize("Is John, or Mary, in the garden?") == "is john or mary in the garden"


def test_the_serving_graph_normalizes_alike():
    import tensorflow as tf

    from zoo.memn2n import tf_normalize

    texts = ["Mary moved to the bathroom.", "Where is Mary? ", "Yes, John is; no!",
             "What is Daniel carrying?"]
    out = [t.decode() for t in tf_normalize(tf.constant(texts)).numpy()]
    assert out == [babi.normalize(t) for t in texts]


def test_parse_fixture_stories_and_supporting_facts():
    examples = babi.parse(QA1, 1)
    assert len(examples) == 8
    first, second, third = examples[:3]
    assert first.story == ("sandra walked to the office", "daniel went to the garden")
    assert (first.question, first.answer, first.supporting) == ("where is sandra", "office", (0,))
    # earlier questions are never memories
    assert second.story == first.story + ("john travelled to the kitchen", "sandra moved to the hallway")
    assert third.story == second.story
    assert all("where is" not in s for e in examples for s in e.story)
    assert [e.story_id for e in examples] == [0, 0, 0, 1, 1, 2, 2, 2]
    # a new story starts empty
    assert examples[3].story == ("mary journeyed to the bedroom", "mary went back to the bathroom")
    # every supporting fact names the place of the answer
    for example in examples:
        (fact,) = example.supporting
        assert example.story[fact].endswith(example.answer)
    assert {e.task for e in examples} == {1}


def test_comma_answers_kept():
    examples = babi.parse(QA8, 8)
    assert [e.answer for e in examples] == [
        "apple,milk", "milk", "nothing", "football,apple", "milk", "milk,football", "football"]
    assert examples[0].supporting == (0, 2)
    assert examples[1].story[examples[1].supporting[2]] == "daniel put down the apple"


def test_memory_keeps_last_50_statements(tmp_path):
    lines = [f"{i} Mary went to room{i}." for i in range(1, 61)]
    lines += ["61 Where is Mary? \troom60\t60", "62 Where was Mary first? \troom1\t1 55"]
    path = tmp_path / "qa1_long_train.txt"
    path.write_text("\n".join(lines) + "\n")
    first, second = babi.parse(path, 1)
    assert len(first.story) == babi.MEMORY_SIZE
    assert first.story[0] == "mary went to room11" and first.story[-1] == "mary went to room60"
    assert first.supporting == (49,)
    assert second.story == first.story
    assert second.supporting == (-1, 44)  # fact 1 fell out; fact 55 is the 45th kept


@pytest.mark.parametrize("lines, line, message", [
    (["1 Mary went home.", "Where is Mary?\thome\t1"], 2, "expected '<number> <sentence>'"),
    (["1 Mary went home.", "2 Where is Mary?\thome"], 2, "3 tab-separated fields"),
    (["1 Mary went home.", "2 Where is Mary?\thome\t1\textra"], 2, "3 tab-separated fields"),
    (["1 Mary went home.", "2 Where is Mary?\thome\t3"], 2, "supporting fact id '3' does not exist"),
    (["1 Mary went home.", "2 Where is Mary?\thome\t2"], 2, "supporting fact id '2' does not exist"),
    (["1 Mary went home.", "2 Is she?\tyes\t1", "3 Why?\tx\t2"], 3, "supporting fact id '2'"),
    (["1 Mary went home.", "2 Where is Mary?\thome\tone"], 2, "supporting fact id 'one'"),
    (["1 Mary went home.", "3 Where is Mary?\thome\t1"], 2, "line id 3 breaks the numbering: expected 2"),
    (["2 Mary went home.", "3 Where is Mary?\thome\t2"], 1, "expected 1"),
    (["1 Mary went home.", "2 John left."], None, "no question lines"),
])
def test_malformed_lines_name_file_and_line(tmp_path, lines, line, message):
    path = tmp_path / "qa1_bad_train.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as error:
        babi.parse(path, 1)
    text = str(error.value)
    assert str(path) in text and message in text
    if line is not None:
        assert f"line {line}:" in text


def test_load_finds_files_and_falls_back_to_1k(tmp_path):
    examples = babi.load(FIXTURES, tasks=[1, 8])
    assert len(examples) == 15 and [e.task for e in examples] == [1] * 8 + [8] * 7
    # the babi folder itself, and a folder of qa files, are found too
    assert babi.load(FIXTURES / "babi", tasks=[8]) == babi.load(FIXTURES / "babi" / "en", tasks=[8])
    # no en-10k folder here: every task falls back to its 1k file
    ten_k = babi.load(FIXTURES, tasks=[1, 8], size="10k")
    assert {e.source for e in ten_k} == {str(QA1), str(QA8)}
    (tmp_path / "en-10k").mkdir()
    (tmp_path / "en").mkdir()
    (tmp_path / "en-10k" / QA8.name).write_text(QA8.read_text())
    (tmp_path / "en" / QA1.name).write_text(QA1.read_text())
    files = babi.task_files(tmp_path, [1, 8], "10k")
    assert files == {1: tmp_path / "en" / QA1.name, 8: tmp_path / "en-10k" / QA8.name}
    with pytest.raises(FileNotFoundError, match=r"'qa3_\*_train.txt' for task 3"):
        babi.load(FIXTURES, tasks=[3])
    with pytest.raises(ValueError, match="size"):
        babi.load(FIXTURES, tasks=[1], size="100k")


def test_official_test_files_are_read_whole_as_the_test_split(tmp_path):
    (tmp_path / "en").mkdir()
    for source in (QA1, QA8):  # test files have the training files' format
        (tmp_path / "en" / source.name.replace("_train", "_test")).write_text(source.read_text())
    test = babi.load(tmp_path, tasks=[1, 8], files="test")
    assert len(test) == 15 and {e.split for e in test} == {"test"}
    assert babi.split_examples(test, "test") == test and not babi.split_examples(test, "train")
    questions = [(e.story, e.question, e.answer) for e in babi.load(FIXTURES, tasks=[1, 8])]
    assert [(e.story, e.question, e.answer) for e in test] == questions
    # a missing 10k test file falls back to the 1k one, as a training file does
    assert babi.load(tmp_path, tasks=[8], size="10k", files="test") == test[8:]
    assert babi.files_of("validation") == "train" and babi.files_of("test") == "test"
    with pytest.raises(FileNotFoundError, match=r"'qa1_\*_test.txt' for task 1.*official test"):
        babi.load(FIXTURES, tasks=[1], files="test")
    with pytest.raises(ValueError, match="`files` must be one of"):
        babi.load(FIXTURES, tasks=[1], files="dev")


def test_beyond_1k_is_the_10k_files_stories_after_the_1k_files(tmp_path):
    for size in ("en", "en-10k"):
        (tmp_path / size).mkdir()
    more = "1 Mary went to the garden.\n2 Where is Mary? \tgarden\t1\n"
    (tmp_path / "en" / QA1.name).write_text(QA1.read_text())
    (tmp_path / "en-10k" / QA1.name).write_text(QA1.read_text() + more)
    (tmp_path / "en" / QA8.name).write_text(QA8.read_text())  # no 10k file: no stories
    unseen = babi.load_beyond_1k(tmp_path, tasks=[1, 8])
    assert [(e.story, e.question, e.answer, e.task, e.split) for e in unseen] == [
        (("mary went to the garden",), "where is mary", "garden", 1, "beyond_1k")]
    assert babi.examples_of(tmp_path, "beyond_1k", [1, 8]) == unseen
    assert babi.examples_of(tmp_path, "validation", [1, 8]) == babi.split_examples(
        babi.load(tmp_path, [1, 8]), "validation")
    with pytest.raises(ValueError, match="scores a model trained on the 1k files only"):
        babi.examples_of(tmp_path, "beyond_1k", [1], size="10k")
    (tmp_path / "en-10k" / QA1.name).write_text(more + QA1.read_text())
    with pytest.raises(ValueError, match=r"qa1_single.*expected its first 19 lines to be"):
        babi.load_beyond_1k(tmp_path, tasks=[1])


def test_split_is_deterministic_and_disjoint_by_story():
    examples = babi.load(FIXTURES, tasks=[1, 8])
    train = babi.split_examples(examples, "train")
    validation = babi.split_examples(examples, "validation")
    assert len(train) + len(validation) == len(examples)
    stories = lambda split: {(e.task, e.story_id) for e in split}
    assert not stories(train) & stories(validation)
    # the last story of each file: 3 of qa1's 8 questions, 3 of qa8's 7
    assert stories(validation) == {(1, 2), (8, 2)} and len(validation) == 6
    assert babi.split_examples(babi.load(FIXTURES, tasks=[1, 8]), "validation") == validation
    with pytest.raises(ValueError, match="split"):
        babi.split_examples(examples, "dev")


def test_tfds_builder_holds_the_loaded_examples(tmp_path):
    builder = babi.builder(FIXTURES, "1k", cache_dir=tmp_path, tasks=[1, 8])
    assert builder.builder_config.name == "en-qa1-8"
    assert (tmp_path / f"babi-{babi.fingerprint(FIXTURES, [1, 8])}").is_dir()
    examples = babi.load(FIXTURES, tasks=[1, 8])
    for split in babi.SPLITS:
        stored = [{
            "story": [s.decode() for s in row["story"]],
            "question": row["question"].decode(),
            "answer": row["answer"].decode(),
            "supporting": row["supporting"].tolist(),
            "task": int(row["task"]),
        } for row in builder.as_dataset(split=split).as_numpy_iterator()]
        assert stored == [e.features() for e in babi.split_examples(examples, split)]


def test_real_data_counts(data_dir, tmp_path):
    small = babi.load(data_dir, size="1k")
    builder = babi.builder(data_dir, "1k", cache_dir=tmp_path)
    assert builder.builder_config.name == "en"
    for split in babi.SPLITS:
        assert builder.info.splits[split].num_examples == len(babi.split_examples(small, split))
    assert collections.Counter(e.task for e in small) == {t: 1000 for t in babi.TASKS}
    large = babi.load(data_dir, size="10k")
    counts = collections.Counter(e.task for e in large)
    assert counts == {t: 1000 if t == 3 else 10_000 for t in babi.TASKS}
    assert {e.source for e in large if e.task == 3} == {
        str(babi.task_files(data_dir, [3], "1k")[3])}
    unseen = collections.Counter(e.task for e in babi.load_beyond_1k(data_dir))
    # stories that begin in a 1k file are left out (4 questions of tasks 18 and 20)
    assert unseen == {t: 8996 if t in (18, 20) else 9000 for t in babi.TASKS if t != 3}
    for examples in (small, large):
        for task in babi.TASKS:
            of_task = [e for e in examples if e.task == task]
            validation = babi.split_examples(of_task, "validation")
            assert abs(len(validation) / len(of_task) - 0.1) < 0.01, task
        assert all(len(e.story) <= babi.MEMORY_SIZE for e in examples)
        assert all(0 <= i < len(e.story) or i == -1 for e in examples for i in e.supporting)
