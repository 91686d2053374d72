import json

import keras
import numpy as np
import pytest

from training import held_out_log
from training.held_out_log import HeldOutLog, numeric_figures


def _fit(callback, epochs):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, x[:, :1], epochs=epochs, batch_size=4, verbose=0, callbacks=[callback])
    return model


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scores_every_nth_epoch_with_the_model_as_it_is(tmp_path):
    path = tmp_path / "held_out.jsonl"

    def score(model):
        return {"bias": float(model.layers[-1].bias.numpy()[0]), "task_errors": {"19": 0.5}}

    model = _fit(HeldOutLog(path, 2, score, summary_dir=tmp_path / "tb"), epochs=5)
    lines = _lines(path)
    assert [line["epoch"] for line in lines] == [1, 3]
    assert lines[-1]["task_errors"] == {"19": 0.5}
    assert lines[-1]["bias"] != lines[0]["bias"]  # scored after each epoch's training, not once
    assert lines[-1]["bias"] != float(model.layers[-1].bias.numpy()[0])  # epoch 4 was not scored
    assert list((tmp_path / "tb").iterdir())  # TensorBoard events
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_epoch_redone_after_a_resume_replaces_its_line(tmp_path):
    path = tmp_path / "held_out.jsonl"
    calls = iter(range(10))
    log = HeldOutLog(path, 1, lambda model: {"call": next(calls)})
    model = _fit(log, epochs=2)
    log.on_epoch_end(1)  # as a run resumed at epoch 1 would
    assert [(line["epoch"], line["call"]) for line in _lines(path)] == [(0, 0), (1, 2)]
    assert model is log.model


@pytest.mark.parametrize("every", [0, -1, 1.5, True, "5"])
def test_every_must_be_a_positive_int(every, tmp_path):
    with pytest.raises(ValueError, match="`every` must be an int >= 1"):
        HeldOutLog(tmp_path / "x.jsonl", every, lambda model: {})


def test_numeric_figures_flatten_nested_dicts_and_drop_the_rest():
    figures = {"split": "validation", "error": 0.25, "failed_tasks": 2, "ok": True,
               "task_errors": {"3": 0.5, "19": 0.0}}
    assert numeric_figures(figures) == {"error": 0.25, "failed_tasks": 2.0, "task_errors/3": 0.5,
                                        "task_errors/19": 0.0}


def test_the_log_prints_as_a_table_of_chosen_figures(tmp_path, capsys):
    lines = [{"epoch": 4, "split": "validation", "error": 0.415, "failed_tasks": 18,
              "task_errors": {"19": 0.895}},
             {"epoch": 9, "split": "validation", "error": 0.388, "failed_tasks": 17,
              "task_errors": {"19": 0.5}}]
    (tmp_path / "held_out.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    held_out_log.main([str(tmp_path), "--columns", "error", "task_errors/19"])
    assert capsys.readouterr().out.splitlines() == [
        "| epoch | error | task_errors/19 |", "| --- | --- | --- |",
        "| 4 | 41.5% | 89.5% |", "| 9 | 38.8% | 50.0% |"]
    held_out_log.main([str(tmp_path)])
    assert capsys.readouterr().out.splitlines()[2] == "| 4 | 41.5% | 18 |"
    with pytest.raises(SystemExit):
        held_out_log.main([str(tmp_path), "--columns", "task_errors/21"])
    assert "no figure ['task_errors/21'] in the log; it has ['error'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        held_out_log.main([str(tmp_path / "none")])
    assert "logged no held-out figures" in capsys.readouterr().err
