"""Spatial transformer CNNs on the paper's distorted MNIST (Jaderberg et
al., NIPS 2015, Table 1), each beside its plain-CNN partner of about as
many weights: `st_cnn_rts` / `cnn_rts`, `st_cnn_r` / `cnn_r`, `st_cnn_p` /
`cnn_p`, `st_cnn_e` / `cnn_e`, `st_cnn_tc` / `cnn_tc` (affine
transformers), and `st_cnn_e_tps` (a thin-plate-spline transformer on E)."""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers import SpatialTransformer
from zoo import registry

CANVAS = {"R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}
# Dense units of the plain CNN that give it about the affine ST-CNN's weights (the
# paper's "same number of parameters"); a test checks the match.
CNN_UNITS = {"R": 214, "RTS": 54, "P": 214, "E": 214, "TC": 34}


class _ScaledKernel:
    """Mixin: the layer's kernel is its variable times `lr_scale`, which
    multiplies the kernel's learning rate by `lr_scale` under Adam (whose
    steps are about the learning rate whatever the gradient's scale); the
    initial kernel, and the function a kernel computes, are unchanged."""

    def __init__(self, *args, lr_scale=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) or lr_scale <= 0:
            raise ValueError(f"`lr_scale` must be a number > 0; received {lr_scale!r}.")
        self.lr_scale = float(lr_scale)

    def build(self, input_shape):
        initializer, scale = self.kernel_initializer, self.lr_scale
        self.kernel_initializer = lambda shape, dtype=None: initializer(shape, dtype) / scale
        try:
            super().build(input_shape)
        finally:
            self.kernel_initializer = initializer

    @property
    def kernel(self):
        kernel = super().kernel
        return kernel if self.lr_scale == 1.0 else kernel * ops.cast(self.lr_scale, kernel.dtype)

    def load_own_variables(self, store):
        # Keras saves the `kernel` property (the effective kernel, as a plain
        # layer's file holds) and loads it into the variable: divide it back.
        super().load_own_variables(store)
        if self.built and self.lr_scale != 1.0:
            self._kernel.assign(self._kernel / ops.cast(self.lr_scale, self._kernel.dtype))

    def get_config(self):
        return {**super().get_config(), "lr_scale": self.lr_scale}


@keras.saving.register_keras_serializable(package="special_networks")
class ScaledConv2D(_ScaledKernel, keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel learns at `lr_scale` times the rate."""


@keras.saving.register_keras_serializable(package="special_networks")
class ScaledDense(_ScaledKernel, keras.layers.Dense):
    """`keras.layers.Dense` whose kernel learns at `lr_scale` times the rate."""


def localization_net(name="localization", lr_scale=1.0):
    """The paper's localisation net for ST-CNN (appendix A.4): two 5x5
    convolutions of 20 filters with 2x2 max-pooling, then 50 units; its
    kernels learn at `lr_scale` times the base rate (biases, and the
    transformer's regression layer, at the base rate)."""
    # Plain layers at scale 1: weights saved from them keep loading (the
    # saved weights' paths follow the layers' classes).
    scaled = {} if lr_scale == 1.0 else {"lr_scale": lr_scale}
    conv, dense = (ScaledConv2D, ScaledDense) if scaled else (keras.layers.Conv2D, keras.layers.Dense)
    return keras.Sequential(
        [
            keras.layers.MaxPooling2D(2),
            conv(20, 5, activation="relu", **scaled),
            keras.layers.MaxPooling2D(2),
            conv(20, 5, activation="relu", **scaled),
            keras.layers.Flatten(),
            dense(50, activation="relu", **scaled),
        ],
        name=name,
    )


def build_st_cnn(
    variant="RTS",
    transform="affine",
    use_transformer=True,
    output_size=(28, 28),
    filters=32,
    units=None,
    dropout=0.25,
    localization_lr_scale=1.0,
):
    """Builds the paper's ST-CNN (or its CNN baseline) for a distorted MNIST.

    The classifier (appendix A.4): conv 9x9 -> max-pool -> conv 7x7 ->
    max-pool -> dense -> softmax, ReLU throughout. With `use_transformer`,
    a `SpatialTransformer` (the localisation net above, `transform`) first
    resamples the `CANVAS[variant]`-sized input to `output_size`; without,
    the classifier reads the input directly and `units` (default: chosen to
    match the affine ST-CNN's weight count, `CNN_UNITS`) widens its dense
    layer.
    `localization_lr_scale` multiplies the learning rate of the localisation
    net's kernels (a lower rate for it: `ScaledConv2D`); it needs
    `use_transformer`.

    Returns a `keras.Model` from `image` [B, S, S, 1] in [0, 1] to
    probabilities [B, 10] (float32 under any dtype policy); its layer
    `"spatial_transformer"` returns (transformed, theta).
    """
    if variant not in CANVAS:
        raise ValueError(f"`variant` must be one of {sorted(CANVAS)}; received {variant!r}.")
    if isinstance(localization_lr_scale, bool) or not isinstance(localization_lr_scale, (int, float)) \
            or localization_lr_scale <= 0:
        raise ValueError(f"`localization_lr_scale` must be a number > 0; received {localization_lr_scale!r}.")
    if localization_lr_scale != 1.0 and not use_transformer:
        raise ValueError("`localization_lr_scale` needs `use_transformer=True` (there is no localisation "
                         f"net without it); received {localization_lr_scale!r}.")
    size = CANVAS[variant]
    image = keras.Input((size, size, 1), name="image")
    x = image
    if use_transformer:
        x, _ = SpatialTransformer(
            localization_net(lr_scale=localization_lr_scale), output_size, transform, return_theta=True,
            name="spatial_transformer",
        )(image)
    x = keras.layers.Conv2D(filters, 9, activation="relu", name="conv_9x9")(x)
    x = keras.layers.MaxPooling2D(2, name="pool_1")(x)
    x = keras.layers.Conv2D(filters, 7, activation="relu", name="conv_7x7")(x)
    x = keras.layers.MaxPooling2D(2, name="pool_2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(units or (128 if use_transformer else CNN_UNITS[variant]), activation="relu",
                           name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(
        10, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    name = f"{'st_' if use_transformer else ''}cnn_{variant.lower()}"
    if use_transformer and transform != "affine":
        name += f"_{transform}"
    return keras.Model(image, probabilities, name=name)


def st_serving_fn(model):
    """The classifier's outputs plus what its transformer did: theta, transformed."""
    classify = registry.classifier_serving_fn(model)
    transformer = model.get_layer("spatial_transformer")

    def serve(image):
        transformed, theta = transformer(image, training=False)
        return {
            **classify(image),
            "theta": tf.cast(theta, tf.float32),
            "transformed": tf.cast(transformed, tf.float32),
        }

    return serve


def _examples(variant):
    def examples():
        with np.load(registry.EXAMPLES_DIR / f"mnist_{variant.lower()}_digits.npz") as data:
            return {"image": data["image"].astype(np.float32)}

    return examples


rts_examples = _examples("RTS")


def _presets(use_transformer, transform="affine"):
    model = dict(use_transformer=use_transformer, **({"transform": transform} if transform != "affine" else {}))
    return {
        "smoke": registry.Preset(
            model=dict(model, filters=8, units=16),
            epochs=2, batch_size=64, train_limit=256,
            description="seconds: a narrow net on 256 digits",
        ),
        "quick": registry.Preset(
            model=model, epochs=5,
            description="a few minutes: the paper's net, 5 epochs",
        ),
        "paper": registry.Preset(
            # The localisation net learns at 0.3x the rate (a lower rate for it, the trick
            # issue #30 names), picked on the first half of the validation digits: runs/notes/st_cnn.md.
            model=dict(model, **({"localization_lr_scale": 0.3} if use_transformer else {})),
            epochs=80, learning_rate=1e-3, weight_decay=1e-4,
            description="appendix A.4 of the paper; fresh distortions every epoch"
                        + ("; localisation net at 0.3x the learning rate" if use_transformer else ""),
        ),
    }


PROBABILITIES = registry.TensorInfo("probabilities", "float32", (None, 10))
CLASS_ID = registry.TensorInfo("class_id", "int64", (None,))
DISTORTIONS = {
    "RTS": "RTS-distorted digits (rotated +-45 deg, scaled 0.7-1.2, placed at random)",
    "R": "rotated digits (+-90 deg)",
    "P": "projectively distorted digits",
    "E": "elastically distorted digits",
    "TC": "translated digits among clutter",
}
THETA = {
    "affine": (6, "row-major 2x3 affine map, output -> input normalised coordinates"),
    "tps": (32, "where the 4x4 control points of the output go in the input, normalised (x, y) pairs"),
}
# The paper's Table 1 (60,000 training digits), error of its CNN and ST-CNN (Aff / TPS).
PAPER = {"RTS": (0.8, 0.5, 0.5), "R": (1.2, 0.7, 0.7), "P": (1.5, 0.8, 0.8), "E": (1.4, 1.2, 1.1),
         "TC": (3.5, 1.7, None)}
WEIGHTS_SHA256 = {
    "st_cnn_rts": "4144517009fd18c9be29e6962465e4f19b6cd76c9ad3a446610587ca80d45e8c",
    "cnn_rts": "839bf0daafa3788ad9ce0de7cdc5d292a772df8191381a8d4d6c95572717efe8",
    "st_cnn_r": "3ef49b500cb9c09b5567ec730bf317e8bc194be6e22fe6e561f7cd598e5c20d0",
    "cnn_r": "c6a1735894319a4a80db4346a38916d0ff85d86508c4d3bc430b34ffbe695960",
    "st_cnn_p": "bf832f8cadf7a08d898c5605523ce13803dbbe6a5750d8432f0adc35007a49f5",
    "cnn_p": "a070528f34a931a42622a463607b29468a6987709c98a3f4cbe11908af4b2dc2",
    "st_cnn_e": "9aeac7cafec284ebe0748e916556a7b5741dfbb4fe42406ae2c7bef406db2161",
    "cnn_e": "ee5feec09245aabd2d3f39d93e7ce4bbbee599bd2d866a540554bccb4f12dc6f",
    "st_cnn_e_tps": "38209c6e4d6740ffeab246bb26965c55edf660e12457215af27fa0b69540e65c",
    "st_cnn_tc": "f2acf77e05db4b22f05c25cf87564aff576ead7ea7470c0cc21a67758ad0d906",
    "cnn_tc": "edfac9ed7b0236b0acc3b6614573d8b9c6338ca3c3e206fad7e0d186902abe9f",
}


def _register(variant, use_transformer, transform="affine"):
    size = CANVAS[variant]
    name = f"{'st_' if use_transformer else ''}cnn_{variant.lower()}" + (
        f"_{transform}" if transform != "affine" else "")
    image = registry.TensorInfo("image", "float32", (None, size, size, 1),
                                f"{DISTORTIONS[variant]}, {size}x{size}, in [0, 1]")
    outputs = (PROBABILITIES, CLASS_ID)
    cnn, affine, tps = PAPER[variant]
    if use_transformer:
        width, meaning = THETA[transform]
        outputs += (
            registry.TensorInfo("theta", "float32", (None, width), meaning),
            registry.TensorInfo("transformed", "float32", (None, 28, 28, 1),
                                "what the transformer made of the input"),
        )
        paper = f"{tps if transform == 'tps' else affine}% error on {variant} MNIST " \
                f"(ST-CNN {'TPS' if transform == 'tps' else 'Aff'}, 60k digits)"
        summary = (f"Spatial transformer CNN ({transform}) on {DISTORTIONS[variant].split(' (')[0]} "
                   "(Jaderberg et al. 2015)")
    else:
        paper = f"{cnn}% error on {variant} MNIST (CNN, 60k digits)"
        summary = f"The CNN of st_cnn_{variant.lower()} without its spatial transformer, about as many weights"
    return registry.register(
        registry.ZooEntry(
            name=name,
            builder=functools.partial(build_st_cnn, variant=variant),
            task=f"mnist_{variant.lower()}",
            presets=_presets(use_transformer, transform),
            inputs=(image,),
            outputs=outputs,
            serving_fn=st_serving_fn if use_transformer else registry.classifier_serving_fn,
            example_inputs=_examples(variant),
            paper_result=paper,
            weights_sha256=WEIGHTS_SHA256.get(name, ""),
            summary=summary,
        )
    )


ST_CNN_RTS, CNN_RTS = _register("RTS", True), _register("RTS", False)
for _variant in ("R", "P", "E", "TC"):
    _register(_variant, True)
    _register(_variant, False)
ST_CNN_E_TPS = _register("E", True, "tps")
