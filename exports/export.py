"""SavedModel export in TF Serving's layout: `specialnets export`."""

import datetime
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.saved_model import save_context  # no public API enters it

import zoo
from exports import warmup
from training import train

DEFAULT_BASE = "runs/exports"
SIGNATURE = "serving_default"
ROOT = Path(__file__).resolve().parents[1]
GRAPH_PACKAGES = ("custom_layers", "zoo", "exports")  # the code an export's graph comes from


def versions(model_dir):
    """The integer versions under `model_dir`, ascending."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.name.isdigit())


def signature_info(entry):
    """The registry's serving signature as plain JSON."""

    def describe(infos):
        return {
            i.name: {"dtype": i.dtype, "shape": list(i.shape), "description": i.description}
            for i in infos
        }

    return {"inputs": describe(entry.inputs), "outputs": describe(entry.outputs)}


def weights_info(entry, weights="pretrained"):
    """What trained `weights`: the zoo's record, or a run's `metrics.json`."""
    return entry.weights_info() if weights == "pretrained" else train.run_info(weights)


def load_model(entry, weights="pretrained"):
    if weights == "pretrained":
        return entry.load_pretrained()
    return train.load_weights_file(entry, weights)


def write_saved_model(entry, model, path):
    """Writes `model` as a SavedModel whose `serving_default` is the entry's.

    Keras's `ExportArchive`, with two changes to its internals (Keras and
    TensorFlow are pinned in pyproject.toml; tests/test_export.py checks both):
    - each weight is stored once. `track(model)` also stores Keras's wrappers
      of the variables beside the tf.Variables the endpoints capture, which
      doubles the files and the memory of every server that loads them
      (keras-team/keras#23553). The model is tracked for its lookup tables only.
    - each endpoint is traced once. Keras lists the variables an endpoint uses
      from a trace made outside a save context, and `tf.saved_model.save`
      traces it again inside one (TensorFlow keys traces by it; tensorflow#56370).
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    for kind in ("variables", "trainable_variables", "non_trainable_variables"):
        setattr(archive._tf_trackable, kind, [])

    def specs(inputs):
        return [tf.TensorSpec(i.shape, tf.dtypes.as_dtype(i.dtype), name=i.name) for i in inputs]

    for name, serving_fn in {SIGNATURE: entry.serving_fn, **entry.extra_signatures}.items():
        inputs = entry.extra_signature_inputs.get(name, entry.inputs)
        archive.add_endpoint(name=name, fn=serving_fn(model), input_signature=specs(inputs))
    list_resources = archive._filter_and_track_resources

    def list_resources_as_saving_does():
        with save_context.save_context(tf.saved_model.SaveOptions()):
            list_resources()

    archive._filter_and_track_resources = list_resources_as_saving_does
    archive.write_out(str(path), verbose=False)


def source_sha256():
    """A digest of the Python sources that write an export's graph."""
    digest = hashlib.sha256()
    for package in GRAPH_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def weights_sha256(entry, weights="pretrained"):
    if weights == "pretrained":
        return entry.weights_sha256
    return hashlib.sha256(Path(weights).read_bytes()).hexdigest()


def fingerprint(entry, weights="pretrained"):
    """What decides an export's contents: weights, sources, library versions."""
    return {
        "weights_sha256": weights_sha256(entry, weights),
        "source_sha256": source_sha256(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def matching_export(name, weights="pretrained", base=DEFAULT_BASE):
    """The latest version under `<base>/<name>/` if it was verified and its
    fingerprint is today's (an export of the same weights by the same code
    and libraries); else None."""
    entry = zoo.get(name)
    model_dir = Path(base) / name
    if not versions(model_dir):
        return None
    path = model_dir / str(versions(model_dir)[-1])
    try:
        card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    wanted = {**fingerprint(entry, weights), "verified_without_project_code": True}
    if (path / "saved_model.pb").is_file() and all(card.get(k) == v for k, v in wanted.items()):
        return path
    return None


def model_card(entry, weights):
    """The card of an export (its version is filled in when it is claimed)."""
    info = weights_info(entry, weights)
    return {
        "name": entry.name,
        "version": None,
        "summary": entry.summary,
        "signature_name": SIGNATURE,
        "signature": signature_info(entry),
        "weights": "pretrained" if weights == "pretrained" else str(weights),
        "training_command": info.get("command"),
        "data": info.get("data"),
        "metrics": info.get("metrics", {}),
        "paper_result": entry.paper_result,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        **fingerprint(entry, weights),
        "verified_without_project_code": False,
    }


def _stage(name, weights, base):
    """Writes the export of `name` to a hidden temporary directory beside its
    versions (TF Serving ignores non-numeric names); returns (tmp, card)."""
    entry = zoo.get(name)
    model = load_model(entry, weights)
    model_dir = Path(base) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / f".tmp-export-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_saved_model(entry, model, tmp)
        (tmp / "assets.extra").mkdir()
        warmup.write_requests(tmp / "assets.extra" / warmup.FILENAME, name, entry.example_inputs())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, model_card(entry, weights)


def _claim(tmp, card):
    """Renames a staged export to its model's next free version; returns it."""
    model_dir = tmp.parent
    version = (versions(model_dir) or [0])[-1] + 1
    while True:
        card["version"] = version
        (tmp / "assets.extra" / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        target = model_dir / str(version)
        try:  # atomic; refuses a version that exists (with files in it)
            os.rename(tmp, target)
            return target
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise
            version += 1


def export(name, weights="pretrained", base=DEFAULT_BASE, check=None):
    """Exports zoo model `name` to `<base>/<name>/<next version>/`; returns it.

    The export is written to a hidden temporary directory beside the
    versions and renamed into place, so a version directory is never
    partial and never overwritten. `check(export_dir, name)`, e.g.
    `verify.run_isolated`, runs on it before it is claimed: an export that
    fails its check never gets a version.
    """
    return export_many([name], weights, base, None if check is None else
                       lambda staged: [check(tmp, n) for tmp, n in staged])[0]


def export_many(names, weights="pretrained", base=DEFAULT_BASE, check_many=None):
    """`export` of each of `names`, with one `check_many([(export_dir, name),
    ...])` over all of them (e.g. `verify.run_isolated_many`: one fresh
    process, not one a model); if it raises, no model gets a version."""
    staged = []
    try:
        for name in names:
            staged.append((name, *_stage(name, weights, base)))
        if check_many is not None and staged:
            check_many([(tmp, name) for name, tmp, _ in staged])
            for _, _, card in staged:
                card["verified_without_project_code"] = True
        return [_claim(tmp, card) for _, tmp, card in staged]
    finally:
        for _, tmp, _ in staged:
            shutil.rmtree(tmp, ignore_errors=True)
        write_models_config(base)


def write_models_config(base=DEFAULT_BASE):
    """Writes `<base>/models.config` for `tensorflow_model_server
    --model_config_file`, listing every model with at least one version."""
    base = Path(base)
    models = [
        p for p in sorted(base.iterdir()) if p.is_dir() and versions(p)
    ] if base.is_dir() else []
    entries = "".join(
        "  config {\n"
        f"    name: \"{p.name}\"\n"
        f"    base_path: \"{p.resolve()}\"\n"
        "    model_platform: \"tensorflow\"\n"
        "  }\n"
        for p in models
    )
    path = base / "models.config"
    tmp = base / f".models.config.{os.getpid()}.tmp"  # two exporters at once write their own
    tmp.write_text("model_config_list {\n" + entries + "}\n")
    os.replace(tmp, path)
    return path


def example_request(entry, rows=2):
    """A TF Serving REST body (`instances`) built from the entry's examples."""
    examples = entry.example_inputs()
    instances = []
    for i in range(rows):
        row = {k: np.asarray(v[i]).tolist() for k, v in examples.items()}
        instances.append(row if len(row) > 1 else next(iter(row.values())))
    return {"signature_name": SIGNATURE, "instances": instances}
