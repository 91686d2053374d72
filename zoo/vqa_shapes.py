"""`vqa_shapes`: question-guided spatial attention over a CNN feature grid.

The SMem-VQA design of Xu & Saenko ("Ask, Attend and Answer", ECCV 2016):
the image's convolutional features are the memory, one slot per grid
location; the question reads it with the memory network's hop
(`MemoryHop`), once or twice, and a classifier answers from the final state.
"""

import keras
import numpy as np
import tensorflow as tf

from custom_layers import AttentionShift, CoordinateChannels, MemoryHop, NullMemory
from zoo import registry

IMAGE_SIZE = 48  # pixels; a 3 x 3 grid of 16-pixel cells
GRID = 3
COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = ("top", "bottom", "left", "right")
ANSWERS = ("no", "yes") + COLOURS + SHAPES
WORDS = tuple(sorted(set(
    "is there a what color shape the object on of".split() + list(COLOURS + SHAPES + DIRECTIONS))))
PUNCTUATION = r"[.?!,;:]"


def build_vqa_shapes(hops=2, depth=64, filters=(16, 32, 64, 64, 64), per_cell=False,
                     coordinates=None, batch_norm=True, null_slot=False, controller="linear",
                     shift_radius=None, cell_slots=False):
    """A CNN over the image (five 3 x 3 convolutions down to a 6 x 6 grid of
    `filters[-1]` channels), `coordinates` appended to the grid
    (`CoordinateChannels`: "one_hot", "linear" or None), a GRU over the
    question's words (the state u,
    `depth` wide), and `hops` memory hops: at hop k the state u
    attends over the grid through keys W^k_m f and reads values W^k_c f;
    u' = u + o (Xu & Saenko's attention and evidence embeddings, one pair
    per hop). Answers from softmax(W relu(V u)). `batch_norm` normalises each
    convolution's output (not in the paper; it makes training start faster).
    With `per_cell` the CNN reads each of the 3 x 3 cells of the image on
    its own (the same layers for each, through `TimeDistributed`) and each
    cell gives 2 x 2 locations of the grid: a location sees its own cell
    only, so what lies in the next cell has to be read by another hop, found
    from where the previous one read (the one-hot `coordinates` tell it).
    Without it the convolutions run over the whole image and a location
    sees the neighbouring cells too.
    `null_slot` gives each hop a learned "nothing here" slot (`NullMemory`)
    beside the grid, where attention goes when nothing matches.
    `controller="mlp"` passes the state through a residual ReLU layer
    between hops (u <- u + W2 relu(W1 u)): hop 2's bilinear score of a sum
    u + o cannot make the place it looks depend on the direction asked (in
    u) and the place hop 1 read (in o) together; a nonlinear step can.
    `cell_slots` (with `per_cell`) max-pools each cell's 2 x 2 locations
    into one memory slot: a 3 x 3 memory whose every slot sees a whole
    object (the attention output stays 6 x 6, each slot's weight shared by
    its cell's four locations).
    `shift_radius` r gives each hop after the first a location prior: the
    previous hop's attention moved by up to r grid locations each way, by
    offsets the state chooses (`AttentionShift`, the NTM's location
    addressing in 2D), so that "the object left of the red circle" is one
    hop to the circle and one move left (r = 2 moves one cell of
    `per_cell`'s 2 x 2 locations).

    Returns a `keras.Model` from {"image": float32 [B, 48, 48, 3],
    "question_ids": int32 [B, W] (0 = padding, 1 = unknown word)} to answer
    probabilities [B, len(ANSWERS)]; `model.hop_attention` is the symbolic
    attention [B, hops, 6, 6].
    """
    registry.check_positive_ints(hops=hops)
    if cell_slots and not per_cell:
        raise ValueError("`cell_slots` pools the locations of each cell that `per_cell` reads: it needs "
                         "`per_cell=True`.")
    if shift_radius is not None:
        registry.check_positive_ints(shift_radius=shift_radius)
        if null_slot:
            raise ValueError("`shift_radius` and `null_slot` cannot be combined: the null slot has no place "
                             "on the grid to move.")
    if controller not in ("linear", "mlp"):
        raise ValueError(f"`controller` must be 'linear' or 'mlp'; received {controller!r}.")
    if len(filters) != 5:
        raise ValueError(f"`filters` must hold 5 widths (one per convolution); received {filters!r}.")
    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    question = keras.Input((None,), dtype="int32", name="question_ids")

    def each_cell(layer):
        return keras.layers.TimeDistributed(layer, name=f"{layer.name}_cells") if per_cell else layer

    def conv(x, k, strides=1):
        x = each_cell(keras.layers.Conv2D(filters[k - 1], 3, strides=strides, padding="same",
                                          use_bias=not batch_norm, name=f"conv_{k}"))(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv_{k}_norm")(x)
        return keras.layers.ReLU(name=f"conv_{k}_relu")(x)

    cell, side = IMAGE_SIZE // GRID, IMAGE_SIZE // 8
    x = image
    if per_cell:  # [B, 48, 48, 3] -> the 9 cells [B, 9, 16, 16, 3], row by row
        x = keras.layers.Reshape((GRID, cell, GRID, cell, 3), name="cut_rows")(x)
        x = keras.layers.Permute((1, 3, 2, 4, 5), name="cut_cells")(x)
        x = keras.layers.Reshape((GRID * GRID, cell, cell, 3), name="cells")(x)
    x = conv(x, 1, strides=2)
    x = each_cell(keras.layers.MaxPooling2D(2, name="pool_2"))(conv(x, 2))
    x = each_cell(keras.layers.MaxPooling2D(2, name="pool_3"))(conv(x, 3))
    x = conv(conv(x, 4), 5)  # the 6 x 6 grid, or each cell's 2 x 2 of it
    if cell_slots:  # [B, 9, 2, 2, C] -> one slot per cell, [B, 3, 3, C]
        x = each_cell(keras.layers.GlobalMaxPooling2D(name="cell_pool"))(x)
        side = GRID
        x = keras.layers.Reshape((side, side, filters[4]), name="joined")(x)
    elif per_cell:  # [B, 9, 2, 2, C] -> [B, 6, 6, C]
        per = side // GRID
        x = keras.layers.Reshape((GRID, GRID, per, per, filters[4]), name="join_rows")(x)
        x = keras.layers.Permute((1, 3, 2, 4, 5), name="join_cells")(x)
        x = keras.layers.Reshape((side, side, filters[4]), name="joined")(x)
    if coordinates is not None:
        x = CoordinateChannels(coordinates, name="coordinates")(x)
    features = keras.layers.Reshape((side * side, x.shape[-1]), name="grid")(x)
    words = keras.layers.Embedding(len(WORDS) + 2, depth, mask_zero=True, name="word_embedding")(question)
    u = keras.layers.GRU(depth, name="question_gru")(words)
    attentions = []
    for k in range(1, hops + 1):
        keys = keras.layers.Dense(depth, name=f"attention_embedding_{k}")(features)
        values = keras.layers.Dense(depth, name=f"evidence_embedding_{k}")(features)
        if null_slot:
            keys = NullMemory(name=f"null_key_{k}")(keys)
            values = NullMemory(name=f"null_evidence_{k}")(values)
        memory = [u, keys, values]
        if shift_radius is not None and k > 1:
            previous = keras.layers.Reshape((side, side), name=f"attention_map_{k - 1}")(last_attention)
            prior = AttentionShift(shift_radius, name=f"shift_{k}")([u, previous])
            memory.append(keras.layers.Reshape((side * side,), name=f"prior_{k}")(prior))
        u, attention = MemoryHop(name=f"hop_{k}")(memory, return_attention=True)
        last_attention = attention
        if null_slot:  # the grid's share only: it sums to 1 - the null slot's weight
            attention = keras.layers.Cropping1D((1, 0))(keras.layers.Reshape((-1, 1))(attention))
        if cell_slots:  # the signature's 6 x 6 map: each cell's weight shared by its 2 x 2 locations
            attention = keras.layers.Reshape((side, side, 1))(attention)
            attention = keras.layers.Rescaling(0.25)(keras.layers.UpSampling2D(2)(attention))
        attentions.append(keras.layers.Reshape((1, IMAGE_SIZE // 8, IMAGE_SIZE // 8))(attention))
        if controller == "mlp" and k < hops:
            step = keras.layers.Dense(2 * depth, activation="relu", name=f"controller_hidden_{k}")(u)
            step = keras.layers.Dense(depth, name=f"controller_out_{k}")(step)
            u = keras.layers.Add(name=f"controller_{k}")([u, step])
    attention = (keras.layers.Concatenate(axis=1, name="attention")(attentions) if hops > 1
                 else attentions[0])
    # A hidden layer: "no" needs a comparison of what was asked (in u) with what was read (o).
    hidden = keras.layers.Dense(2 * depth, activation="relu", name="answer_hidden")(u)
    probabilities = keras.layers.Dense(len(ANSWERS), activation="softmax", dtype="float32",
                                       name="answer")(hidden)
    model = keras.Model({"image": image, "question_ids": question}, probabilities,
                        name=f"vqa_shapes_{hops}_hops")
    model.hop_attention = attention  # in the graph, not an output: for serving and pictures
    return model


def _probe(model):
    probe = getattr(model, "_attention_probe", None)
    if probe is None:
        probe = keras.Model(model.input, [model.output, model.hop_attention])
        model._attention_probe = probe
    return probe


def serving_fn(model):
    """image float32 [B, 48, 48, 3] in [0, 1] and question string [B] ->
    answer string [B] and each hop's attention float32 [B, hops, 6, 6].
    Tokenised in the graph; unknown words map to id 1."""
    model.serving_words = tf.lookup.StaticHashTable(  # tracked, so the export saves it
        tf.lookup.KeyValueTensorInitializer(tf.constant(WORDS), tf.range(len(WORDS)) + 2), 1,
        name="vqa_words")
    answers = tf.constant(ANSWERS)
    probe = _probe(model)

    @tf.autograph.experimental.do_not_convert
    def serve(image, question):
        with tf.control_dependencies([tf.debugging.assert_all_finite(
                image, "`image` must be finite (no NaN or inf)")]):
            image = tf.identity(image)
        text = tf.strings.regex_replace(tf.strings.lower(question, encoding="utf-8"), PUNCTUATION, " ")
        ids = tf.ragged.map_flat_values(model.serving_words.lookup, tf.strings.split(text))
        probabilities, attention = probe({"image": image, "question_ids": ids.to_tensor(0)},
                                         training=False)
        return {"answer": tf.gather(answers, tf.argmax(probabilities, axis=-1)),
                "attention": tf.cast(attention, tf.float32)}

    return serve


def _examples():
    with np.load(registry.EXAMPLES_DIR / "vqa_shapes.npz", allow_pickle=False) as data:
        return {"image": data["image"].astype(np.float32) / 255.0,
                "question": data["question"].astype(object)}


def _presets(hops, epochs=10, warm_start=None):
    # Each cell read on its own, so that one read cannot see the neighbour a relational question asks about.
    relational = dict(hops=hops, per_cell=True, coordinates="one_hot")
    if hops > 1:
        relational["shift_radius"] = 2  # one cell of 2 x 2 grid locations
    else:  # one read of a quarter cell cannot tell "a red square" (RESULTS.md): one slot per cell
        relational["cell_slots"] = True
    return {
        "smoke": registry.Preset(
            model=dict(relational, depth=16, filters=(4, 8, 8, 8, 8)), epochs=1, batch_size=32,
            task=dict(examples=256, relational=True), description="seconds: a narrow net on 256 questions",
        ),
        "quick": registry.Preset(
            model=relational, epochs=2, batch_size=64, learning_rate=2e-3,
            task=dict(examples=20_000, relational=True), description="a few minutes: 2 epochs of 20,000 questions",
        ),
        "paper": registry.Preset(
            model=relational, epochs=epochs, batch_size=64, learning_rate=2e-3,
            task=dict(examples=100_000, relational=True), warm_start=warm_start,
            description=f"{hops} hop{'s' if hops > 1 else ''}, {epochs} epochs of 100,000 generated questions, "
                        "half of them relational"
                        + (f"; the layers it shares with {warm_start} start from its weights" if warm_start else ""),
        ),
    }


def _signature(hops):
    return dict(
        inputs=(registry.TensorInfo("image", "float32", (None, IMAGE_SIZE, IMAGE_SIZE, 3),
                                    "RGB in [0, 1]: coloured shapes on a 3 x 3 grid"),
                registry.TensorInfo("question", "string", (None,))),
        outputs=(registry.TensorInfo("answer", "string", (None,), f"one of {', '.join(ANSWERS)}"),
                 registry.TensorInfo("attention", "float32", (None, hops, IMAGE_SIZE // 8, IMAGE_SIZE // 8),
                                     "each hop's attention over the 6 x 6 feature grid")),
    )


VQA_SHAPES = registry.register(
    registry.ZooEntry(
        name="vqa_shapes",
        builder=build_vqa_shapes,
        task="vqa_shapes",
        presets=_presets(2),
        serving_fn=serving_fn,
        example_inputs=_examples,
        paper_result="issue 30: >= 10 points ahead of one hop on relational questions, > 95% on simple ones",
        weights_sha256="8ccf4f3569b99428372fbbee0477068acf2342ac9de7f7143625e8846707b597",
        summary="Question-guided spatial attention (SMem-VQA), 2 hops (the second moved from the first), on generated shapes",
        **_signature(2),
    )
)

VQA_SHAPES_1HOP = registry.register(
    registry.ZooEntry(
        name="vqa_shapes_1hop",
        builder=build_vqa_shapes,
        task="vqa_shapes",
        # From scratch it learned simple questions slowly (91% after 10 epochs, RESULTS.md): its CNN, word
        # embedding, question GRU and answer layers start from the two-hop model's.
        presets=_presets(1, warm_start="vqa_shapes"),
        warm_start_fn=registry.copy_same_layers,
        serving_fn=serving_fn,
        example_inputs=_examples,
        paper_result="the same cells read by one hop, to show what the second adds",
        weights_sha256="b2f45451087cbfa4cb2c93f2f766dc9456b89b0073988795a4a2b4f10768418e",
        summary="The same cells read by one hop (one memory slot per cell)",
        **_signature(1),
    )
)
