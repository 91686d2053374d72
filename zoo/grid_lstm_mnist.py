"""`grid_lstm_mnist`: MNIST digits through a 3D Grid LSTM (Kalchbrenner,
Danihelka & Graves, "Grid Long Short-Term Memory", 2015/2016, the MNIST
experiment of its first version).

The 28x28 digit is cut into non-overlapping blocks of pixels; a 3D Grid
LSTM (`GridLSTM3D`: rows x columns x depth, LSTM along all three) reads
them row by row, and a softmax layer classifies the top hidden vectors of
every position (`head="grid"`) or of the last one, which has seen the
whole image (`head="last"`).

Its export keeps `highway_mnist`'s MNIST contract:

    image float32 [B, 28, 28, 1] in [0, 1]  ->  probabilities float32 [B, 10]
                                                class_id int64 [B]

An image of another shape is a ValueError naming `image` when traced (and
the export's signature refuses it).
"""

import keras
import tensorflow as tf

from custom_layers import GridLSTM3D
from zoo import registry
from zoo.highway_mnist import example_inputs

HEADS = ("grid", "last")


def build_grid_lstm_mnist(units=32, depth=2, block_size=4, tied=False, head="grid", dropout=0.0):
    """image [B, 28, 28, 1] -> class probabilities [B, 10] (float32 under
    any dtype policy).

    Args:
        units: hidden and memory size of every Grid LSTM block.
        depth: blocks along the depth dimension at every position.
        block_size: side of the square blocks of pixels; must divide 28
            (2: a 14x14 grid; 4: 7x7; 7: 4x4).
        tied: one block (one set of weights) at every depth.
        head: `"grid"`: the softmax layer reads the top hidden vectors of
            every position; `"last"`: only that of the last (bottom-right)
            position.
        dropout: rate of dropout before the softmax layer.
    """
    registry.check_positive_ints(units=units, depth=depth, block_size=block_size)
    if 28 % block_size:
        raise ValueError(f"`block_size` must divide 28 (the digits' side); received {block_size!r}.")
    if head not in HEADS:
        raise ValueError(f"`head` must be one of {HEADS}; received {head!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
    image = keras.Input((28, 28, 1), name="image")
    h = GridLSTM3D(units, depth=depth, block_size=block_size, tied=tied, priority=(2,),
                   return_grid=head == "grid", name="grid_lstm")(image)
    if head == "grid":
        h = keras.layers.Flatten(name="flatten")(h)
    if dropout:
        h = keras.layers.Dropout(dropout, name="dropout")(h)
    probabilities = keras.layers.Dense(10, activation="softmax", dtype="float32", name="probabilities")(h)
    return keras.Model(image, probabilities, name="grid_lstm_mnist")


def serving_fn(model):
    """`registry.classifier_serving_fn` after a clear check of the image's shape."""
    serve = registry.classifier_serving_fn(model)

    def checked(image):
        image = tf.convert_to_tensor(image, tf.float32)
        shape = image.shape
        if shape.rank is not None and (shape.rank != 4 or any(
                size not in (None, want) for size, want in zip(shape[1:], (28, 28, 1)))):
            raise ValueError(f"`image` must be float32 [B, 28, 28, 1] (grey 28x28 digits in [0, 1]); "
                             f"received shape {shape.as_list()}.")
        return serve(image)

    return checked


PAPER_MODEL = dict(units=50, depth=2, block_size=4, tied=False, head="grid", dropout=0.25)
EPOCHS = 25

ENTRY = registry.register(registry.ZooEntry(
    name="grid_lstm_mnist",
    builder=build_grid_lstm_mnist,
    task="mnist",
    presets={
        "smoke": registry.Preset(
            model=dict(units=4, depth=1, block_size=7, head="last"), epochs=1, batch_size=64,
            train_limit=128, description="seconds: a 4x4 grid of 4-unit blocks on 128 digits"),
        "quick": registry.Preset(
            model=dict(units=16, depth=1, block_size=7), epochs=2, batch_size=64, jit_compile=True,
            description="a minute or two: a 4x4 grid of 16-unit blocks, one along depth"),
        "paper": registry.Preset(
            model=PAPER_MODEL, epochs=EPOCHS, batch_size=64, learning_rate=2e-3, clipnorm=1.0,
            augment=True, jit_compile=True,
            description=("a 7x7 grid of 4x4-pixel blocks (2x2 blocks, a 14x14 grid, were too slow to train "
                         "on 2 CPU cores), 2 untied 50-unit 3-LSTM blocks along depth, softmax on "
                         f"every position's top vector; {EPOCHS} epochs of the 7,000 digits with "
                         "highway_mnist's shift/rotation augmentation")),
    },
    inputs=(registry.TensorInfo("image", "float32", (None, 28, 28, 1), "grey digits in [0, 1]"),),
    outputs=(registry.TensorInfo("probabilities", "float32", (None, 10)),
             registry.TensorInfo("class_id", "int64", (None,))),
    serving_fn=serving_fn,
    example_inputs=example_inputs,
    paper_result="0.32% test error (3D Grid LSTM over blocks of pixels, 60k training digits; arXiv v1)",
    weights_sha256="35cee9627f83ad6055f25188211dc00fe636129417b747f1217d15cb8f54ef5b",
    summary="MNIST digits through a 3D Grid LSTM over blocks of pixels (Kalchbrenner et al. 2016)",
))
