"""`conv_autoencoder_mnist`: a deconvolution autoencoder of MNIST digits.

The encoder is convolutions and `MaxPoolingWithArgmax2D`, the decoder
`MaxUnpooling2D` and transposed convolutions (Zeiler & Fergus's switches;
as a whole the "what-where" autoencoder of Zhao, Mathieu, Goroshin & LeCun,
"Stacked What-Where Auto-encoders", 2015: the *what* is the code, the
*where* the pooling switches):

    image [28,28,1] -> conv 3x3 (f1) -> pool 2 (switches s1) -> conv 3x3 (f2)
      -> pool 2 (switches s2) -> flatten -> dense: code [D]
    code -> dense [7,7,f2] -> unpool (s2) -> conv-transpose 3x3 (f1)
      -> unpool (s1) -> conv-transpose 3x3 (1, sigmoid): reconstruction

(ReLUs after every convolution and the decoder's dense layer; the code is
linear.)

The code is not all that reaches the decoder. The switches say, for every
pooled unit, which of its window's 4 positions held the maximum: log2(4) =
2 bits a unit, 2 * (14*14*f1 + 7*7*f2) bits an image (9,408 with the paper
preset's f1 = 16, f2 = 32), against the code's D floats. So the model
decodes the code twice, with two decoders of the same architecture:

- `reconstruction` (served): the decoder given the encoder's switches, the
  deconvolution autoencoder proper (layers `expand`, `unpool_2`,
  `deconv_2`, `unpool_1`, `deconv_1`);
- from the code alone: a decoder of its own (layers `code_...`) that
  unpools every value to its window's top-left position
  (`TopLeftUnpooling2D`: a zero-filling upsampling), so that it needs
  nothing but the D numbers of the code: the same architecture without
  switches. `code_decoder(model)` is it as a model of its own; the
  pictures of decoded codes (`specialnets visualize`) use it.

Both are trained together on one encoder, so the served code is one that
decodes alone: the Keras model returns the two decodings stacked on the
last axis, [B, 28, 28, 2] (channel 0 with the switches, channel 1 from the
code), and the loss is their mean squared error against the image. With
`switches=False` both channels are the code-only decoding.

The export takes `image` float32 [B, 28, 28, 1] in [0, 1] and returns
`reconstruction` float32 [B, 28, 28, 1] and `code` float32 [B, D]; an
image with values outside [0, 1] (or NaN, infinity) is an
InvalidArgumentError, an input of another shape a ValueError (tracing) or
the signature's own shape error (an export).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers import MaxPoolingWithArgmax2D, MaxUnpooling2D
from zoo import registry

IMAGE_SHAPE = (28, 28, 1)
MAX_CODE_SIZE = 64
POOL = 2


@keras.saving.register_keras_serializable(package="special_networks")
class TopLeftUnpooling2D(keras.layers.Layer):
    """Unpooling as if every maximum had been at its window's top-left
    position: [B, h, w, C] -> [B, 2h, 2w, C], each value at (2i, 2j), zeros
    elsewhere. It is `MaxUnpooling2D(2)` given the switches of a pooling
    whose maxima all lay top-left (tested), without a scatter: the
    decoding that needs no switches, only the code."""

    def call(self, values):
        shape = ops.shape(values)
        h, w, c = shape[1], shape[2], shape[3]
        zeros = ops.zeros_like(values)
        rows = ops.reshape(ops.stack([values, zeros], axis=3), (-1, h, 2 * w, c))  # x 0 x 0 along a row
        return ops.reshape(ops.stack([rows, ops.zeros_like(rows)], axis=2), (-1, 2 * h, 2 * w, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)


def build_conv_autoencoder(code_size=32, filters=(16, 32), switches=True):
    """Builds the deconvolution autoencoder (see the module's docstring).

    Args:
        code_size: D, the size of the code, 1..64.
        filters: (f1, f2), the filters of the two convolution/pooling
            stages (the decoders mirror them).
        switches: whether there is a decoder with the encoder's switches
            (True), served; else the code-only one is served.

    Returns:
        A `keras.Model` from `image` [B, 28, 28, 1] in [0, 1] to both
        decodings [B, 28, 28, 2] (channel 0: with the switches; channel 1:
        from the code alone, by a decoder of its own), float32 under any
        dtype policy. The code is the output of its layer `code`.
    """
    registry.check_positive_ints(code_size=code_size)
    if code_size > MAX_CODE_SIZE:
        raise ValueError(f"`code_size` must be at most {MAX_CODE_SIZE}; received {code_size!r}.")
    filters = tuple(filters) if isinstance(filters, (list, tuple)) else filters
    if not isinstance(filters, tuple) or len(filters) != 2:
        raise ValueError(f"`filters` must be two positive ints (f1, f2); received {filters!r}.")
    for f in filters:
        registry.check_positive_ints(filters=f)
    f1, f2 = filters
    image = keras.Input(IMAGE_SHAPE, name="image")
    h = keras.layers.Conv2D(f1, 3, padding="same", activation="relu", name="conv_1")(image)
    h, switches_1 = MaxPoolingWithArgmax2D(POOL, name="pool_1")(h)  # 14 x 14 x f1
    h = keras.layers.Conv2D(f2, 3, padding="same", activation="relu", name="conv_2")(h)
    h, switches_2 = MaxPoolingWithArgmax2D(POOL, name="pool_2")(h)  # 7 x 7 x f2
    h = keras.layers.Flatten(name="flatten")(h)
    code = keras.layers.Dense(code_size, name="code")(h)
    from_code = _decode(code, f1, f2, "code_")
    with_switches = _decode(code, f1, f2, "", (switches_2, switches_1)) if switches else from_code
    both = keras.layers.Concatenate(axis=-1, dtype="float32", name="reconstructions")(
        [with_switches, from_code])
    return keras.Model(image, both, name="conv_autoencoder")


def _decode(code, f1, f2, prefix, switches=None):
    """The decoder: dense to [7, 7, f2], unpool, conv-transpose to f1,
    unpool, conv-transpose to the image; unpooling with `switches` (s2, s1)
    from the encoder, or top-left where None."""
    h = keras.layers.Dense(7 * 7 * f2, activation="relu", name=f"{prefix}expand")(code)
    h = keras.layers.Reshape((7, 7, f2), name=f"{prefix}reshape")(h)
    for stage, (size, filters, activation) in zip((2, 1), ((14, f1, "relu"), (28, 1, "sigmoid"))):
        if switches is None:
            h = TopLeftUnpooling2D(name=f"{prefix}unpool_{stage}")(h)
        else:
            h = MaxUnpooling2D(POOL, output_size=(size, size), name=f"{prefix}unpool_{stage}")(
                [h, switches[2 - stage]])
        h = keras.layers.Conv2DTranspose(filters, 3, padding="same", activation=activation,
                                         dtype="float32" if stage == 1 else None,
                                         name=f"{prefix}deconv_{stage}")(h)
    return h


def code_decoder(model):
    """The code-only decoder of a built autoencoder as a model of its own:
    code [B, D] -> image [B, 28, 28, 1] (its layers and weights)."""
    code = keras.Input((model.get_layer("code").units,), name="code")
    h = code
    for name in ("expand", "reshape", "unpool_2", "deconv_2", "unpool_1", "deconv_1"):
        h = model.get_layer(f"code_{name}")(h)
    return keras.Model(code, h, name="code_decoder")


def encoder_and_decodings(model):
    """image -> (both decodings [B, 28, 28, 2], code [B, D]) in one pass."""
    return keras.Model(model.input, [model.output, model.get_layer("code").output])


def check_images(image):
    """An assertion (InvalidArgumentError when run) that every pixel is a
    finite value in [0, 1] (NaN fails both comparisons)."""
    inside = tf.reduce_all((image >= 0.0) & (image <= 1.0))
    return tf.debugging.Assert(
        inside, ["`image` must hold finite values in [0, 1] (grey levels / 255); received min",
                 tf.reduce_min(image), "max", tf.reduce_max(image)])


def check_shape(image):
    """A ValueError unless `image` is [B, 28, 28, 1] (where its shape is known)."""
    shape = image.shape
    if shape.rank is None:
        return
    dims = shape.as_list()
    if shape.rank != 4 or any(d is not None and d != e for d, e in zip(dims[1:], IMAGE_SHAPE)):
        raise ValueError(f"`image` must be float32 [B, 28, 28, 1] (grey digits in [0, 1]); "
                         f"received shape {dims}.")


def serving_fn(model):
    both = encoder_and_decodings(model)

    def serve(image):
        image = tf.cast(image, tf.float32)
        check_shape(image)
        with tf.control_dependencies([check_images(image)]):
            decodings, code = both(image, training=False)
        return {"reconstruction": tf.cast(decodings[..., :1], tf.float32),
                "code": tf.cast(code, tf.float32)}

    return tf.autograph.experimental.do_not_convert(serve)


def uses_switches(model):
    """Whether a built autoencoder has the decoder with the encoder's switches."""
    return any(layer.name == "unpool_1" for layer in model.layers)


def switch_bits(filters=(16, 32)):
    """The switches' raw bits per image: log2(pool * pool) = 2 per pooled
    unit, 14 x 14 x f1 + 7 x 7 x f2 units (what they carry is less; see
    `training.tasks.mnist.autoencoder.switch_entropy_bits`)."""
    f1, f2 = filters
    return int(np.log2(POOL * POOL)) * (14 * 14 * f1 + 7 * 7 * f2)


def example_inputs():
    with np.load(registry.EXAMPLES_DIR / "mnist_digits.npz") as data:
        return {"image": data["image"].astype(np.float32)}


MODEL = dict(code_size=32, filters=[16, 32], switches=True)  # a list, as metrics.json records it
ENTRY = registry.register(registry.ZooEntry(
    name="conv_autoencoder_mnist",
    builder=build_conv_autoencoder,
    task="mnist_autoencoder",
    presets={
        "smoke": registry.Preset(
            model=dict(code_size=32, filters=(2, 4)), epochs=1, batch_size=64, train_limit=128,
            description="seconds: 2 and 4 filters (a code of 32, as served), 128 digits",
        ),
        "quick": registry.Preset(
            model=MODEL, epochs=3, batch_size=128, learning_rate=3e-3, jit_compile=True,
            description="a minute or two: the paper preset's net, 3 epochs",
        ),
        "paper": registry.Preset(
            model=MODEL, epochs=30, batch_size=128, learning_rate=3e-3, jit_compile=True,
            description="conv 16 + pool, conv 32 + pool, a code of 32; decoders unpooling with the "
                        "encoder's switches and from the code alone, trained together",
        ),
    },
    inputs=(registry.TensorInfo("image", "float32", (None, 28, 28, 1), "grey digits in [0, 1]"),),
    outputs=(
        registry.TensorInfo("reconstruction", "float32", (None, 28, 28, 1),
                            "the digit decoded from its code and the encoder's pooling switches"),
        registry.TensorInfo("code", "float32", (None, 32),
                            "the code, D = 32 (`zoo.conv_autoencoder.code_decoder` decodes it alone)"),
    ),
    serving_fn=serving_fn,
    example_inputs=example_inputs,
    paper_result="no figure for this network; the issue's bar: mean squared error at most 0.8x "
                 "that of PCA with as many components",
    weights_sha256="fb277a7088fcff3121935bf88c55414e818a40bdc35a56e61b162fa0ffcaaba7",
    summary="Deconvolution autoencoder of MNIST digits: pooling switches and a code of 32",
))
