"""`highway_mnist`: highway, plain and residual networks on MNIST digits."""

import keras
import numpy as np

from custom_layers import Highway, HighwayConv2D
from zoo import registry

KINDS = ("highway", "plain", "residual")
TOPOLOGIES = ("dense", "conv")
HEADS = {
    "global_max": keras.layers.GlobalMaxPooling2D,
    "global_average": keras.layers.GlobalAveragePooling2D,
    "flatten": keras.layers.Flatten,
}


def _block(kind, topology, width, activation, transform_bias, name):
    """One layer of the stack: a highway layer or its plain/residual twin."""
    if kind == "highway":
        if topology == "dense":
            return Highway(activation, transform_bias=transform_bias, name=name)
        return HighwayConv2D(3, activation, transform_bias=transform_bias, name=name)
    if topology == "dense":
        return keras.layers.Dense(width, activation=activation, name=name)
    return keras.layers.Conv2D(
        width, 3, padding="same", activation=activation, name=name
    )


def build_highway_mnist(
    depth=10,
    width=50,
    kind="highway",
    topology="dense",
    activation="relu",
    transform_bias=-2.0,
    dropout=0.0,
    head="global_max",
):
    """Builds a `depth`-layer classifier of 28x28x1 digits.

    As in the paper's depth study, the first layer is a plain layer of
    `width` units (or 3x3 filters) and the next `depth - 1` layers are all
    highway, all plain or all residual (`x + activation(W x + b)`) layers of
    the same width, followed by a softmax layer. With `topology="conv"` the
    layers are 3x3 convolutions and 2x2 max-pooling follows each third of the
    stack (the paper's convolutional highway nets of Table 1); the classifier
    then reads the globally max-pooled features.

    Args:
        depth: number of hidden layers, >= 2.
        width: units (dense) or filters (conv) of every hidden layer.
        kind: `"highway"`, `"plain"` or `"residual"`.
        topology: `"dense"` or `"conv"`.
        activation: activation of every hidden layer.
        transform_bias: initial gate bias of the highway layers.
        dropout: dropout rate before the softmax layer.
        head: how the conv stack's features reach the softmax layer:
            `"global_max"` or `"global_average"` pooling, or `"flatten"`.

    Returns:
        A `keras.Model` from `image` [B, 28, 28, 1] in [0, 1] to class
        probabilities [B, 10] (float32 under any dtype policy).
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}; received {kind!r}.")
    if topology not in TOPOLOGIES:
        raise ValueError(
            f"`topology` must be one of {TOPOLOGIES}; received {topology!r}."
        )
    if head not in HEADS:
        raise ValueError(f"`head` must be one of {sorted(HEADS)}; received {head!r}.")
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"`depth` must be an int >= 2; received {depth!r}.")
    registry.check_positive_ints(width=width)

    image = keras.Input((28, 28, 1), name="image")
    if topology == "dense":
        x = keras.layers.Flatten(name="flatten")(image)
        x = keras.layers.Dense(width, activation=activation, name="layer_1")(x)
    else:
        x = keras.layers.Conv2D(
            width, 3, padding="same", activation=activation, name="layer_1"
        )(image)
    pool_after = {round((depth - 1) * k / 3) + 1 for k in (1, 2)}
    for i in range(2, depth + 1):
        layer = _block(kind, topology, width, activation, transform_bias, f"layer_{i}")
        y = layer(x)
        x = keras.layers.Add(name=f"skip_{i}")([x, y]) if kind == "residual" else y
        if topology == "conv" and i in pool_after:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    if topology == "conv":
        x = HEADS[head](name="head")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(
        10, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(image, probabilities, name=f"{kind}_{topology}_{depth}")


def example_inputs():
    with np.load(registry.EXAMPLES_DIR / "mnist_digits.npz") as data:
        return {"image": data["image"].astype(np.float32)}


ENTRY = registry.register(
    registry.ZooEntry(
        name="highway_mnist",
        builder=build_highway_mnist,
        task="mnist",
        presets={
            "smoke": registry.Preset(
                model=dict(depth=3, width=16),
                epochs=2,
                batch_size=64,
                train_limit=512,
                description="seconds: a 3-layer dense highway net on 512 digits",
            ),
            "quick": registry.Preset(
                model=dict(depth=10, width=50),
                epochs=5,
                description="a minute: the paper's 10-layer, 50-wide dense net",
            ),
            "paper": registry.Preset(
                model=dict(
                    depth=10, width=32, topology="conv", dropout=0.25, head="global_average"
                ),
                epochs=60,
                augment=True,
                learning_rate=1e-3,
                weight_decay=1e-4,
                description=(
                    "Table 1 of the paper: a 10-layer convolutional highway net, "
                    "32 filters, with shift/rotation augmentation"
                ),
            ),
        },
        inputs=(
            registry.TensorInfo(
                "image", "float32", (None, 28, 28, 1), "grey digits in [0, 1]"
            ),
        ),
        outputs=(
            registry.TensorInfo("probabilities", "float32", (None, 10)),
            registry.TensorInfo("class_id", "int64", (None,)),
        ),
        serving_fn=registry.classifier_serving_fn,
        example_inputs=example_inputs,
        paper_result="0.45% test error (10-layer conv highway net, 60k digits)",
        weights_sha256="4abf90e22840127aceb359d330c0d86206166c6df8e4e421c4a17abd4cf59d73",
        summary="Highway network classifying MNIST digits (Srivastava et al. 2015)",
    )
)
