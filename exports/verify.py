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
    export_dir = _saved_model_dir(export_dir)
    entry = zoo.get(name or export_dir.parent.name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-I", str(CHECK_SCRIPT), str(export_dir),
            "--expect", json.dumps(signature_info(entry)),
        ]
        if inputs is not None:
            np.savez(f"{tmp}/inputs.npz", **{  # strings as unicode: no pickle needed
                k: v.astype(str) if v.dtype == object else v for k, v in inputs.items()})
            command += ["--inputs", f"{tmp}/inputs.npz", "--outputs", f"{tmp}/outputs.npz"]
        if keras_check:
            command.append("--keras")
        result = subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout
        )
        lines = result.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise VerificationError(
                f"The isolated check of {export_dir} crashed:\n{result.stderr[-3000:]}"
            ) from None
        if not report.get("ok"):
            raise VerificationError(
                f"{export_dir} failed verification: " + "; ".join(report["problems"])
            )
        outputs = None
        if inputs is not None:
            with np.load(f"{tmp}/outputs.npz") as data:
                outputs = {k: data[k] for k in data.files}
    return report, outputs


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
