"""`specialnets serve`'s gRPC port, called with TF Serving's stock stubs as a
TF Serving user's code would, against the same server's REST port."""

import concurrent.futures
import json
import os
import subprocess
import sys
import time

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import zoo
from exports import export, grpc_server, server

IMAGES = zoo.get("highway_mnist").example_inputs()["image"]
LABELS = np.load(zoo.registry.EXAMPLES_DIR / "mnist_digits.npz")["label"]
MODEL = "highway_mnist"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    export.export(MODEL, base=base)
    export.export(MODEL, base=base)  # versions 1 and 2
    return base


@pytest.fixture(scope="module")
def served(base):
    """(REST URL, gRPC target, the two announcement lines) of a real server."""
    process = subprocess.Popen(
        [sys.executable, "-m", "specialnets", "serve", "--base", str(base),
         "--port", "0", "--grpc-port", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [process.stdout.readline().strip(), process.stdout.readline().strip()]
        assert lines[1], f"the server did not announce two ports: {lines}"
        url, target = lines[0].rsplit(" ", 1)[-1], lines[1].rsplit("grpc://", 1)[-1]
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/models/{MODEL}", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the REST port did not answer"
                time.sleep(0.2)
        yield url, target, lines
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def channel(served):
    with grpc.insecure_channel(served[1]) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def predict_request(images, name=MODEL, version=None, signature_name="serving_default",
                    output_filter=()):
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(images))
    return request


def test_both_ports_are_announced_alike(served, base):
    url, target, lines = served
    prefix = f"Serving 1 model(s) ['{MODEL}'] from {base} at "
    assert lines[0] == f"{prefix}{url}" and url.startswith("http://127.0.0.1:")
    assert lines[1] == f"{prefix}grpc://{target}" and target.startswith("127.0.0.1:")
    assert target.split(":")[1] not in (url.rsplit(":", 1)[1], "8500", "0")


def test_predict_answers_as_rest_does(served, stub):
    response = stub.Predict(predict_request(IMAGES[:5]), timeout=30)
    assert response.model_spec.name == MODEL and response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"
    assert set(response.outputs) == {"probabilities", "class_id"}
    probabilities = tf.make_ndarray(response.outputs["probabilities"])
    class_id = tf.make_ndarray(response.outputs["class_id"])
    assert probabilities.dtype == np.float32 and probabilities.shape == (5, 10)
    assert class_id.dtype == np.int64 and class_id.tolist() == LABELS[:5].tolist()
    rest = httpx.post(f"{served[0]}/v1/models/{MODEL}:predict",
                      json={"inputs": IMAGES[:5].tolist()}, timeout=30).json()["outputs"]
    assert rest["class_id"] == class_id.tolist()
    # REST writes float32 as the shortest text that reads back as the same float32.
    np.testing.assert_array_equal(np.float32(rest["probabilities"]), probabilities)


def test_a_version_by_number(stub):
    answers = {}
    for version in (1, 2):
        response = stub.Predict(predict_request(IMAGES[:3], version=version), timeout=30)
        assert response.model_spec.version.value == version
        answers[version] = tf.make_ndarray(response.outputs["probabilities"])
    np.testing.assert_array_equal(answers[1], answers[2])


def test_dynamic_batch_and_concurrent_calls(stub):
    def call(size):
        images = np.resize(IMAGES, (size, 28, 28, 1))
        response = stub.Predict(predict_request(images), timeout=60)
        return tf.make_ndarray(response.outputs["class_id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, [1, 13, 64] * 4))
    for size, class_id in zip([1, 13, 64] * 4, answers):
        assert class_id.tolist() == np.resize(LABELS, size).tolist()


def test_output_filter(stub):
    response = stub.Predict(predict_request(IMAGES[:2], output_filter=["class_id"]), timeout=30)
    assert list(response.outputs) == ["class_id"]


def test_metadata_is_the_signature_def_rest_reports(served, stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = MODEL
    response = stub.GetModelMetadata(request, timeout=30)
    assert response.model_spec.name == MODEL and response.model_spec.version.value == 2
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_defs)
    signature = signature_defs.signature_def["serving_default"]
    assert signature.method_name == "tensorflow/serving/predict"
    assert signature.inputs["image"].dtype == tf.float32.as_datatype_enum
    assert [d.size for d in signature.inputs["image"].tensor_shape.dim] == [-1, 28, 28, 1]
    assert signature.outputs["class_id"].dtype == tf.int64.as_datatype_enum
    rest = httpx.get(f"{served[0]}/v1/models/{MODEL}/metadata", timeout=30).json()
    assert json_format.MessageToDict(signature_defs, preserving_proto_field_name=True) == \
        rest["metadata"]["signature_def"]


def test_model_status(channel):
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = MODEL
    statuses = stub.GetModelStatus(request, timeout=30).model_version_status
    assert [s.version for s in statuses] == [1, 2]
    assert all(s.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE for s in statuses)
    assert all(s.status.error_code == 0 and not s.status.error_message for s in statuses)
    request.model_spec.version.value = 1
    assert [s.version for s in stub.GetModelStatus(request, timeout=30).model_version_status] == [1]
    request.model_spec.name = "nothing"
    with pytest.raises(grpc.RpcError) as error:
        stub.GetModelStatus(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def _renamed(request):
    request.inputs["picture"].CopyFrom(request.inputs.pop("image"))


def _label(request):
    request.model_spec.version_label = "stable"


def _short_content(request):
    request.inputs["image"].tensor_content = np.zeros(3, np.float32).tobytes()


INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("change,code,message", [
    (_renamed, INVALID, "The request's inputs are ['picture']; signature 'serving_default' "
                        "expects ['image']."),
    (lambda r: r.inputs.clear(), INVALID, "The request's inputs are []"),
    (lambda r: r.inputs["image"].CopyFrom(tf.make_tensor_proto(IMAGES[:1].astype(np.float64))),
     INVALID, "Input 'image' expects float32 (DT_FLOAT); received float64 (DT_DOUBLE)."),
    (lambda r: r.inputs["image"].CopyFrom(tf.make_tensor_proto(IMAGES[:1, :, :, 0])),
     INVALID, "Input 'image' has shape [1, 28, 28]; the signature expects [-1, 28, 28, 1]"),
    (lambda r: r.inputs["image"].CopyFrom(tf.make_tensor_proto(IMAGES[:1, 1:])),
     INVALID, "Input 'image' has shape [1, 27, 28, 1]"),
    (_short_content, INVALID, "Input 'image' does not hold its shape's values"),
    (lambda r: setattr(r.model_spec, "signature_name", "other"), INVALID, "'other' not found"),
    (lambda r: r.output_filter.append("logits"), INVALID,
     "output_filter names ['logits'], not outputs of signature 'serving_default'"),
    (_label, INVALID, "Unrecognized servable version label: 'stable'"),
    (lambda r: setattr(r.model_spec, "name", "nothing"), NOT_FOUND,
     "Servable not found for request: Latest(nothing)"),
    (lambda r: setattr(r.model_spec, "name", f"../{MODEL}"), NOT_FOUND, "Servable not found"),
    (lambda r: r.model_spec.version.__setattr__("value", 9), NOT_FOUND,
     f"Servable not found for request: Specific({MODEL}, 9)"),
], ids=["renamed input", "no input", "float64", "rank 3", "27 rows", "short tensor_content",
        "unknown signature", "unknown output_filter", "version label", "unknown model",
        "a path for a name", "unknown version"])
def test_bad_requests_get_tf_serving_codes(stub, change, code, message):
    request = predict_request(IMAGES[:1])
    change(request)
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=30)
    assert error.value.code() == code and message in error.value.details(), error.value.details()
    assert stub.Predict(predict_request(IMAGES[:1]), timeout=30).outputs  # still serving


def test_metadata_fields_are_checked(stub):
    for fields, message in (([], "at least one metadata_field"),
                            (["signature_def", "other"], "Metadata field 'other'")):
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=fields)
        request.model_spec.name = MODEL
        with pytest.raises(grpc.RpcError) as error:
            stub.GetModelMetadata(request, timeout=30)
        assert error.value.code() == INVALID and message in error.value.details()


def test_cli_predict_over_grpc_matches_rest(served, tmp_path, capsys):
    from specialnets import cli

    url, target, _ = served
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"instances": IMAGES[:3].tolist()}))
    answers = []
    for address in (f"grpc://{target}", url):
        cli.main(["predict", MODEL, "--input", str(request), "--server", address, "--version", "1"])
        answers.append(json.loads(capsys.readouterr().out))
    assert [p["class_id"] for p in answers[0]["predictions"]] == LABELS[:3].tolist()
    assert answers[0] == answers[1]
    with pytest.raises(SystemExit) as exit:
        cli.main(["predict", MODEL, "--input", str(request), "--server", f"grpc://{target}",
                  "--version", "9"])
    assert exit.value.code == 1 and "NOT_FOUND: Servable not found" in capsys.readouterr().out


@pytest.mark.parametrize("flags,grpc_port", [
    ([], 8500), (["--port", "0"], 0), (["--grpc-port", "0"], 0),
    (["--port", "0", "--grpc-port", "8600"], 8600), (["--grpc-port", "-1"], None),
])
def test_serve_grpc_port_flag(monkeypatch, flags, grpc_port):
    from specialnets import cli

    calls = []
    monkeypatch.setattr(server, "serve", lambda *args, **kwargs: calls.append(kwargs))
    cli.main(["serve", *flags])
    assert calls == [{"grpc_port": grpc_port}]


def test_a_busy_grpc_port_is_an_error(base):
    store = server.ModelStore(base)
    first, port = grpc_server.start(store, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match=f"Cannot serve gRPC on 127.0.0.1:{port}"):
            grpc_server.start(store, "127.0.0.1", port)
    finally:
        first.stop(grace=None)
