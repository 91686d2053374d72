"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests`."""

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

FILENAME = "tf_serving_warmup_requests"


def predict_log(model_name, inputs, signature_name="serving_default"):
    """A `PredictionLog` holding a `PredictRequest` for `inputs` (name -> array)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )


def write_requests(path, model_name, examples):
    """Writes warmup requests of batch size 1 and of the whole example batch."""
    batch = len(next(iter(examples.values())))
    with tf.io.TFRecordWriter(str(path)) as writer:
        for size in sorted({1, batch}):
            inputs = {k: np.asarray(v)[:size] for k, v in examples.items()}
            writer.write(predict_log(model_name, inputs).SerializeToString())
