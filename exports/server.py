"""A local server that speaks TF Serving's REST API: `specialnets serve`.

Serves every model under a base directory laid out as TF Serving reads it
(`<base>/<name>/<version>/saved_model.pb`): the latest version by default,
any version by URL. A Starlette app run by uvicorn; model calls run in a
thread pool, so requests are served concurrently. It needs no project code
to run a model: only `tf.saved_model.load`.
"""

import asyncio
import gc
import re
import socket
import threading
from pathlib import Path

import tensorflow as tf
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tensorflow.core.protobuf import saved_model_pb2

from exports import rest

MAX_REQUEST_BYTES = rest.MAX_REQUEST_BYTES
URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
    r"(?P<action>/metadata|:predict|:classify|:regress)?/?$"
)


NotFound = rest.NotFound


class ServedVersion:
    """One loaded SavedModel version and its `serving_default` signature."""

    def __init__(self, name, version, path):
        self.name, self.version, self.path = name, version, Path(path)
        self.loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self.loaded.signatures)
        self.input_specs = {}
        for key, signature in self.signatures.items():
            _, specs = signature.structured_input_signature
            self.input_specs[key] = {
                k: (s.dtype.name, tuple(s.shape.as_list())) for k, s in specs.items()
            }
        saved_model = saved_model_pb2.SavedModel()
        saved_model.ParseFromString((self.path / "saved_model.pb").read_bytes())
        self.signature_defs = saved_model.meta_graphs[0].signature_def

    def metadata(self):
        signature_def = {
            key: json_format.MessageToDict(value, preserving_proto_field_name=True)
            for key, value in self.signature_defs.items()
        }
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
            "metadata": {"signature_def": {"signature_def": signature_def}},
        }

    def signature(self, signature_name):
        if signature_name not in self.signatures:
            raise rest.BadRequest(
                f"Serving signature name: {signature_name!r} not found; this model has "
                f"{sorted(self.signatures)}."
            )
        return self.signatures[signature_name]

    def run(self, signature_name, arrays):
        """Runs a signature on checked arrays; returns its outputs as arrays."""
        signature = self.signature(signature_name)
        try:
            outputs = signature(**{k: tf.constant(v) for k, v in arrays.items()})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            message = getattr(error, "message", str(error)).splitlines()[0]
            raise rest.BadRequest(f"The model rejected the request: {message}") from None
        return {k: v.numpy() for k, v in outputs.items()}

    def predict(self, body):
        """Answers a REST predict `body` (a parsed JSON object)."""
        signature_name = body.get("signature_name") or "serving_default"
        self.signature(signature_name)
        fmt, arrays = rest.request_inputs(body, self.input_specs[signature_name])
        return rest.response_body(fmt, self.run(signature_name, arrays))


class ModelStore:
    """Finds models and versions under `base`; loads each version once."""

    def __init__(self, base):
        self.base = Path(base)
        self._loaded = {}
        self._lock = threading.Lock()

    def versions(self, name):
        model_dir = self.base / name
        if not model_dir.is_dir():
            return []
        return sorted(
            int(p.name) for p in model_dir.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").exists()
        )

    def names(self):
        if not self.base.is_dir():
            return []
        return sorted(p.name for p in self.base.iterdir() if p.is_dir() and self.versions(p.name))

    def get(self, name, version=None):
        """The loaded `version` (digits; default the latest) of model `name`."""
        # gRPC names are free text: only a directory right under `base` is a model.
        available = [] if name in ("", ".", "..") or "/" in name else self.versions(name)
        if not available:
            raise NotFound(f"Servable not found for request: Latest({name})")
        if version is None:
            version = available[-1]
        elif not version.isdigit() or int(version) not in available:
            raise NotFound(f"Servable not found for request: Specific({name}, {version})")
        key = (name, int(version))
        with self._lock:  # one load per version, even under concurrent requests
            if key not in self._loaded:
                self._loaded[key] = ServedVersion(name, int(version), self.base / name / str(version))
            return self._loaded[key]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content):
        return rest.dumps(content)


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def create_app(base, max_request_bytes=MAX_REQUEST_BYTES, preload=True, store=None):
    """The Starlette app serving every model under `base` (or from `store`)."""
    store = store or ModelStore(base)
    if preload:
        for name in store.names():
            store.get(name)

    async def models(request: Request):
        match = URL.match(request.url.path)
        if not match:
            return _error(404, f"Malformed request: {request.method} {request.url.path}")
        name, version, action = match["name"], match["version"], match["action"]
        try:
            if action in (None, "/", "/metadata"):
                if request.method != "GET":
                    return _error(405, f"{request.method} is not allowed here; use GET.")
                served = await run_in_threadpool(store.get, name, version)
                if action == "/metadata":
                    return JSONResponse(served.metadata())
                listed = [served.version] if version else store.versions(name)
                return JSONResponse({"model_version_status": [
                    {"version": str(v), "state": "AVAILABLE",
                     "status": {"error_code": "OK", "error_message": ""}}
                    for v in listed
                ]})
            if action != ":predict":
                return _error(400, f"{action[1:]} is not supported: these models serve :predict.")
            if request.method != "POST":
                return _error(405, f"{request.method} is not allowed here; use POST.")
            raw = await _read_limited(request, max_request_bytes)
            body = rest.parse_body(raw)
            served = await run_in_threadpool(store.get, name, version)
            return JSONResponse(await run_in_threadpool(served.predict, body))
        except NotFound as error:
            return _error(404, str(error))
        except rest.BadRequest as error:
            return _error(400, str(error))
        except _TooLarge as error:
            return _error(413, str(error))

    return Starlette(routes=[Route("/v1/models/{rest:path}", models, methods=["GET", "POST"])])


class _TooLarge(Exception):
    pass


async def _read_limited(request, limit):
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"The request body has {declared} bytes; the limit is {limit}.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"The request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def bind(host="127.0.0.1", port=8501):
    """A listening socket (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without, a keep-alive client that sends
    # headers and body apart waits ~40 ms on Nagle + delayed ACK per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def serve(base, host="127.0.0.1", port=8501, max_request_bytes=MAX_REQUEST_BYTES,
          announce=print, grpc_port=8500):
    """Serves REST on `port` and gRPC on `grpc_port` (None: no gRPC) from one
    ModelStore until interrupted; announces each URL once listening."""
    import uvicorn

    store = ModelStore(base)
    app = create_app(base, max_request_bytes, store=store)
    # Requests allocate ~1e5 small lists (JSON) each: keep the collector off
    # the loaded models' objects, or every request pays a walk over them.
    gc.freeze()
    sock = bind(host, port)
    grpc = None
    if grpc_port is not None:
        from exports import grpc_server

        grpc, grpc_port = grpc_server.start(store, host, grpc_port, max_request_bytes)
    url_host = f"[{host}]" if ":" in host else host
    names = store.names()
    announce(f"Serving {len(names)} model(s) {names} from {base} at "
             f"http://{url_host}:{sock.getsockname()[1]}", flush=True)
    if grpc:
        announce(f"Serving {len(names)} model(s) {names} from {base} at "
                 f"grpc://{url_host}:{grpc_port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        if grpc:
            grpc.stop(grace=2).wait()
