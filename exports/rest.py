"""TF Serving's REST predict format: request bodies to arrays, outputs to JSON.

Follows https://www.tensorflow.org/tfx/serving/api_rest: a body holds
`instances` (row format) or `inputs` (columnar format), optionally
`signature_name`; binary strings come as `{"b64": "..."}`. Every problem is
a `BadRequest` whose message names the input and what was expected.
"""

import base64
import binascii
import re

import numpy as np
import orjson

NON_FINITE = re.compile(rb"-?(?:NaN|Infinity)")


MAX_REQUEST_BYTES = 32 * 1024 * 1024


class BadRequest(ValueError):
    """A client error, answered with status 400 and `{"error": message}`."""


class NotFound(LookupError):
    """An unknown model or version (REST 404, gRPC NOT_FOUND)."""


def parse_body(raw):
    """The request's JSON object; rejects malformed JSON and NaN/Infinity."""
    raw = raw.encode() if isinstance(raw, str) else raw
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        # orjson reports "-Infinity" at the "I", and 1e999 as an overflow.
        token = NON_FINITE.match(raw, max(error.pos - 1, 0)) or NON_FINITE.match(raw, error.pos)
        if token:
            raise BadRequest(
                f"Non-finite number {token[0].decode()} in the request: JSON values must be "
                "finite.") from None
        if error.msg.startswith("number is infinity"):
            number = re.match(rb"[-+.0-9eE]*", raw[error.pos:error.pos + 40])[0].decode()
            raise BadRequest(
                f"Number {number} in the request overflows to a non-finite number: JSON "
                "values must be finite.") from None
        raise BadRequest(f"Malformed JSON in the request body: {error}.") from None
    if not isinstance(body, dict):
        raise BadRequest(
            f"The request body must be a JSON object; received {type(body).__name__}."
        )
    return body


def _decode_b64(value):
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise BadRequest(
                f'Objects inside input values must be {{"b64": "<base64>"}}; received {value}.'
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error:
            raise BadRequest(f"Invalid base64 string {value['b64'][:40]!r}.") from None
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    return value


def _utf8(value):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    return value


def to_array(name, value, spec):
    """Converts the JSON `value` of input `name` to an array checked against
    `spec` = (dtype name, shape with None for dynamic dimensions)."""
    dtype, shape = spec
    if dtype == "string":  # walk the values only where b64 objects may stand
        value = _utf8(_decode_b64(value))
    try:
        array = np.array(value, dtype=object if dtype == "string" else None)
    except ValueError:
        raise BadRequest(
            f"Input {name!r} is ragged: every instance must have shape "
            f"{shape_text(shape[1:])}."
        ) from None
    if dtype == "string":
        if not all(isinstance(v, bytes) for v in array.flat):
            raise BadRequest(
                f"Input {name!r} expects strings of shape {shape_text(shape)}; received "
                "other values or ragged lists."
            )
    else:
        allowed = "iu" if dtype.startswith(("int", "uint")) else "iuf"
        if array.dtype.kind not in allowed:
            raise BadRequest(f"Input {name!r} expects {dtype} numbers; received {_kind(array)}.")
        array = array.astype(dtype)
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise BadRequest(f"Input {name!r} holds a non-finite number (NaN or infinity).")
    check_shape(name, array.shape, shape)
    return array


def check_shape(name, got, shape):
    """Checks the shape `got` of input `name` against the signature's `shape`."""
    if len(got) != len(shape) or any(
        want is not None and want != size for want, size in zip(shape, got)
    ):
        raise BadRequest(
            f"Input {name!r} has shape {list(got)}; the signature expects "
            f"{shape_text(shape)} (-1: any size)."
        )
    if len(got) and got[0] == 0:
        raise BadRequest(f"Input {name!r} holds no instance.")


def _kind(array):
    return {"b": "booleans", "U": "strings", "S": "strings", "O": "mixed values"}.get(
        array.dtype.kind, str(array.dtype)
    )


def shape_text(shape):
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


def request_inputs(body, input_specs):
    """Returns (format, arrays by input name) for a predict `body`.

    `input_specs` maps each signature input to (dtype, shape).
    """
    unknown = set(body) - {"instances", "inputs", "signature_name"}
    if unknown:
        raise BadRequest(
            f"Unknown keys {sorted(unknown)} in the request; expected 'instances' or "
            "'inputs', and optionally 'signature_name'."
        )
    if ("instances" in body) == ("inputs" in body):
        raise BadRequest("The request must hold exactly one of 'instances' and 'inputs'.")
    names = list(input_specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise BadRequest("'instances' must be a non-empty list of instances.")
        named = all(isinstance(i, dict) and "b64" not in i for i in instances)
        if not named and len(names) > 1:
            raise BadRequest(
                f"This signature has inputs {names}: each instance must be an object "
                "with those keys."
            )
        columns = (
            {name: [] for name in names} if named else {names[0]: instances}
        )
        if named:
            for index, instance in enumerate(instances):
                if set(instance) != set(names):
                    raise BadRequest(
                        f"Instance {index} has keys {sorted(instance)}; expected {names}."
                    )
                for name in names:
                    columns[name].append(instance[name])
        return "row", {n: to_array(n, columns[n], input_specs[n]) for n in names}
    inputs = body["inputs"]
    if not isinstance(inputs, dict) or "b64" in inputs:
        if len(names) > 1:
            raise BadRequest(f"'inputs' must be an object with keys {names}.")
        inputs = {names[0]: inputs}
    if set(inputs) != set(names):
        raise BadRequest(f"'inputs' has keys {sorted(inputs)}; expected {names}.")
    arrays = {n: to_array(n, inputs[n], input_specs[n]) for n in names}
    batches = {n: a.shape[0] for n, a in arrays.items()}
    if len(set(batches.values())) > 1:
        raise BadRequest(f"Inputs have different batch sizes: {batches}.")
    return "columnar", arrays


def _json_value(array):
    if array.dtype.kind in "SO":
        return np.vectorize(
            lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b,
            otypes=[object],
        )(array).tolist()
    return array  # numbers go to JSON straight from NumPy: see `dumps`


def dumps(body):
    """JSON bytes of a body holding lists, NumPy arrays and scalars (float32
    written as the shortest text that reads back as the same float32)."""
    return orjson.dumps(body, default=_to_list, option=orjson.OPT_SERIALIZE_NUMPY)


def _to_list(value):  # what orjson's NumPy support leaves: e.g. non-contiguous arrays
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def response_body(fmt, outputs):
    """TF Serving's answer: `predictions` (row) or `outputs` (columnar), as
    lists and NumPy arrays for `dumps`."""
    values = {k: _json_value(np.asarray(v)) for k, v in outputs.items()}
    if fmt == "columnar":
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    batch = len(next(iter(values.values())))
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(batch)]}
