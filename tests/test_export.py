import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

import zoo
from exports import export, verify
from training import train

REPO = Path(__file__).resolve().parents[1]
ENTRY = zoo.get("highway_mnist")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The pretrained highway_mnist exported once, as users get it."""
    base = tmp_path_factory.mktemp("exports")
    return export.export("highway_mnist", base=base)


def test_each_weight_is_stored_once(exported):
    # Not twice, as Keras's `ExportArchive` stores them (keras-team/keras#23553): once as the
    # tf.Variables the signature captures, once as Keras's wrappers of them.
    reader = tf.train.load_checkpoint(str(exported / "variables" / "variables"))
    stored = sorted(k for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH")
    weights = ENTRY.load_pretrained().weights
    assert len(stored) == len(weights), stored
    shapes = reader.get_variable_to_shape_map()
    assert sorted(shapes[k] for k in stored) == sorted(list(w.shape) for w in weights)


def test_the_serving_function_is_traced_once(tmp_path):
    traces = []

    def counting_serving_fn(model):
        serve = ENTRY.serving_fn(model)

        @functools.wraps(serve)
        def counted(*args, **kwargs):
            traces.append(len(traces))
            return serve(*args, **kwargs)

        return counted

    entry = dataclasses.replace(ENTRY, serving_fn=counting_serving_fn)
    export.write_saved_model(entry, ENTRY.load_pretrained(), tmp_path / "model")
    assert traces == [0]
    images = np.load(REPO / "zoo" / "examples" / "mnist_digits.npz")["image"]
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    served = loaded.signatures["serving_default"](image=tf.constant(images))
    expected = ENTRY.serving_fn(ENTRY.load_pretrained())(image=tf.constant(images))
    np.testing.assert_array_equal(served["class_id"].numpy(), expected["class_id"].numpy())


def test_layout_card_and_models_config(exported):
    assert exported.name == "1" and (exported / "saved_model.pb").exists()
    assert (exported / "variables").is_dir()
    card = json.loads((exported / "assets.extra" / "model_card.json").read_text())
    assert card["name"] == "highway_mnist" and card["version"] == 1
    assert card["signature"]["inputs"]["image"]["shape"] == [None, 28, 28, 1]
    assert card["training_command"].startswith("specialnets train highway_mnist --preset paper")
    assert card["metrics"]["validation"]["examples"] == 1000
    config = (exported.parents[1] / "models.config").read_text()
    assert f'base_path: "{exported.parent.resolve()}"' in config
    assert 'name: "highway_mnist"' in config


def test_warmup_records_are_prediction_logs(exported):
    path = exported / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(path))]
    batches = sorted(tf.make_ndarray(log.predict_log.request.inputs["image"]).shape[0]
                     for log in logs)
    assert batches == [1, 8]
    assert all(log.predict_log.request.model_spec.name == "highway_mnist" for log in logs)


def test_isolated_load_matches_keras_and_tfsm_layer(exported):
    examples = ENTRY.example_inputs()
    report, outputs = verify.run_isolated(exported, inputs=examples, keras_check=True)
    assert report["warmup_requests"] == 2 and report["tfsm_layer"]
    expected = ENTRY.load_pretrained().predict(examples["image"], verbose=0)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    assert outputs["class_id"].dtype == np.int64
    np.testing.assert_array_equal(outputs["class_id"], expected.argmax(-1))
    with np.load(REPO / "zoo" / "examples" / "mnist_digits.npz") as data:
        assert (outputs["class_id"] == data["label"]).mean() >= 0.875


def test_next_version_never_overwrites(tmp_path):
    first = export.export("highway_mnist", base=tmp_path)
    (tmp_path / "highway_mnist" / "7").mkdir()  # a version someone else wrote
    second = export.export("highway_mnist", base=tmp_path)
    assert (first.name, second.name) == ("1", "8")
    assert not any(p.name.startswith(".") for p in (tmp_path / "highway_mnist").iterdir())


def test_failed_export_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export.warmup, "write_requests", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export.export("highway_mnist", base=tmp_path)
    assert list((tmp_path / "highway_mnist").iterdir()) == []


def test_an_export_failing_its_check_gets_no_version(tmp_path):
    def check(path, name):
        assert (path / "saved_model.pb").is_file() and name == "highway_mnist"
        raise verify.VerificationError("rejected")

    with pytest.raises(verify.VerificationError, match="rejected"):
        export.export("highway_mnist", base=tmp_path, check=check)
    assert list((tmp_path / "highway_mnist").iterdir()) == []


def test_only_a_verified_export_of_the_same_weights_and_code_is_reused(tmp_path, monkeypatch):
    assert export.matching_export("highway_mnist", base=tmp_path) is None
    unverified = export.export("highway_mnist", base=tmp_path)
    assert export.matching_export("highway_mnist", base=tmp_path) is None
    verified = export.export("highway_mnist", base=tmp_path, check=lambda path, name: None)
    assert verified.name == "2" and export.matching_export("highway_mnist", base=tmp_path) == verified
    card = json.loads((unverified / "assets.extra" / "model_card.json").read_text())
    assert card["weights_sha256"] == ENTRY.weights_sha256 and len(card["source_sha256"]) == 64
    monkeypatch.setattr(export, "source_sha256", lambda: "0" * 64)  # the code changed since
    assert export.matching_export("highway_mnist", base=tmp_path) is None
    monkeypatch.undo()
    (verified / "assets.extra" / "model_card.json").write_text("{")
    assert export.matching_export("highway_mnist", base=tmp_path) is None


def test_mixed_precision_export_has_float32_outputs(tmp_path):
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = ENTRY.build("smoke")
        assert model.get_layer("layer_2").compute_dtype == "float16"
        export.write_saved_model(ENTRY, model, tmp_path / "sm")
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    outputs = served(image=tf.zeros((3, 28, 28, 1)))
    assert outputs["probabilities"].dtype == tf.float32
    assert outputs["class_id"].dtype == tf.int64


def test_verification_rejects_python_ops_and_wrong_signatures(tmp_path):
    class WithPyFunc(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
        def serve(self, image):
            doubled = tf.py_function(lambda x: x * 2, [image], tf.float32)
            return {"probabilities": tf.zeros([tf.shape(doubled)[0], 10]),
                    "class_id": tf.zeros([tf.shape(image)[0]], tf.int64)}

    module = WithPyFunc()
    path = tmp_path / "highway_mnist" / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    with pytest.raises(verify.VerificationError, match="Python-only ops in the graph.*PyFunc"):
        verify.run_isolated(path)

    class WrongOutputs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4, 28, 28, 1], tf.float32, name="image")])
        def serve(self, image):
            return {"scores": tf.zeros([4, 10])}

    module = WrongOutputs()
    path = tmp_path / "highway_mnist" / "2"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    with pytest.raises(verify.VerificationError, match="signature outputs are") as error:
        verify.run_isolated(path)
    assert "fixed batch size 4" in str(error.value)
    assert "tf_serving_warmup_requests is missing" in str(error.value)


def test_one_process_verifies_many_exports_and_names_the_bad_one(exported, tmp_path):
    class WrongOutputs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
        def serve(self, image):
            return {"scores": tf.zeros([tf.shape(image)[0], 10])}

    module = WrongOutputs()
    bad = tmp_path / "highway_mnist" / "7"
    tf.saved_model.save(module, str(bad), signatures={"serving_default": module.serve})
    examples = ENTRY.example_inputs()
    (report, outputs), (again, none) = verify.run_isolated_many(
        [(exported, None, examples), (exported, "highway_mnist", None)])
    assert report["ok"] and again["ok"] and none is None
    assert outputs["class_id"].shape == (len(examples["image"]),)
    with pytest.raises(verify.VerificationError, match="signature outputs are") as error:
        verify.run_isolated_many([(exported, None, None), (bad, None, None)])
    assert str(bad) in str(error.value) and str(exported) not in str(error.value)


def test_a_batch_failing_its_check_gets_no_version(tmp_path):
    def check(staged):
        assert [name for _, name in staged] == ["highway_mnist", "pointer_sort"]
        assert all((path / "saved_model.pb").is_file() for path, _ in staged)
        raise verify.VerificationError("rejected")

    with pytest.raises(verify.VerificationError, match="rejected"):
        export.export_many(["highway_mnist", "pointer_sort"], base=tmp_path, check_many=check)
    assert [list((tmp_path / n).iterdir()) for n in ("highway_mnist", "pointer_sort")] == [[], []]
    paths = export.export_many(["highway_mnist", "pointer_sort"], base=tmp_path,
                               check_many=lambda staged: None)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["highway_mnist/1", "pointer_sort/1"]
    assert all(export.matching_export(n, base=tmp_path) == p for n, p in zip(("highway_mnist", "pointer_sort"), paths))


def test_isolated_check_cannot_import_the_project(exported):
    plain = subprocess.run([sys.executable, "-I", "-c", "import zoo"], cwd=exported)
    assert plain.returncode == 0  # the project is installed: only the blocker stops it
    source = verify.CHECK_SCRIPT.read_text()
    blocker = source[: source.index("import numpy")]
    result = subprocess.run([sys.executable, "-I", "-c", blocker + "\nimport zoo"],
                            capture_output=True, text=True, cwd=exported)
    assert result.returncode != 0 and "project code is blocked" in result.stderr


def test_export_of_a_training_run_uses_its_configuration(tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    train.train("highway_mnist", "smoke", tiny_data_dir, run, epochs=1,
                cache_dir=tmp_path / "tfds", verbose=0)
    path = export.export("highway_mnist", weights=run / "final.weights.h5", base=tmp_path / "e")
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["training_command"].endswith("--preset smoke --seed 0 --epochs 1")
    verify.run_isolated(path)


def test_exported_pretrained_model_error_on_held_out_digits(exported, data_dir):
    result = verify.evaluate_export(exported, data_dir=data_dir, split="validation")
    assert result["examples"] == 1000
    assert result["error"] <= 0.02, result


def test_pretrained_weights_match_the_registry():
    from zoo import registry

    assert registry.sha256_of(ENTRY.weights_path) == ENTRY.weights_sha256
    assert ENTRY.weights_path.stat().st_size <= 5 * 1024 * 1024


def test_st_cnn_beats_the_cnn_on_held_out_rts_digits(data_dir, zoo_exports):
    errors = {}
    for name in ("st_cnn_rts", "cnn_rts"):
        errors[name] = verify.evaluate_export(zoo_exports.get(name), name, data_dir=data_dir)["error"]
    assert errors["st_cnn_rts"] <= 0.015 and errors["st_cnn_rts"] < errors["cnn_rts"], errors


def test_a_version_written_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    taken = tmp_path / "highway_mnist" / "1"
    taken.mkdir(parents=True)
    (taken / "saved_model.pb").write_bytes(b"someone else's")
    monkeypatch.setattr(export, "versions", lambda model_dir: [])  # a stale listing
    path = export.export("highway_mnist", base=tmp_path)
    assert path.name == "2" and (taken / "saved_model.pb").read_bytes() == b"someone else's"
