"""TF Serving's gRPC API for `specialnets serve`, and the client of
`specialnets predict --server grpc://HOST:PORT`.

`PredictionService` (`Predict`, `GetModelMetadata`) and `ModelService`
(`GetModelStatus`), answered from the REST server's `ModelStore`: both ports
serve the same loaded exports. Clients need only grpcio and
tensorflow-serving-api's stock stubs. Errors carry TF Serving's status codes:
INVALID_ARGUMENT for a bad request (with the REST server's message),
NOT_FOUND for an unknown model or version.
"""

import concurrent.futures
import functools

import grpc
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

from exports import rest

MAX_WORKERS = 8
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.AVAILABLE


def _rpc(method):
    """Answers `NotFound` with NOT_FOUND and `BadRequest` with INVALID_ARGUMENT."""

    @functools.wraps(method)
    def call(self, request, context):
        try:
            return method(self, request)
        except rest.NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except rest.BadRequest as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))

    return call


def _dtype_text(enum):
    name = types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else str(enum)
    try:
        return f"{tf.dtypes.as_dtype(enum).name} ({name})"
    except TypeError:
        return name


def decode(name, proto, spec):
    """The array of TensorProto `proto` for input `name`, checked against
    `spec` = (dtype name, shape with None for dynamic dimensions)."""
    dtype, shape = spec
    want = tf.dtypes.as_dtype(dtype).as_datatype_enum
    if proto.dtype != want:
        raise rest.BadRequest(
            f"Input {name!r} expects {_dtype_text(want)}; received {_dtype_text(proto.dtype)}."
        )
    if proto.tensor_shape.unknown_rank:
        raise rest.BadRequest(
            f"Input {name!r} has an unknown rank; the signature expects "
            f"{rest.shape_text(shape)} (-1: any size)."
        )
    rest.check_shape(name, [d.size for d in proto.tensor_shape.dim], shape)
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError) as error:
        raise rest.BadRequest(f"Input {name!r} does not hold its shape's values: {error}.") from None


class _Servicer:
    def __init__(self, store):
        self.store = store

    def _served(self, model_spec):
        if model_spec.WhichOneof("version_choice") == "version_label":
            raise rest.BadRequest(
                f"Unrecognized servable version label: {model_spec.version_label!r}; this "
                "server serves version numbers (model_spec.version) only."
            )
        version = str(model_spec.version.value) if model_spec.HasField("version") else None
        return self.store.get(model_spec.name, version)


class PredictionService(_Servicer, prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata`; Classify, Regress and MultiInference
    answer UNIMPLEMENTED, as for a model with only predict signatures."""

    @_rpc
    def Predict(self, request):
        served = self._served(request.model_spec)
        signature_name = request.model_spec.signature_name or "serving_default"
        served.signature(signature_name)
        specs = served.input_specs[signature_name]
        if set(request.inputs) != set(specs):
            raise rest.BadRequest(
                f"The request's inputs are {sorted(request.inputs)}; signature "
                f"{signature_name!r} expects {sorted(specs)}."
            )
        arrays = {n: decode(n, request.inputs[n], specs[n]) for n in specs}
        batches = {n: a.shape[0] for n, a in arrays.items() if a.ndim}
        if len(set(batches.values())) > 1:
            raise rest.BadRequest(f"Inputs have different batch sizes: {batches}.")
        names = list(served.signature_defs[signature_name].outputs)
        wanted = list(dict.fromkeys(request.output_filter)) or names
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise rest.BadRequest(
                f"output_filter names {unknown}, not outputs of signature {signature_name!r}; "
                f"its outputs are {sorted(names)}."
            )
        outputs = served.run(signature_name, arrays)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = served.name
        response.model_spec.version.value = served.version
        response.model_spec.signature_name = signature_name
        for name in wanted:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    @_rpc
    def GetModelMetadata(self, request):
        fields = list(request.metadata_field)
        if not fields:
            raise rest.BadRequest(
                "GetModelMetadataRequest must specify at least one metadata_field: "
                "'signature_def'."
            )
        for field in fields:
            if field != "signature_def":
                raise rest.BadRequest(
                    f"Metadata field {field!r} is not supported; the one served is 'signature_def'."
                )
        served = self._served(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = served.name
        response.model_spec.version.value = served.version
        signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for key, value in served.signature_defs.items():
            signature_defs.signature_def[key].CopyFrom(value)
        response.metadata["signature_def"].Pack(signature_defs)
        return response


class ModelService(_Servicer, model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus`: every version on disk (or the one asked) is AVAILABLE."""

    @_rpc
    def GetModelStatus(self, request):
        served = self._served(request.model_spec)
        listed = ([served.version] if request.model_spec.HasField("version")
                  else self.store.versions(served.name))
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in listed:
            response.model_version_status.add(
                version=version, state=AVAILABLE,
                status=status_pb2.StatusProto(error_code=0, error_message=""),
            )
        return response


def start(store, host="127.0.0.1", port=8500, max_request_bytes=rest.MAX_REQUEST_BYTES):
    """Serves `store` over gRPC on `port` (0 picks a free port) from a thread
    pool; returns (the started grpc.Server, its port)."""
    grpc_server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="grpc"),
        options=[
            ("grpc.so_reuseport", 0),  # else a second server silently shares a busy port
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.max_send_message_length", -1),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(store), grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(store), grpc_server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = grpc_server.add_insecure_port(address)
    except RuntimeError:  # grpcio raises where older versions returned 0
        bound = 0
    if not bound:
        raise OSError(f"Cannot serve gRPC on {address}: the port is in use or the address "
                      "is not this machine's.")
    grpc_server.start()
    return grpc_server, bound


def predict(target, name, body, version=None, timeout=120):
    """Sends the REST predict `body` (a parsed JSON request) to the gRPC server
    at `target` ("HOST:PORT") with the stock stubs; returns the answer a REST
    server would give. Raises `grpc.RpcError`, or `rest.BadRequest` for a body
    that does not fit the signature the server reports."""
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    with grpc.insecure_channel(target, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        spec = model_pb2.ModelSpec(name=name,
                                   signature_name=body.get("signature_name") or "serving_default")
        if version is not None:
            spec.version.value = int(version)
        metadata = stub.GetModelMetadata(get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=spec, metadata_field=["signature_def"]), timeout=timeout)
        signature_defs = get_model_metadata_pb2.SignatureDefMap()
        metadata.metadata["signature_def"].Unpack(signature_defs)
        if spec.signature_name not in signature_defs.signature_def:
            raise rest.BadRequest(
                f"Serving signature name: {spec.signature_name!r} not found; this model has "
                f"{sorted(signature_defs.signature_def)}."
            )
        signature = signature_defs.signature_def[spec.signature_name]
        specs = {
            key: (tf.dtypes.as_dtype(info.dtype).name,
                  tuple(None if d.size == -1 else d.size for d in info.tensor_shape.dim))
            for key, info in signature.inputs.items()
        }
        fmt, arrays = rest.request_inputs(body, specs)
        request = predict_pb2.PredictRequest(model_spec=spec)
        for key, array in arrays.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(array))
        response = stub.Predict(request, timeout=timeout)
    return rest.response_body(fmt, {k: tf.make_ndarray(response.outputs[k])
                                    for k in signature.outputs if k in response.outputs})
