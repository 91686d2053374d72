import numpy as np
import pytest
import tensorflow as tf

from custom_layers import MemoryHop
from training.tasks import shapes_vqa
from zoo import vqa_shapes


def _objects_of(image):
    """{(row, column): colour} read back from the pixels of each cell's centre region."""
    found = {}
    cell = shapes_vqa.CELL
    for row in range(vqa_shapes.GRID):
        for column in range(vqa_shapes.GRID):
            patch = image[row * cell:(row + 1) * cell, column * cell:(column + 1) * cell] / 255.0
            bright = patch[patch.max(-1) > 0.5]
            if len(bright):
                mean = bright.mean(0)
                found[(row, column)] = min(shapes_vqa.RGB, key=lambda c: np.abs(np.array(shapes_vqa.RGB[c]) - mean).sum())
    return found


def test_examples_repeat_and_answers_are_true_of_the_picture():
    for index in range(200):
        image, question, answer, kind = shapes_vqa.example(0, "validation", index)
        again = shapes_vqa.example(0, "validation", index)
        assert question == again[1] and np.array_equal(image, again[0])
        assert answer in vqa_shapes.ANSWERS and image.shape == (48, 48, 3) and image.dtype == np.uint8
        colours = _objects_of(image)
        words = question.rstrip("?").split()
        if shapes_vqa.KINDS[kind] == "existence":
            assert (answer == "no") or words[3] in colours.values()
        if shapes_vqa.KINDS[kind] == "relative" and answer == "yes":
            target, direction, reference = words[3], words[7], words[10]
            pairs = [(cell, shapes_vqa._neighbour(cell, direction)) for cell in colours]
            assert any(colours[a] == reference and colours.get(b) == target for a, b in pairs)
    assert not np.array_equal(shapes_vqa.example(0, "train", 0)[0], shapes_vqa.example(0, "validation", 0)[0])


def test_kinds_and_answers_are_balanced():
    drawn = [shapes_vqa.example(1, "train", i) for i in range(800)]
    kinds = np.bincount([k for *_, k in drawn], minlength=4)
    assert np.all(kinds > 150), kinds
    for kind in ("existence", "relative"):
        answers = [a for _, _, a, k in drawn if shapes_vqa.KINDS[k] == kind]
        assert 0.35 < answers.count("yes") / len(answers) < 0.65


def test_relative_no_is_false_of_the_scene():
    rng = np.random.default_rng(0)
    for _ in range(300):
        objects = shapes_vqa._scene(rng)
        qa = shapes_vqa._relative(objects, rng)
        if qa is None or qa[1] == "yes":
            continue
        words = qa[0].rstrip("?").split()
        target, direction, reference = (words[3], words[4]), words[7], (words[10], words[11])
        cell = next(c for c, o in objects.items() if o == reference)
        assert objects.get(shapes_vqa._neighbour(cell, direction)) != target


def test_question_ids_match_the_serving_tokeniser():
    ids = shapes_vqa.question_ids(["Is there a RED square?", "what zorg"])
    words = {w: i + 2 for i, w in enumerate(vqa_shapes.WORDS)}
    assert ids[0].tolist() == [words["is"], words["there"], words["a"], words["red"], words["square"]]
    assert ids[1].tolist() == [words["what"], 1, 0, 0, 0]


@pytest.mark.parametrize("hops", [1, 2])
def test_model_attends_over_the_grid_once_per_hop(hops):
    model = vqa_shapes.build_vqa_shapes(hops=hops, depth=8, filters=(4, 4, 8, 8, 8))
    assert len([l for l in model.layers if isinstance(l, MemoryHop)]) == hops
    serve = vqa_shapes.serving_fn(model)
    inputs = vqa_shapes._examples()
    outputs = serve(image=tf.constant(inputs["image"]), question=tf.constant(inputs["question"].astype(str)))
    batch = len(inputs["image"])
    assert outputs["attention"].shape == (batch, hops, 6, 6)
    np.testing.assert_allclose(outputs["attention"].numpy().sum((-1, -2)), 1, atol=1e-5)
    assert all(a.decode() in vqa_shapes.ANSWERS for a in outputs["answer"].numpy())
    odd = serve(image=tf.zeros((1, 48, 48, 3)), question=tf.constant(["Is there a PURPLE hexagon?!"]))
    assert odd["answer"].shape == (1,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="`image` must be finite"):
        serve(image=tf.fill((1, 48, 48, 3), np.nan), question=tf.constant(["is there a red square?"]))


def test_builder_arguments_are_checked():
    with pytest.raises(ValueError, match="`hops` must be a positive int"):
        vqa_shapes.build_vqa_shapes(hops=0)
    with pytest.raises(ValueError, match="`examples` splits must be among"):
        shapes_vqa.builder({"dev": 10})


def test_scores_per_kind():
    labels = np.array([(0, "yes"), (0, "no"), (3, "no")], dtype=shapes_vqa.LABELS)
    scores = shapes_vqa.score({"answer": np.array([b"yes", b"yes", b"no"])}, {}, labels)
    assert scores["kind_errors"] == {"existence": 0.5, "relative": 0.0}
    assert scores["accuracy"] == pytest.approx(2 / 3)
