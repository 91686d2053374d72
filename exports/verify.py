"""Verifies exports in a fresh process that cannot import this repository."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import zoo
from exports.export import signature_info

CHECK_SCRIPT = Path(__file__).with_name("isolated_check.py")


class VerificationError(RuntimeError):
    pass


def _saved_model_dir(path):
    path = Path(path).resolve()
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path} is not a SavedModel directory (no saved_model.pb).")
    return path


def run_isolated(export_dir, name=None, inputs=None, keras_check=False, timeout=600):
    """Runs `isolated_check.py` on `export_dir`; returns (report, outputs).

    `inputs` (name -> array) are run through `serving_default` there, and
    the outputs come back as arrays. Raises `VerificationError` on failure.
    """
    return run_isolated_many([(export_dir, name, inputs)], keras_check, timeout)[0]


def run_isolated_many(jobs, keras_check=False, timeout=None):
    """`run_isolated` of each `(export_dir, name or None, inputs or None)` of
    `jobs`, all in one fresh process (TensorFlow starts once, not once an
    export); returns a (report, outputs) each. Raises `VerificationError`
    naming every export that failed."""
    jobs = [(_saved_model_dir(path), name, inputs) for path, name, inputs in jobs]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for i, (export_dir, name, inputs) in enumerate(jobs):
            entry = zoo.get(name or export_dir.parent.name)
            spec = {"export_dir": str(export_dir), "expect": signature_info(entry), "keras": keras_check}
            if inputs is not None:
                np.savez(f"{tmp}/inputs-{i}.npz", **{  # strings as unicode: no pickle needed
                    k: v.astype(str) if v.dtype == object else v for k, v in inputs.items()})
                spec.update(inputs=f"{tmp}/inputs-{i}.npz", outputs=f"{tmp}/outputs-{i}.npz")
            specs.append(spec)
        Path(f"{tmp}/jobs.json").write_text(json.dumps(specs))
        result = subprocess.run(
            [sys.executable, "-I", str(CHECK_SCRIPT), "--jobs", f"{tmp}/jobs.json"], cwd=tmp, env=env,
            capture_output=True, text=True, timeout=timeout or 300 + 60 * len(jobs),
        )
        lines = result.stdout.strip().splitlines()
        try:
            reports = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            names = ", ".join(str(path) for path, _, _ in jobs)
            raise VerificationError(
                f"The isolated check of {names} crashed:\n{result.stderr[-3000:]}"
            ) from None
        failed = [f"{path} failed verification: " + "; ".join(report["problems"])
                  for (path, _, _), report in zip(jobs, reports) if not report.get("ok")]
        if failed:
            raise VerificationError("\n".join(failed))
        results = []
        for spec, report in zip(specs, reports):
            outputs = None
            if "outputs" in spec:
                with np.load(spec["outputs"]) as data:
                    outputs = {k: data[k] for k in data.files}
            results.append((report, outputs))
    return results


def evaluate_export(export_dir, name=None, data_dir=None, split="validation", **options):
    """The task's figures for an export on held-out data; the export runs
    where no project code loads. `options` (e.g. `size`) go to the data."""
    from training import tasks, train

    export_dir = _saved_model_dir(export_dir)
    name = name or export_dir.parent.name
    inputs, labels = train.held_out_arrays(name, data_dir=data_dir, split=split, **options)
    report, outputs = run_isolated(export_dir, name, inputs=inputs)
    return {
        "split": split,
        "examples": int(len(labels)),
        **tasks.get(zoo.get(name).task).scores(outputs, inputs, labels),
        "warmup_requests": report["warmup_requests"],
    }
