"""The registry of zoo models: builder, task, presets, signature, weights."""

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

WEIGHTS_DIR = Path(__file__).parent / "weights"
EXAMPLES_DIR = Path(__file__).parent / "examples"
PRESET_NAMES = ("smoke", "quick", "paper")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One named input or output of a serving signature."""

    name: str
    dtype: str  # a tf.dtypes name: "float32", "int64", "string", ...
    shape: tuple  # None for a dynamic dimension; the batch always is
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named configuration: builder arguments and training settings."""

    model: dict
    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0  # decoupled (AdamW) when > 0
    augment: bool = False
    train_limit: int | None = None  # use only the first N training examples
    description: str = ""
    task: dict = dataclasses.field(default_factory=dict)  # options of the task's data
    clipnorm: float | None = None  # gradient clipping by norm
    optimizer: str = "adam"  # "adam" (AdamW with weight_decay) or "sgd" (plain)
    halve_every: int | None = None  # epochs between halvings of the learning rate; None: cosine decay
    linear_start_epochs: int | None = None  # memory networks: linear epochs (None: by validation loss)
    jit_compile: bool = False  # XLA train step; Keras's "auto" leaves it off on CPU-only machines
    held_out_every: int = 0  # epochs between held-out scorings logged during training (0: none)
    # A zoo model whose pretrained weights start the training, through the entry's `warm_start_fn`.
    warm_start: str | None = None


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A zoo model: how to build, train, serve and describe it.

    `serving_fn(model)` returns a function of the signature's inputs (as
    keyword arguments, in `inputs` order) that returns a dict of outputs;
    it is traced into the SavedModel's `serving_default`.
    `example_inputs()` returns a small batch of real inputs by name (used
    for warmup records, the demo and the tests).
    """

    name: str
    builder: Callable[..., Any]
    task: str
    presets: dict
    inputs: tuple
    outputs: tuple
    serving_fn: Callable[[Any], Callable]
    example_inputs: Callable[[], dict]
    paper_result: str
    weights_sha256: str
    summary: str = ""
    # More signatures of the export: name -> a function like `serving_fn`
    # (same inputs and outputs), e.g. other decoding settings.
    extra_signatures: dict = dataclasses.field(default_factory=dict)
    # Inputs (a tuple of TensorInfo) of those extra signatures whose inputs are not `inputs`,
    # e.g. a `generate` signature of a generative model.
    extra_signature_inputs: dict = dataclasses.field(default_factory=dict)
    # (trained source model, freshly built model) -> None: sets the model's weights from the source's,
    # for presets with a `warm_start`.
    warm_start_fn: Callable | None = None

    @property
    def weights_path(self):
        return WEIGHTS_DIR / f"{self.name}.weights.h5"

    @property
    def weights_info_path(self):
        return WEIGHTS_DIR / f"{self.name}.json"

    def preset(self, name):
        if name not in self.presets:
            raise ValueError(
                f"Unknown preset {name!r} for zoo model {self.name!r}; expected one "
                f"of {sorted(self.presets)}."
            )
        return self.presets[name]

    def build(self, preset="paper", **overrides):
        return self.builder(**{**self.preset(preset).model, **overrides})

    def weights_info(self):
        """What the pretrained weights are: command, data, metrics."""
        if not self.weights_info_path.exists():
            return {}
        return json.loads(self.weights_info_path.read_text())

    def load_pretrained(self):
        """Builds the `paper` preset and loads the shipped weights."""
        path = self.weights_path
        if not path.exists():
            raise FileNotFoundError(
                f"No pretrained weights for {self.name!r}: expected {path}. Train "
                f"them with `specialnets train {self.name} --preset paper --publish`."
            )
        digest = sha256_of(path)
        if digest != self.weights_sha256:
            raise ValueError(
                f"Pretrained weights {path} have sha256 {digest}, but the registry "
                f"expects {self.weights_sha256}: the file is corrupt or was "
                "replaced without updating the registry (is it a Git LFS pointer?)."
            )
        model = self.build("paper")
        model.load_weights(path)
        return model


_REGISTRY: dict = {}


def check_positive_ints(**values):
    """A ValueError naming the first of `values` that is not an int >= 1 (a bool is not)."""
    import numpy as np

    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; received {value!r}.")


def register(entry):
    if entry.name in _REGISTRY:
        raise ValueError(f"Zoo model {entry.name!r} is registered twice.")
    missing = set(PRESET_NAMES) - set(entry.presets)
    if missing:
        raise ValueError(f"Zoo model {entry.name!r} lacks presets {sorted(missing)}.")
    warm = sorted(name for name, preset in entry.presets.items() if preset.warm_start)
    if warm and entry.warm_start_fn is None:
        raise ValueError(f"Zoo model {entry.name!r}: presets {warm} have a `warm_start` but the entry "
                         "has no `warm_start_fn` to carry the weights over.")
    _REGISTRY[entry.name] = entry
    return entry


def get(name):
    """Returns the zoo entry called `name`, or raises a clear `ValueError`."""
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown zoo model {name!r}; expected one of {sorted(_REGISTRY)}."
        )
    return _REGISTRY[name]


def names():
    return sorted(_REGISTRY)


def classifier_serving_fn(model):
    """`serving_default` of a classifier: float32 `probabilities` (whatever
    the dtype policy) and their int64 `class_id`."""
    import tensorflow as tf

    def serve(image):
        probabilities = tf.cast(model(image, training=False), tf.float32)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id}

    return serve


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_same_layers(source, model):
    """A `warm_start_fn`: sets every layer of `model` that `source` has under
    the same name, with weights of the same shapes, to `source`'s weights;
    the other layers keep their initialisation. Returns the names copied."""
    copied = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            theirs = source.get_layer(layer.name).get_weights()
        except ValueError:  # not in `source`
            continue
        if [w.shape for w in theirs] == [w.shape for w in weights]:
            layer.set_weights(theirs)
            copied.append(layer.name)
    if not copied:
        raise ValueError(f"`source` ({source.name}) has no layer of `model` ({model.name}) with the same "
                         "name and weight shapes: nothing to start from.")
    return copied
