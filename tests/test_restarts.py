"""`specialnets pick`: restarts scored on training and validation, the lowest training error kept."""

import json

import pytest

from specialnets import cli
from training import restarts, train


@pytest.fixture(scope="module")
def two_restarts(tmp_path_factory):
    base = tmp_path_factory.mktemp("restarts")
    runs = [base / f"seed{seed}" for seed in (0, 1)]
    for seed, run_dir in zip((0, 1), runs):
        train.train("pointer_sort", preset="smoke", run_dir=run_dir, seed=seed, verbose=0)
    return runs


def test_rows_are_sorted_by_training_error_and_carry_both_splits(two_restarts, capsys):
    rows = restarts.score_runs("pointer_sort", two_restarts)
    cli.main(["pick", "pointer_sort", *map(str, two_restarts)])
    assert capsys.readouterr().out.strip().endswith(f"Lowest training error: {rows[0]['run']}")
    assert sorted(row["seed"] for row in rows) == [0, 1]
    assert rows[0]["train_error"] <= rows[1]["train_error"]
    for row in rows:
        assert 0.0 <= row["train_error"] <= 1.0 and 0.0 <= row["validation_error"] <= 1.0
    # The figures are the run's own: its validation error is what `evaluate` gives its weights.
    first = rows[0]
    direct = train.evaluate("pointer_sort", f"{first['run']}/final.weights.h5", split="validation")
    assert first["validation_error"] == pytest.approx(direct["error"])


def test_publish_records_every_restart_it_picked_from(two_restarts, monkeypatch):
    calls = []

    def fake_publish(name, run_dir, extra=None):
        calls.append((name, run_dir, extra))
        return {"sha256": "0" * 64}

    monkeypatch.setattr(train, "publish", fake_publish)
    rows = restarts.pick("pointer_sort", two_restarts, publish=True)
    assert calls == [("pointer_sort", rows[0]["run"], {"picked_from": rows})]
    assert rows[0]["sha256"] == "0" * 64


def test_only_finished_restarts_of_one_preset_are_compared(two_restarts, tmp_path, capsys):
    with pytest.raises(ValueError, match="not a finished training run"):
        restarts.score_runs("pointer_sort", [two_restarts[0], tmp_path])
    with pytest.raises(ValueError, match="trained 'pointer_sort', not 'pointer_hull'"):
        restarts.score_runs("pointer_hull", two_restarts)
    with pytest.raises(ValueError, match="at least one"):
        restarts.score_runs("pointer_sort", [])
    other = tmp_path / "other"
    other.mkdir()
    for name in ("final.weights.h5", "metrics.json"):
        (other / name).write_bytes((two_restarts[1] / name).read_bytes())
    info = json.loads((other / "metrics.json").read_text())
    (other / "metrics.json").write_text(json.dumps({**info, "epochs": info["epochs"] + 1}))
    with pytest.raises(ValueError, match=r"not a restart of .*\['epochs'\] differ"):
        restarts.score_runs("pointer_sort", [two_restarts[0], other])
    (other / "metrics.json").write_text(json.dumps({**info, "task_overrides": {"train_examples": 64}}))
    with pytest.raises(ValueError, match=r"not a restart of .*\['task_overrides'\] differ"):
        restarts.score_runs("pointer_sort", [two_restarts[0], other])
    # a run recorded before `task_overrides` existed changed no task option
    (other / "metrics.json").write_text(json.dumps({k: v for k, v in info.items() if k != "task_overrides"}))
    assert len(restarts.score_runs("pointer_sort", [two_restarts[0], other])) == 2
    with pytest.raises(SystemExit) as stop:
        cli.main(["pick", "pointer_sort", str(tmp_path / "missing")])
    assert stop.value.code == 2
    assert "specialnets pick: error: `run_dirs`" in capsys.readouterr().err
