"""Exported SavedModel forward vs `model.predict_on_batch` vs one REST and one
gRPC round trip to `specialnets serve`.

    python benchmarks/serving_latency.py [--model highway_mnist] [--repeats 30]

Measures all paths in one run, interleaved, on the same inputs, and prints
medians and ratios to the SavedModel forward (this machine is shared and
noisy: compare ratios, not milliseconds across runs). A round trip runs
from the client's arrays to the client's decoded answer: REST with httpx
(`json=`, `response.json()`), gRPC with TF Serving's stock stubs
(`tf.make_tensor_proto`, `Predict`, `tf.make_ndarray`), each on a kept-open
connection.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import grpc  # noqa: E402
import httpx  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

import zoo  # noqa: E402
from exports import demo, export  # noqa: E402


def batch_of(entry, size):
    examples = entry.example_inputs()
    return {k: np.resize(v, (size,) + v.shape[1:]) for k, v in examples.items()}


def grpc_round_trip(stub, name, inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    response = stub.Predict(request, timeout=120)
    return {key: tf.make_ndarray(value) for key, value in response.outputs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="highway_mnist")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    entry = zoo.get(args.model)
    with tempfile.TemporaryDirectory() as base:
        path = export.export(args.model, base=base)
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        model = entry.load_pretrained()
        process, url = demo.start_server(base)  # --port 0: gRPC on a free port too
        target = process.stdout.readline().strip().rsplit("grpc://", 1)[-1]
        client = httpx.Client(timeout=120)
        channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            print(f"{args.model}, {args.repeats} repeats, medians in ms "
                  f"(ratio to the SavedModel forward)")
            for size in args.batches:
                inputs = batch_of(entry, size)
                tensors = {k: tf.constant(v) for k, v in inputs.items()}
                body = {"inputs": {k: v.tolist() for k, v in inputs.items()}}
                paths = {
                    "SavedModel forward": lambda: signature(**tensors),
                    "Keras predict_on_batch": lambda: model.predict_on_batch(inputs),
                    "REST round trip": lambda: client.post(
                        f"{url}/v1/models/{args.model}:predict", json=body
                    ).raise_for_status().json(),
                    "gRPC round trip": lambda: grpc_round_trip(stub, args.model, inputs),
                }
                timings = {name: [] for name in paths}
                for run in paths.values():
                    run()  # warm up: tracing, first allocation, connection
                for _ in range(args.repeats):
                    for name, run in paths.items():
                        start = time.perf_counter()
                        run()
                        timings[name].append((time.perf_counter() - start) * 1000)
                medians = {name: statistics.median(t) for name, t in timings.items()}
                base_ms = medians["SavedModel forward"]
                for name, ms in medians.items():
                    print(f"  batch {size:4d}  {name:24s} {ms:9.2f} ms  x{ms / base_ms:6.2f}")
        finally:
            client.close()
            channel.close()
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
