"""Checks an export in a process that cannot import this repository.

Run as a script (`python -I isolated_check.py EXPORT_DIR --expect JSON`, or
`--jobs JSON_FILE` for several exports in one process), never imported: it blocks imports of the project's packages before loading
anything, then
  - rejects Python-only ops (PyFunc, EagerPyFunc, PyFuncStateless),
  - loads the SavedModel with `tf.saved_model.load` and checks the
    `serving_default` signature against the expected names, dtypes, shapes,
  - replays `assets.extra/tf_serving_warmup_requests` as TF Serving does,
  - optionally runs the inputs of an .npz file and saves the outputs,
  - optionally loads it with `keras.layers.TFSMLayer` and compares outputs.
It prints one JSON report on its last line and exits 1 on any failure.
"""

import argparse
import importlib.abc
import json
import sys

PROJECT_PACKAGES = {"custom_layers", "zoo", "training", "exports", "specialnets"}
PYTHON_OPS = {"PyFunc", "EagerPyFunc", "PyFuncStateless"}


class _BlockProject(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in PROJECT_PACKAGES:
            raise ImportError(f"{fullname}: project code is blocked in this check")
        return None


sys.meta_path.insert(0, _BlockProject())

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def op_types(export_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(f"{export_dir}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def signature_spec(signature):
    _, inputs = signature.structured_input_signature
    describe = lambda spec: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
    return (
        {k: describe(v) for k, v in inputs.items()},
        {k: describe(v) for k, v in signature.structured_outputs.items()},
    )


def check_signature(signature, expected, problems):
    inputs, outputs = signature_spec(signature)
    for kind, found in (("inputs", inputs), ("outputs", outputs)):
        want = {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in expected[kind].items()}
        if found != want:
            problems.append(f"signature {kind} are {found}, expected {want}")
        for key, spec in found.items():
            if spec["shape"] and spec["shape"][0] is not None:
                problems.append(f"{kind} {key!r} has a fixed batch size {spec['shape'][0]}")


def replay_warmup(export_dir, signature, problems):
    from tensorflow_serving.apis import prediction_log_pb2

    path = f"{export_dir}/assets.extra/tf_serving_warmup_requests"
    if not tf.io.gfile.exists(path):
        problems.append("assets.extra/tf_serving_warmup_requests is missing")
        return 0
    count = 0
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        if request.model_spec.signature_name not in ("", "serving_default"):
            problems.append(f"warmup uses signature {request.model_spec.signature_name!r}")
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        try:
            outputs = signature(**inputs)
        except Exception as error:  # report, as TF Serving would refuse to load
            problems.append(f"warmup request {count} failed: {error}")
            continue
        batch = next(iter(inputs.values())).shape[0]
        for key, value in outputs.items():
            if value.shape[0] != batch:
                problems.append(f"warmup {count}: output {key!r} has batch {value.shape[0]}")
        count += 1
    if count == 0 and not problems:
        problems.append("the warmup file holds no request")
    return count


def check(export_dir, expect=None, inputs=None, outputs=None, keras_check=False):
    """The report of one export (see the module's docstring)."""
    problems = []
    python_ops = sorted(op_types(export_dir) & PYTHON_OPS)
    if python_ops:
        problems.append(f"Python-only ops in the graph: {python_ops}")
    loaded = tf.saved_model.load(export_dir)
    if "serving_default" not in loaded.signatures:
        problems.append(f"no serving_default signature: {list(loaded.signatures)}")
        return {"ok": False, "problems": problems}
    signature = loaded.signatures["serving_default"]
    if expect:
        check_signature(signature, expect, problems)
    warmups = replay_warmup(export_dir, signature, problems)

    report = {"warmup_requests": warmups}
    if inputs:
        with np.load(inputs) as data:
            arrays = {k: data[k] for k in data.files}
        batch = 512
        count = len(next(iter(arrays.values())))
        texts = [v for v in arrays.values() if v.dtype.kind == "U" and v.ndim == 1]
        # Rows of text run in order of length, so that a chunk pads them little.
        lengths = sum(np.char.str_len(v) for v in texts) if texts else np.zeros(count)
        order = np.argsort(lengths, kind="stable")
        chunks = [
            signature(**{k: tf.constant(v[order[i : i + batch]]) for k, v in arrays.items()})
            for i in range(0, count, batch)
        ]
        back = np.argsort(order)
        results = {k: np.concatenate([c[k].numpy() for c in chunks])[back] for k in chunks[0]}
        if outputs:  # strings as unicode: object arrays would need pickle to load
            np.savez(outputs, **{
                k: np.char.decode(v.astype(bytes), "utf-8") if v.dtype == object else v
                for k, v in results.items()})
        if keras_check:
            import keras

            layer = keras.layers.TFSMLayer(export_dir, call_endpoint="serving_default")
            first, *rest = [tf.constant(v[:batch]) for v in arrays.values()]
            via_keras = layer(first, **dict(zip(list(arrays)[1:], rest)))
            for key, value in via_keras.items():
                if not np.allclose(np.asarray(value), results[key][:batch], atol=1e-5):
                    problems.append(f"TFSMLayer output {key!r} differs")
            report["tfsm_layer"] = True
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES)
    if leaked:
        problems.append(f"project modules were imported: {leaked}")
    report.update(ok=not problems, problems=problems)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", nargs="?")
    parser.add_argument("--expect", help="expected signature as JSON")
    parser.add_argument("--inputs", help="an .npz of inputs to run")
    parser.add_argument("--outputs", help="where to save the outputs (.npz)")
    parser.add_argument("--keras", action="store_true", help="also load with TFSMLayer")
    parser.add_argument("--jobs", help="a JSON list of checks instead, each with the keys "
                        "export_dir, expect, inputs, outputs, keras; prints a list of reports")
    args = parser.parse_args()
    if args.jobs:
        with open(args.jobs) as f:
            jobs = json.load(f)
        reports = [check(job["export_dir"], job.get("expect"), job.get("inputs"), job.get("outputs"),
                         job.get("keras", False)) for job in jobs]
        print(json.dumps(reports))
        return 0 if all(r["ok"] for r in reports) else 1
    if not args.export_dir:
        parser.error("give EXPORT_DIR or --jobs")
    report = check(args.export_dir, args.expect and json.loads(args.expect), args.inputs, args.outputs,
                   args.keras)
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
