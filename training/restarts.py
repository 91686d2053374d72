"""Restarts: one preset trained from several seeds, and the paper's rule
for keeping one of them.

    for s in 0 1 2 3 4; do
      specialnets train memn2n_babi --preset paper --seed $s --run-dir runs/memn2n_babi-paper-seed$s
    done
    specialnets pick memn2n_babi runs/memn2n_babi-paper-seed* [--publish]

Sukhbaatar et al. (2015) train each model 10 times from random
initialisations and keep the run with the lowest training error. `pick`
scores the final weights of every finished run on the training split (as it
is in the files: no random noise, no augmentation) and on the validation
split, and keeps the lowest training error: the validation split never
decides, so its figure stays a fair estimate.
"""

import json
from pathlib import Path

from training import train

SAME_IN_RESTARTS = ("preset", "model_config", "model_overrides", "training_overrides",
                    "task_overrides", "epochs", "init_weights")


def _finished_run(name, run_dir):
    run_dir = Path(run_dir)
    record = run_dir / "metrics.json"
    if not record.is_file() or not (run_dir / "final.weights.h5").is_file():
        raise ValueError(f"`run_dirs`: {run_dir} is not a finished training run (no metrics.json "
                         "or final.weights.h5).")
    info = json.loads(record.read_text())
    if info.get("model") != name:
        raise ValueError(f"`run_dirs`: {run_dir} trained {info.get('model')!r}, not {name!r}.")
    return info


def score_runs(name, run_dirs, data_dir=None, cache_dir="runs/tfds"):
    """One row per run, lowest training error first: run, seed, training
    and validation error (for bAbI: the mean over the tasks) and, where the
    task counts them, failed tasks."""
    if not run_dirs:
        raise ValueError("`run_dirs`: expected at least one training run directory.")
    infos = [_finished_run(name, run_dir) for run_dir in run_dirs]
    for run_dir, info in zip(run_dirs[1:], infos[1:]):
        # `or None`: runs from before a record field existed did not change it
        differs = [key for key in SAME_IN_RESTARTS
                   if (info.get(key) or None) != (infos[0].get(key) or None)]
        if differs:
            raise ValueError(f"`run_dirs`: {run_dir} is not a restart of {run_dirs[0]}: its "
                             f"{differs} differ; restarts differ in the seed only.")
    rows = []
    for run_dir, info in zip(run_dirs, infos):
        weights = str(Path(run_dir) / "final.weights.h5")
        row = {"run": str(run_dir), "seed": info["seed"]}
        options = train.held_out_options(name, info.get("task_overrides"))
        for split in ("train", "validation"):
            scores = train.evaluate(name, weights, data_dir, split, cache_dir, **options)
            row[f"{split}_error"] = scores["error"]
            if "failed_tasks" in scores:
                row[f"{split}_failed_tasks"] = scores["failed_tasks"]
        rows.append(row)
    return sorted(rows, key=lambda row: row["train_error"])


def pick(name, run_dirs, data_dir=None, cache_dir="runs/tfds", publish=False):
    """`score_runs`, and the first row's run published when `publish`
    (its weights record lists every restart it was picked from)."""
    rows = score_runs(name, run_dirs, data_dir, cache_dir)
    if publish:
        info = train.publish(name, rows[0]["run"], extra={"picked_from": rows})
        rows[0]["sha256"] = info["sha256"]
    return rows


def format_rows(rows):
    lines = ["run | seed | training error | validation error | validation failed tasks"]
    for row in rows:
        failed = row.get("validation_failed_tasks", "")
        lines.append(f"{row['run']} | {row['seed']} | {row['train_error']:.2%} | "
                     f"{row['validation_error']:.2%} | {failed}")
    return "\n".join(lines)
