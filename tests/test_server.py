"""The local server against requests shaped as TF Serving's REST clients send them."""

import base64
import concurrent.futures
import json

import numpy as np
import pytest
from starlette.testclient import TestClient

import zoo
from exports import demo, export, rest, server

ENTRY = zoo.get("highway_mnist")
IMAGES = ENTRY.example_inputs()["image"]
LABELS = np.load(zoo.registry.EXAMPLES_DIR / "mnist_digits.npz")["label"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    export.export("highway_mnist", base=base)
    export.export("highway_mnist", base=base)  # versions 1 and 2
    return base


@pytest.fixture(scope="module")
def http(base):
    with TestClient(server.create_app(base, max_request_bytes=2_000_000)) as client:
        yield client


def predict(http, body, path="/v1/models/highway_mnist:predict"):
    return http.post(path, content=json.dumps(body))


def test_model_status_and_versions(http):
    answer = http.get("/v1/models/highway_mnist").json()
    assert [s["version"] for s in answer["model_version_status"]] == ["1", "2"]
    assert all(s["state"] == "AVAILABLE" for s in answer["model_version_status"])
    answer = http.get("/v1/models/highway_mnist/versions/1").json()
    assert answer["model_version_status"][0]["status"]["error_code"] == "OK"


def test_metadata_is_the_signature_def(http):
    answer = http.get("/v1/models/highway_mnist/metadata").json()
    assert answer["model_spec"] == {"name": "highway_mnist", "signature_name": "", "version": "2"}
    signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["image"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in signature["inputs"]["image"]["tensor_shape"]["dim"]] == ["-1", "28", "28", "1"]
    assert signature["outputs"]["class_id"]["dtype"] == "DT_INT64"
    assert signature["method_name"] == "tensorflow/serving/predict"


def test_row_format(http):
    response = predict(http, {"instances": IMAGES[:3].tolist()})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 3 and set(predictions[0]) == {"probabilities", "class_id"}
    assert [p["class_id"] for p in predictions] == LABELS[:3].tolist()
    assert abs(sum(predictions[0]["probabilities"]) - 1) < 1e-5


def test_row_format_with_named_instances_and_signature_name(http):
    body = {"signature_name": "serving_default",
            "instances": [{"image": image} for image in IMAGES[:2].tolist()]}
    response = predict(http, body, "/v1/models/highway_mnist/versions/1:predict")
    assert response.status_code == 200
    assert [p["class_id"] for p in response.json()["predictions"]] == LABELS[:2].tolist()


def test_columnar_format(http):
    for inputs in ({"image": IMAGES[:4].tolist()}, IMAGES[:4].tolist()):
        response = predict(http, {"inputs": inputs})
        assert response.status_code == 200
        outputs = response.json()["outputs"]
        assert outputs["class_id"] == LABELS[:4].tolist()
        assert np.array(outputs["probabilities"]).shape == (4, 10)


def test_versions_answer_alike(http):
    answers = [predict(http, {"inputs": IMAGES[:2].tolist()}, f"/v1/models/highway_mnist/versions/{v}:predict").json()
               for v in (1, 2)]
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    "body,message",
    [
        ("{not json", "Malformed JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"instances": [[NaN]]}', "Non-finite number NaN"),
        ('{"inputs": [[[[1e999]]]]}', "Number 1e999 in the request overflows to a non-finite number"),
        ('{"inputs": [-Infinity]}', "Non-finite number -Infinity"),
        ("{}", "exactly one of 'instances' and 'inputs'"),
        ('{"instances": [], "inputs": []}', "exactly one of 'instances' and 'inputs'"),
        ('{"instances": []}', "non-empty list"),
        ('{"inputs": {"picture": [[0]]}}', "'inputs' has keys ['picture']; expected ['image']"),
        ('{"instances": [{"image": 1, "extra": 2}]}', "Instance 0 has keys"),
        ('{"inputs": [[1, 2, 3]]}', "Input 'image' has shape [1, 3]; the signature expects [-1, 28, 28, 1]"),
        ('{"inputs": [[[["a"]]]]}', "Input 'image' expects float32 numbers; received strings"),
        ('{"inputs": [[[[true]]]]}', "received booleans"),
        ('{"inputs": [[[[1]]], [[[1], [2]]]]}', "ragged"),
        ('{"instances": [[1]], "signature_name": "other"}', "'other' not found"),
        ('{"instances": [[1]], "extra": 1}', "Unknown keys ['extra']"),
    ],
)
def test_bad_requests_get_400_and_a_message(http, body, message):
    response = http.post("/v1/models/highway_mnist:predict", content=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert predict(http, {"inputs": IMAGES[:1].tolist()}).status_code == 200  # still serving


def test_unknown_model_or_version_is_404(http):
    for path in ("/v1/models/nothing:predict", "/v1/models/highway_mnist/versions/9:predict",
                 "/v1/models/highway_mnist/versions/x:predict"):
        response = predict(http, {"inputs": IMAGES[:1].tolist()}, path)
        assert response.status_code == 404 and "Servable not found" in response.json()["error"]
    assert http.get("/v1/models/nothing").status_code == 404
    assert http.get("/v1/elsewhere").status_code == 404


def test_wrong_methods_and_actions(http):
    assert http.get("/v1/models/highway_mnist:predict").status_code == 405
    assert http.post("/v1/models/highway_mnist/metadata").status_code == 405
    response = http.post("/v1/models/highway_mnist:classify", content="{}")
    assert response.status_code == 400 and "not supported" in response.json()["error"]


def test_request_size_limit(http):
    body = {"inputs": np.zeros((600, 28, 28, 1)).tolist()}  # ~2.4 MB of JSON
    response = predict(http, body)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert predict(http, {"inputs": IMAGES[:1].tolist()}).status_code == 200


def test_b64_strings_are_decoded():
    specs = {"text": ("string", (None,))}
    _, arrays = rest.request_inputs(
        {"instances": [{"b64": base64.b64encode(b"\xff\x00").decode()}, "plain"]}, specs)
    assert arrays["text"].tolist() == [b"\xff\x00", b"plain"]
    with pytest.raises(rest.BadRequest, match="Invalid base64"):
        rest.request_inputs({"instances": [{"b64": "%%%"}]}, specs)


def test_multi_input_row_format_needs_objects():
    specs = {"a": ("float32", (None,)), "b": ("int64", (None, 2))}
    fmt, arrays = rest.request_inputs({"instances": [{"a": 1.5, "b": [1, 2]}]}, specs)
    assert fmt == "row" and arrays["b"].dtype == np.int64
    with pytest.raises(rest.BadRequest, match="must be an object with those keys"):
        rest.request_inputs({"instances": [1.5]}, specs)
    with pytest.raises(rest.BadRequest, match="expects int64 numbers"):
        rest.request_inputs({"inputs": {"a": [1.0], "b": [[1.5, 2]]}}, specs)
    with pytest.raises(rest.BadRequest, match="different batch sizes"):
        rest.request_inputs({"inputs": {"a": [1.0, 2.0], "b": [[1, 2]]}}, specs)


def test_real_server_process_concurrent_requests(base, tmp_path, capsys):
    from specialnets import cli

    process, url = demo.start_server(base)
    try:
        request = tmp_path / "request.json"
        request.write_text(json.dumps({"instances": IMAGES[:2].tolist()}))
        cli.main(["predict", "highway_mnist", "--input", str(request), "--server", url,
                  "--version", "1"])
        answer = json.loads(capsys.readouterr().out)
        assert [p["class_id"] for p in answer["predictions"]] == LABELS[:2].tolist()
        body = {"instances": IMAGES.tolist()}
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            bad = pool.submit(demo.httpx.post, f"{url}/v1/models/highway_mnist:predict", content="{")
            answers = list(pool.map(lambda _: demo.query(url, "highway_mnist", body, repeats=2)[0],
                                    range(16)))
        assert bad.result().status_code == 400
        assert all([p["class_id"] for p in a["predictions"]] == LABELS.tolist() for a in answers)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_listening_socket_disables_nagle():
    import socket

    sock = server.bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


def test_the_main_jobs_table_gives_bits_per_sample_as_bits_not_an_error_percentage():
    card = {"metrics": {"held_out": {"split": "validation", "examples": 300, "error": 4.4766,
                                     "bits_per_sample": 4.4766}}}
    assert demo.card_metric(card) == "4.477 bits per sample (validation, 300)"
