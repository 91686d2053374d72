"""`training.tasks.babi.path_finding`: task 19's two moves, and which side of its sentence each starts on."""

import pytest

from training.tasks.babi import path_finding as pf

STORY = ["the office is east of the hallway", "the kitchen is north of the office",
         "the garden is west of the bedroom", "the office is west of the garden",
         "the bathroom is north of the garden"]
QUESTION = "how do you go from the kitchen to the garden"  # bAbI's answer: s,e


def test_moves_read_each_sentence_from_the_right_side():
    # kitchen -> office starts at "kitchen is north of": south; office -> garden starts at
    # "office is west of": east. Both start at the subject.
    assert pf.moves(STORY, QUESTION) == [("s", pf.KINDS[1]), ("e", pf.KINDS[1])]
    # the reverse trip ends at both subjects: the sentences' own directions
    assert pf.moves(STORY, "how do you go from the garden to the kitchen") == [
        ("w", pf.KINDS[0]), ("n", pf.KINDS[0])]


def test_malformed_stories_and_questions_are_named():
    with pytest.raises(ValueError, match="`question`: expected 'how do you go"):
        pf.moves(STORY, "where is the kitchen")
    with pytest.raises(ValueError, match="`story`: expected sentences like"):
        pf.moves(STORY + ["the kitchen is near the office"], QUESTION)
    with pytest.raises(ValueError, match="one two-move path from kitchen to bedroom; found 0"):
        pf.moves(STORY, "how do you go from the kitchen to the bedroom")


def test_tally_counts_each_move_by_its_kind():
    back = "how do you go from the garden to the kitchen"
    counts = pf.tally([STORY, STORY], [QUESTION, back], ["s,e", "w,n"], ["n,e", "w,n"])
    assert counts == {(1, pf.KINDS[1]): [0, 1], (2, pf.KINDS[1]): [1, 1],
                      (1, pf.KINDS[0]): [1, 1], (2, pf.KINDS[0]): [1, 1]}
    assert "| first | 1/1 right (100.0%) | 0/1 right (0.0%) |" in pf.table(counts)
    with pytest.raises(ValueError, match="`answers`: 'n,n' is not the path"):
        pf.tally([STORY], [QUESTION], ["n,n"], ["s,e"])


def test_only_babi_models_and_existing_weights_are_reported(capsys, tmp_path):
    with pytest.raises(SystemExit):
        pf.main(["--model", "pointer_sort"])
    assert "--model: pointer_sort is not a bAbI model" in capsys.readouterr().err
    story = tmp_path / "en" / "qa19_path-finding_train.txt"
    story.parent.mkdir()
    story.write_text("".join(f"{i + 1} {s}.\n" for i, s in enumerate(STORY))
                     + f"6 {QUESTION.capitalize()}?\ts,e\t2 4\n")
    with pytest.raises(SystemExit):
        pf.main(["--data-dir", str(tmp_path), "--model", "memn2n_babi", "--weights", str(tmp_path / "no.h5")])
    assert "no.h5 does not exist" in capsys.readouterr().err


def test_every_task_19_answer_of_the_data_is_its_path(data_dir):
    from training.tasks.babi import reader as babi

    examples = [e for size in babi.SIZES for e in babi.load(data_dir, tasks=[19], size=size)]
    counts = pf.tally([e.story for e in examples], [e.question for e in examples],
                      [e.answer for e in examples], [e.answer for e in examples])
    assert sum(total for _, total in counts.values()) == 2 * len(examples) == 2 * 11_000
    assert all(right == total for right, total in counts.values())
