"""Shapes VQA: coloured shapes on a 3 x 3 grid and questions about them, generated.

    builder = shapes_vqa.builder(examples={"train": 60_000})
    ds = builder.as_dataset(split="train")  # {"image", "question", "answer", "kind"}

    python -m training.tasks.shapes_vqa   # rewrites zoo/examples/vqa_shapes.npz

Each image holds 2 to 5 objects (5 to 7 for the relational questions of
`relational=True`), each a different (colour, shape), in different cells, with random size, place in the cell, colour shade and pixel
noise. Four kinds of question, or six with the task option `relational=True`,
equally often, yes / no balanced within a kind:
- existence: "is there a red square?" (yes / no)
- colour: "what color is the circle?" (the only circle)
- shape: "what shape is the blue object?" (the only blue object)
- relative position: "is there a red square on the bottom of the green
  circle?": yes when the red square is in the cell right below. Half the
  "no"s name an object that is in the image, elsewhere.
- relative colour: "what color is the object on the left of the red
  circle?" and relative shape: "what shape is the object on the top of the
  blue square?": the object in the next cell in that direction (left: same
  row, one column less; top: same column, one row up), asked only when
  that cell holds one, so the answer is unique.
The first three kinds ask about one object ("simple"), the last three about
an object and its neighbour ("relational": find the named object, then look
next to it).
Example i of a split is drawn from `np.random.default_rng([seed, split, i])`.
"""

import re

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter, resumed_seed
from training.tasks import generated
from training.tasks.base import Task
from zoo.vqa_shapes import ANSWERS, COLOURS, DIRECTIONS, GRID, IMAGE_SIZE, PUNCTUATION, SHAPES, WORDS

SPLITS = {"train": 0, "validation": 1, "test": 2}
KINDS = ("existence", "colour", "shape", "relative", "relative_colour", "relative_shape")
SIMPLE, RELATIONAL = KINDS[:3], KINDS[3:]
CROWDED = (5, 7)  # objects in a relational question's scene: too many to guess the neighbour
DEFAULT_EXAMPLES = {"train": 60_000, "validation": 2000, "test": 2000}
CELL = IMAGE_SIZE // GRID
RGB = {"red": (0.9, 0.15, 0.1), "green": (0.15, 0.75, 0.2), "blue": (0.15, 0.3, 0.95),
       "yellow": (0.95, 0.85, 0.15)}
STEP = {"top": (-1, 0), "bottom": (1, 0), "left": (0, -1), "right": (0, 1)}
_ROWS, _COLUMNS = np.mgrid[0:CELL, 0:CELL] + 0.5


def _mask(shape, radius, centre):
    y, x = _ROWS - centre[0], _COLUMNS - centre[1]
    if shape == "circle":
        return x * x + y * y <= radius * radius
    if shape == "square":
        side = 0.85 * radius
        return (np.abs(x) <= side) & (np.abs(y) <= side)
    top = y + radius  # an upright triangle: apex at the top, base 2 * radius wide
    return (top >= 0) & (y <= radius) & (np.abs(x) <= top / 2)


def render(objects, rng):
    """uint8 [48, 48, 3] of `objects`: {(row, column): (colour, shape)}."""
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 0.12) + rng.normal(0, 0.03, (IMAGE_SIZE, IMAGE_SIZE, 3))
    for (row, column), (colour, shape) in objects.items():
        radius = rng.uniform(4.0, 6.5)
        centre = CELL / 2 + rng.uniform(-1.5, 1.5, 2)
        shade = np.clip(np.array(RGB[colour]) + rng.uniform(-0.08, 0.08, 3), 0, 1)
        cell = image[row * CELL:(row + 1) * CELL, column * CELL:(column + 1) * CELL]
        cell[_mask(shape, radius, centre)] = shade
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def _scene(rng, objects=(2, 5)):
    count = rng.integers(objects[0], objects[1] + 1)
    cells = rng.choice(GRID * GRID, count, replace=False)
    kinds = rng.choice(len(COLOURS) * len(SHAPES), count, replace=False)
    return {(int(c) // GRID, int(c) % GRID): (COLOURS[k // len(SHAPES)], SHAPES[k % len(SHAPES)])
            for c, k in zip(cells, kinds)}


def _neighbour(cell, direction):
    row, column = cell[0] + STEP[direction][0], cell[1] + STEP[direction][1]
    return (row, column) if 0 <= row < GRID and 0 <= column < GRID else None


def _existence(objects, rng):
    present = list(objects.values())
    if rng.random() < 0.5:
        colour, shape = present[rng.integers(len(present))]
        return f"is there a {colour} {shape}?", "yes"
    absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
    colour, shape = absent[rng.integers(len(absent))]
    return f"is there a {colour} {shape}?", "no"


def _attribute(objects, rng, asked):
    """What colour is the only <shape>? / What shape is the only <colour> object?"""
    key = 1 if asked == "colour" else 0  # the attribute named in the question
    values = [o[key] for o in objects.values()]
    unique = [o for o in objects.values() if values.count(o[key]) == 1]
    if not unique:
        return None
    colour, shape = unique[rng.integers(len(unique))]
    if asked == "colour":
        return f"what color is the {shape}?", colour
    return f"what shape is the {colour} object?", shape


def _relative(objects, rng):
    pairs = [(cell, d, _neighbour(cell, d)) for cell in objects for d in DIRECTIONS
             if _neighbour(cell, d) in objects]
    reference_cell = list(objects)[rng.integers(len(objects))]
    if rng.random() < 0.5:
        if not pairs:
            return None
        reference_cell, direction, target_cell = pairs[rng.integers(len(pairs))]
        target, answer = objects[target_cell], "yes"
    else:
        direction = DIRECTIONS[rng.integers(len(DIRECTIONS))]
        there = objects.get(_neighbour(reference_cell, direction))
        elsewhere = [o for c, o in objects.items() if c != reference_cell and o != there]
        if elsewhere and rng.random() < 0.5:  # in the image, not there
            target = elsewhere[rng.integers(len(elsewhere))]
        else:
            options = [(c, s) for c in COLOURS for s in SHAPES
                       if (c, s) not in (there, objects[reference_cell])]
            target = options[rng.integers(len(options))]
        answer = "no"
    reference = objects[reference_cell]
    return (f"is there a {target[0]} {target[1]} on the {direction} of the "
            f"{reference[0]} {reference[1]}?", answer)


def _relative_attribute(objects, rng, asked):
    """What colour / shape is the object in the next cell in a direction from the named one?"""
    pairs = [(cell, d, _neighbour(cell, d)) for cell in objects for d in DIRECTIONS
             if _neighbour(cell, d) in objects]
    if not pairs:
        return None
    cell, direction, target_cell = pairs[rng.integers(len(pairs))]
    (colour, shape), target = objects[cell], objects[target_cell]
    if asked == "relative_colour":
        return f"what color is the object on the {direction} of the {colour} {shape}?", target[0]
    return f"what shape is the object on the {direction} of the {colour} {shape}?", target[1]


def example(seed, split, index, kind=None, relational=False, scene=False):
    """(image uint8 [48, 48, 3], question, answer, kind index) of example
    `index`; the kind drawn among the first four KINDS (the examples of the
    task before relative colour and shape questions), or among all six with
    `relational`. `scene`: the objects ({(row, column): (colour,
    shape)}) come fifth."""
    rng = np.random.default_rng([seed, SPLITS[split], index])
    kinds = KINDS if relational else KINDS[:4]
    kind = kinds[rng.integers(len(kinds))] if kind is None else kind
    crowded = relational and kind in RELATIONAL
    while True:
        objects = _scene(rng, CROWDED if crowded else (2, 5))
        if kind == "existence":
            qa = _existence(objects, rng)
        elif kind == "relative":
            qa = _relative(objects, rng)
        elif kind in ("relative_colour", "relative_shape"):
            qa = _relative_attribute(objects, rng, kind)
        else:
            qa = _attribute(objects, rng, kind)
        if qa is not None:
            drawn = render(objects, rng), qa[0], qa[1], KINDS.index(kind)
            return (*drawn, objects) if scene else drawn


def named_cells(objects, question):
    """(the named object's cell, the cell next to it in the question's
    direction or None off the grid) of a relational question."""
    words = question.rstrip("?").split()
    anchor = next(cell for cell, o in objects.items() if o == tuple(words[-2:]))
    return anchor, _neighbour(anchor, words[-5])


def _features(config):
    import tensorflow_datasets as tfds

    return {"image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
            "question": tfds.features.Text(),
            "answer": tfds.features.ClassLabel(names=ANSWERS),
            "kind": tfds.features.ClassLabel(names=KINDS)}


def _example(config, split, index):
    image, question, answer, kind = example(config.seed, split, index, relational=config.relational)
    return {"image": image, "question": question, "answer": answer, "kind": KINDS[kind]}


def builder(examples=None, seed=0, cache_dir="runs/tfds", relational=False):
    """A prepared builder of the splits in `examples` ({split: count};
    default DEFAULT_EXAMPLES), with relative colour and shape questions
    if `relational`. Example i of a split is the same whatever
    the counts."""
    examples = generated.split_counts(examples or DEFAULT_EXAMPLES, {}, SPLITS)
    if not all(isinstance(n, int) and n > 0 for n in examples.values()):
        raise ValueError(f"`examples` counts must be positive ints; received {examples}.")
    classes = generated.builder_class(
        "SpecialnetsShapesVqa", "Questions about coloured shapes on a grid (Xu & Saenko 2016, synthetic), generated.",
        _features, _example, fields={"relational": False})
    name = f"seed{seed}-relational-crowded" if relational else f"seed{seed}"
    return generated.prepare_builder(classes, "shapes-vqa", name, f"seed {seed}", examples, cache_dir,
                                     seed=seed, relational=bool(relational))


def question_ids(questions):
    """int32 [N, W] word ids of question strings (0 padding, 1 unknown), as the serving graph makes them."""
    ids = {word: i + 2 for i, word in enumerate(WORDS)}
    tokens = [re.sub(PUNCTUATION, " ", q.lower()).split() for q in questions]
    out = np.zeros((len(tokens), max(map(len, tokens))), np.int32)
    for n, words in enumerate(tokens):
        out[n, : len(words)] = [ids.get(w, 1) for w in words]
    return out


def _arrays(split, examples, seed, cache_dir, relational=False):
    """(images uint8 [N, 48, 48, 3], questions, answer ids int64, kinds int64) of a split."""
    # Held-out splits keep their default size whatever the training size.
    count = examples if examples and split == "train" else DEFAULT_EXAMPLES[split]
    ds = builder({split: count}, seed=seed, cache_dir=cache_dir, relational=relational)
    ds = ds.as_dataset(split=split)
    rows = list(ds.as_numpy_iterator())
    return (np.stack([r["image"] for r in rows]), [r["question"].decode() for r in rows],
            np.array([r["answer"] for r in rows], np.int64), np.array([r["kind"] for r in rows]))


def dataset(split, data_dir=None, batch_size=64, augment=False, seed=0, limit=None,
            cache_dir="runs/tfds", shuffle=None, examples=None, first_epoch=0, relational=False,
            simple_epochs=0):
    """({"image" float32 [B, 48, 48, 3], "question_ids" int32 [B, W]}, answer int64)
    batches; the data (seed 0) is the same for every training seed, which
    only shuffles (with another seed for a run resumed at `first_epoch`, see
    `training/epochs.py`). `data_dir` and `augment` are unused: the task is
    generated; `relational`: see `example`. `simple_epochs` (with
    `relational`): a curriculum, the first that many training epochs ask
    as many questions of the four simple kinds only (the task's data
    without `relational`), the later ones the relational task's."""
    if isinstance(simple_epochs, bool) or not isinstance(simple_epochs, int) or simple_epochs < 0:
        raise ValueError(f"`simple_epochs` must be an int >= 0; received {simple_epochs!r}.")
    if simple_epochs and not relational:
        raise ValueError("`simple_epochs` is a curriculum towards the relational questions: it needs "
                         "`relational=True`.")
    images, questions, answers, _ = _arrays(split, examples, 0, cache_dir, relational)
    images, answers = images[:limit], answers[:limit]
    ids = question_ids(questions[: len(answers)])
    if simple_epochs and split == "train":
        simple_images, simple_questions, simple_answers, _ = _arrays(split, examples, 0, cache_dir)
        stages = ((simple_images[:limit], question_ids(simple_questions[: len(answers)]),
                   simple_answers[:limit]), (images, ids, answers))
        return _curriculum(stages, simple_epochs, batch_size, seed, first_epoch)
    ds = tf.data.Dataset.from_tensor_slices(
        ({"image": images, "question_ids": ids}, answers))
    if shuffle if shuffle is not None else split == "train":
        ds = ds.shuffle(len(answers), seed=resumed_seed(seed, first_epoch),
                        reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda x, y: ({"image": tf.cast(x["image"], tf.float32) / 255.0,
                       "question_ids": x["question_ids"]}, y))
    return ds.prefetch(tf.data.AUTOTUNE)


def _curriculum(stages, simple_epochs, batch_size, seed, first_epoch):
    """Batches of `stages[0]` (images, question ids, answers) in epochs
    before `simple_epochs`, of `stages[1]` after; each epoch shuffled by
    (seed, epoch), so a resumed run draws what an uninterrupted one would."""
    epochs = EpochCounter(first_epoch)

    def generate():
        epoch = epochs.draw()
        images, ids, answers = stages[0] if epoch < simple_epochs else stages[1]
        order = np.random.default_rng([seed, epoch]).permutation(len(answers))
        for start in range(0, len(order), batch_size):
            rows = np.sort(order[start:start + batch_size])
            yield ({"image": images[rows].astype(np.float32) / 255.0, "question_ids": ids[rows]},
                   answers[rows])

    count = len(stages[1][2])
    ds = tf.data.Dataset.from_generator(generate, output_signature=(
        {"image": tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32),
         "question_ids": tf.TensorSpec((None, None), tf.int32)},
        tf.TensorSpec((None,), tf.int64)))
    return ds.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size))).prefetch(2)


LABELS = np.dtype([("kind", np.int32), ("answer", object)])


def held_out(split, data_dir=None, cache_dir="runs/tfds", examples=None, relational=False, data_seed=0,
             **options):
    """({"image": float32 [N, 48, 48, 3], "question": str [N]}, labels (kind, answer))
    of `split` of the data drawn with `data_seed` (training uses seed 0;
    another seed's split is data that no run trained or was selected on)."""
    if isinstance(data_seed, bool) or not isinstance(data_seed, int) or data_seed < 0:
        raise ValueError(f"`data_seed` must be an int >= 0; received {data_seed!r}.")
    images, questions, answers, kinds = _arrays(split, None, data_seed, cache_dir, relational)
    labels = np.array([(k, ANSWERS[a]) for k, a in zip(kinds, answers)], dtype=LABELS)
    return {"image": images.astype(np.float32) / 255.0, "question": np.array(questions, object)}, labels


def score(outputs, inputs, labels):
    """Answer error overall, per kind of question and per group of kinds
    (simple: one object; relational: an object and its neighbour)."""
    answers = np.array([a.decode() if isinstance(a, bytes) else str(a) for a in outputs["answer"]])
    wrong = answers != labels["answer"].astype(str)
    per_kind = {KINDS[k]: float(wrong[labels["kind"] == k].mean()) for k in np.unique(labels["kind"])}
    groups = {}
    for group, kinds in (("simple", SIMPLE), ("relational", RELATIONAL)):
        chosen = np.isin(labels["kind"], [KINDS.index(k) for k in kinds])
        if chosen.any():
            groups[group] = float(wrong[chosen].mean())
    return {"error": float(wrong.mean()), "accuracy": float(1 - wrong.mean()), "kind_errors": per_kind,
            "group_errors": groups}


def write_examples(count=6):
    """Rewrites zoo/examples/vqa_shapes.npz: the first test example of each kind (the relational
    kinds included), then the next ones."""
    from zoo import registry

    drawn = [example(0, "test", i, relational=True) for i in range(4 * count)]
    firsts = [next(i for i, e in enumerate(drawn) if e[3] == k) for k in range(len(KINDS))]
    chosen = (firsts + [i for i in range(len(drawn)) if i not in firsts])[:count]
    path = registry.EXAMPLES_DIR / "vqa_shapes.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, image=np.stack([drawn[i][0] for i in chosen]),
                        question=np.array([drawn[i][1] for i in chosen]))
    tmp.replace(path)
    return path


TASKS = {"vqa_shapes": Task(
    name="vqa_shapes",
    dataset=dataset,
    loss="sparse_categorical_crossentropy",
    metrics=("sparse_categorical_accuracy",),
    error_metric="sparse_categorical_accuracy",
    prediction_output="answer",
    description=("generated shapes VQA: 2 to 5 coloured shapes on a 3 x 3 grid; existence, "
                 "colour, shape and relative-position questions, and the colour or shape of "
                 "a named object's neighbour (tfds builder, seed 0)"),
    needs_data=False,
    held_out=held_out,
    score=score,
    held_out_from_preset=("relational",),
)}


if __name__ == "__main__":
    print(write_examples())
