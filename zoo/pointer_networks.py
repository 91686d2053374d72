"""`pointer_sort`, `pointer_hull`, `pointer_tsp`: pointer networks (Vinyals et al. 2015)."""

import keras
import numpy as np
import tensorflow as tf

from custom_layers import PointerDecoder
from zoo import registry

INPUT_NAMES = {"sort": "values", "hull": "points", "tsp": "cities"}
DEFAULT_BEAM = {"sort": 1, "hull": 1, "tsp": 4}


def set_encoder(x, units, layers, heads, dropout=0.0):
    """Self-attention over the elements, no positions: a set encoder.

    Pre-norm Transformer blocks (attention, then a 4x wide ReLU MLP), a
    final LayerNorm. Permuting the inputs permutes the outputs.
    """
    x = keras.layers.Dense(units, name="embed")(x)
    for i in range(layers):
        y = keras.layers.LayerNormalization(name=f"block_{i}_norm_1")(x)
        y = keras.layers.MultiHeadAttention(heads, units // heads, dropout=dropout,
                                            name=f"block_{i}_attention")(y, y)
        x = keras.layers.Add(name=f"block_{i}_add_1")([x, y])
        y = keras.layers.LayerNormalization(name=f"block_{i}_norm_2")(x)
        y = keras.layers.Dense(4 * units, activation="relu", name=f"block_{i}_mlp_1")(y)
        y = keras.layers.Dense(units, name=f"block_{i}_mlp_2")(y)
        x = keras.layers.Add(name=f"block_{i}_add_2")([x, y])
    return keras.layers.LayerNormalization(name="encoder_norm")(x)


def build_pointer_network(task="sort", encoder="set", units=128, layers=3, heads=8, glimpses=1,
                          dropout=0.0):
    """A pointer network for `task` ("sort", "hull" or "tsp").

    `encoder="lstm"` is the paper's LSTM encoder; `"set"` self-attention
    without positions (`layers` blocks of `heads` heads), which suits sets.
    The decoder (`PointerDecoder`, `glimpses` glimpses) ends on a learned
    END for hulls and starts tours at city 0.

    Returns a `keras.Model` from {input: [B, N] values or [B, N, 2]
    points, "targets": [B, T] int32} to log-probabilities [B, T, N(+1)]
    (teacher forcing). Its layer "decoder" decodes: see `decode`.
    """
    if task not in INPUT_NAMES:
        raise ValueError(f"`task` must be one of {sorted(INPUT_NAMES)}; received {task!r}.")
    if encoder not in ("set", "lstm"):
        raise ValueError(f"`encoder` must be 'set' or 'lstm'; received {encoder!r}.")
    name = INPUT_NAMES[task]
    elements = keras.Input((None,) if task == "sort" else (None, 2), name=name)
    targets = keras.Input((None,), dtype="int32", name="targets")
    features = elements
    if task == "sort":
        features = keras.layers.Reshape((-1, 1), name="features")(elements)
    if encoder == "set":
        encoded = set_encoder(features, units, layers, heads, dropout)
    else:
        encoded = keras.layers.LSTM(units, return_sequences=True, name="encoder")(features)
    log_probs = PointerDecoder(
        units, glimpses=glimpses, end_token=task == "hull", fixed_first=task == "tsp",
        name="decoder",
    )([encoded, features, targets])
    return keras.Model({name: elements, "targets": targets}, log_probs,
                       name=f"pointer_{task}_{encoder}")


def decoding_fn(model, beam_width=1):
    """A function of the elements to (indices int32 [B, S], log-probability
    float32 [B]), decoded in the graph (greedy or beam search)."""
    decoder = model.get_layer("decoder")
    encoded, features, _ = decoder.input
    name = next(k for k in model.input if k != "targets")
    encode = keras.Model(model.input[name], [encoded, features])

    def run(elements):
        encoded, features = encode(elements, training=False)
        return decoder.decode(encoded, features, beam_width=beam_width)

    return run


def _check_finite(tensor, name):
    return tf.debugging.assert_all_finite(tensor, f"`{name}` must be finite (no NaN or inf)")


def _closed_length(cities, tour):
    ordered = tf.gather(cities, tour, batch_dims=1)
    return tf.reduce_sum(tf.norm(ordered - tf.roll(ordered, -1, axis=1), axis=-1), axis=-1)


def _start_at_smallest(hull):
    """Rotates each row's vertices (before -1) to start at the smallest index."""
    n = tf.shape(hull)[1]
    length = tf.reduce_sum(tf.cast(hull >= 0, tf.int32), axis=1, keepdims=True)
    first = tf.argmin(tf.where(hull >= 0, hull, n), axis=1, output_type=tf.int32)[:, None]
    steps = tf.range(n)[None]
    source = (first + steps) % tf.maximum(length, 1)
    return tf.where(steps < length, tf.gather(hull, source, batch_dims=1), -1)


def serving_fn(task, beam_width=None):
    """`serving_default` of a pointer zoo model (DESIGN.md's signatures)."""
    beam_width = beam_width or DEFAULT_BEAM[task]

    def make(model):
        run = decoding_fn(model, beam_width)

        def serve_sort(values):
            with tf.control_dependencies([_check_finite(values, "values")]):
                order, _ = run(values)
            return {"order": order}

        def serve_hull(points):
            with tf.control_dependencies([_check_finite(points, "points")]):
                hull, _ = run(points)
            return {"hull": _start_at_smallest(hull)}

        def serve_tsp(cities):
            with tf.control_dependencies([_check_finite(cities, "cities")]):
                rest, _ = run(cities)
            tour = tf.concat([tf.zeros_like(rest[:, :1]), rest], axis=1)
            return {"tour": tour, "tour_length": _closed_length(cities, tour)}

        # Plain graph code (the loop is a tf.while_loop already): autograph
        # would re-read the source files, which an edit during a run breaks.
        return tf.autograph.experimental.do_not_convert(
            {"sort": serve_sort, "hull": serve_hull, "tsp": serve_tsp}[task])

    return make


def _presets(task, sizes, epochs, train_examples, units=128, layers=3):
    model = dict(task=task, encoder="set", units=units, layers=layers, heads=8, glimpses=1)
    return {
        "smoke": registry.Preset(
            model=dict(task=task, encoder="set", units=16, layers=1, heads=2, glimpses=1),
            epochs=1, batch_size=16, task=dict(sizes=(5, 8), train_examples=64,
                                               validation_examples=32),
            description="seconds: a tiny net on 64 small examples",
        ),
        "quick": registry.Preset(
            model=model, epochs=2, task=dict(sizes=sizes, train_examples=12_800),
            description="minutes: the paper preset's net on 25,600 examples",
        ),
        "paper": registry.Preset(
            model=model, epochs=epochs, learning_rate=1e-3,
            task=dict(sizes=sizes, train_examples=train_examples),
            description=f"sizes {sizes[0]}..{sizes[1]}, fresh examples every epoch",
        ),
    }


def _examples(task, size, count=4):
    from_seed = np.random.default_rng([20151, size])
    shape = (count, size) if task == "sort" else (count, size, 2)
    return lambda: {INPUT_NAMES[task]: from_seed.random(shape).astype(np.float32).copy()}


def _entry(task, outputs, sizes, epochs, paper_result, summary, sha):
    return registry.register(
        registry.ZooEntry(
            name=f"pointer_{task}",
            builder=build_pointer_network,
            task=f"pointer_{task}",
            presets=_presets(task, sizes, epochs, train_examples=51_200),
            inputs=(registry.TensorInfo(
                INPUT_NAMES[task], "float32", (None, None) if task == "sort" else (None, None, 2),
                "n uniform floats in [0, 1)" if task == "sort" else "n points in [0, 1]^2"),),
            outputs=outputs,
            serving_fn=serving_fn(task),
            example_inputs=_examples(task, {"sort": 10, "hull": 20, "tsp": 10}[task]),
            paper_result=paper_result,
            weights_sha256=sha,
            summary=summary,
            extra_signatures={"greedy": serving_fn(task, 1), "beam4": serving_fn(task, 4)},
        )
    )


POINTER_SORT = _entry(
    "sort",
    (registry.TensorInfo("order", "int32", (None, None), "indices that sort `values` ascending"),),
    (5, 20), 3, "no figure in the paper (sorting is its motivating example)",
    "Pointer network sorting n numbers (Vinyals et al. 2015)",
    "a73b4f00b17bd3b07ce10b6f7e8178fa7bcab955d8d7e7c2abca3e52c7368f63",
)
POINTER_HULL = _entry(
    "hull",
    (registry.TensorInfo("hull", "int32", (None, None),
                         "hull vertices counter-clockwise from the smallest index, then -1"),),
    (5, 50), 20, "72.6% exact, 99.9% area coverage at n=50 (LSTM Ptr-Net)",
    "Pointer network for planar convex hulls (Vinyals et al. 2015)",
    "872fbe4c2981180885e80a1fb5ee0fc105327176bde140ca37e1361a9fede25f",
)
POINTER_TSP = _entry(
    "tsp",
    (registry.TensorInfo("tour", "int32", (None, None), "a permutation starting with 0"),
     registry.TensorInfo("tour_length", "float32", (None,), "the closed tour's Euclidean length")),
    (5, 20), 20, "mean tour length 2.88 at n=10 (optimal 2.87), 3.88 at n=20 (optimal 3.83)",
    "Pointer network for the planar travelling salesman (Vinyals et al. 2015)",
    "258990fbd04baefb02518bb11f956c29cdf983ef366dd255654ce93d1a208039",
)
