"""k-bit parity (Kalchbrenner et al. 2016): the task, `grid_lstm_parity` and `mlp_parity`."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from custom_layers import GridLSTM1D
from training import train
from training.tasks import parity
from zoo import grid_lstm_parity
from zoo.grid_lstm_parity import BITS, build_grid_lstm_parity, build_mlp_parity


def _batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(xa, xb) and np.array_equal(ya, yb)
                                    for (xa, ya), (xb, yb) in zip(a, b))


def test_training_strings_are_deterministic_per_seed_fresh_per_epoch_and_resumable():
    def make(**kwargs):
        return parity.parity_dataset("train", batch_size=8, train_examples=24, bits=12, **kwargs)

    ds = make(seed=0)
    epoch_1, epoch_2 = _batches(ds), _batches(ds)
    assert len(epoch_1) == 3 and epoch_1[0][0].shape == (8, 12) and epoch_1[0][1].shape == (8, 1)
    assert _same(epoch_1, _batches(make(seed=0)))
    assert not _same(epoch_1, epoch_2)
    assert _same(epoch_2, _batches(make(seed=0, first_epoch=1)))
    assert not _same(epoch_1, _batches(make(seed=1)))
    validation = parity.parity_dataset("validation", batch_size=8, validation_examples=16, bits=12)
    assert _same(_batches(validation), _batches(parity.parity_dataset(
        "validation", seed=5, batch_size=8, validation_examples=16, bits=12)))


def test_labels_are_the_parity_of_the_bits():
    for density in ("half", "mixed"):
        for x, y in _batches(parity.parity_dataset("train", batch_size=64, train_examples=256, bits=30,
                                                   density=density)):
            assert set(np.unique(x)) <= {0.0, 1.0}
            np.testing.assert_array_equal(y[:, 0], np.bitwise_xor.reduce(x.astype(np.int64), axis=1))
    x, _ = _batches(parity.parity_dataset("train", batch_size=2000, train_examples=2000, bits=30,
                                          density="mixed"))[0]
    ones = x.mean(axis=1)
    assert ones.min() < 0.1 and ones.max() > 0.9  # strings of every density
    half, _ = _batches(parity.parity_dataset("train", batch_size=2000, train_examples=2000, bits=30))[0]
    assert abs(half.mean() - 0.5) < 0.01 and half.mean(axis=1).std() < 0.15
    np.testing.assert_array_equal(parity.parity(np.array([[0, 0], [1, 0], [1, 1], [1, 1]], np.float32)),
                                  [0, 1, 0, 0])


def test_curriculum_grows_the_random_bits_from_2_to_k_as_training_masters_them():
    ds = parity.parity_dataset("train", batch_size=200, train_examples=200, bits=10, curriculum=True,
                               curriculum_positions="leading")
    [callback] = parity.curriculum_callbacks(zoo.get("grid_lstm_parity").preset("paper"))
    for epoch, (accuracy, active) in enumerate([(0.95, 2), (0.5, 3), (0.91, 3), (1.0, 4)]):
        [(x, y)] = _batches(ds)
        assert not x[:, active:].any() and x[:, active - 1].any(), (epoch, active)
        np.testing.assert_array_equal(y[:, 0], x.sum(axis=1) % 2)
        callback.on_epoch_end(epoch, {"binary_accuracy": accuracy})
    assert callback.curriculum.history == [(1, 3), (3, 4), (4, 5)]
    for epoch in range(4, 20):
        callback.on_epoch_end(epoch, {"binary_accuracy": 1.0})
    assert callback.curriculum.bits == 10  # at most K
    [(x, _)] = _batches(ds)
    assert x[:, -1].any() and 0.45 < x.mean() < 0.55
    assert parity.curriculum_callbacks(zoo.get("grid_lstm_parity").preset("smoke")) == []
    mask = parity.curriculum_mask(np.random.default_rng(0), 500, 10, 3)  # 3 random positions a string
    assert (mask.sum(axis=1) == 3).all() and (mask.mean(axis=0) > 0.2).all()
    [(x, y)] = _batches(parity.parity_dataset("train", batch_size=200, train_examples=200, bits=10,
                                              curriculum=True))
    assert (x.sum(axis=1) <= 2).all() and x[:, -1].any()
    np.testing.assert_array_equal(y[:, 0], x.sum(axis=1) % 2)
    validation = np.concatenate([x for x, _ in _batches(parity.parity_dataset(
        "validation", batch_size=100, validation_examples=100, bits=10, curriculum=True))])
    assert validation[:, -1].any()  # validation strings: all K bits
    with pytest.raises(ValueError, match="`curriculum`"):
        parity.parity_dataset("train", curriculum=1)
    with pytest.raises(ValueError, match="`curriculum_positions`"):
        parity.parity_dataset("train", curriculum=True, curriculum_positions="last")
    with pytest.raises(ValueError, match="`curriculum_threshold`"):
        parity.parity_dataset("train", curriculum=True, curriculum_threshold=0.4)


def test_held_out_strings_are_fixed_uniform_and_not_drawn_by_training():
    test, labels = parity.held_out("test", bits=20, examples=300)
    again, _ = parity.held_out("test", bits=20, examples=300)
    validation, _ = parity.held_out("validation", bits=20, examples=300)
    assert test["bits"].shape == (300, 20) and labels.dtype == np.int64
    np.testing.assert_array_equal(test["bits"], again["bits"])
    np.testing.assert_array_equal(labels, test["bits"].sum(axis=1).astype(np.int64) % 2)
    assert not np.array_equal(test["bits"], validation["bits"])
    assert 0.4 < labels.mean() < 0.6 and abs(test["bits"].mean() - 0.5) < 0.03
    # Streams apart: no string in common (at K = 40, a chance collision has odds of 1e-9).
    held = {row.tobytes() for split in ("test", "validation")
            for row in parity.held_out(split, bits=40, examples=300)[0]["bits"]}
    training = np.concatenate([x for x, _ in _batches(parity.parity_dataset(
        "train", batch_size=500, train_examples=2000, bits=40))])
    assert not held & {row.tobytes() for row in training}
    assert parity.held_out("test", examples=3)[0]["bits"].shape == (3, BITS)


def test_tfds_builder_holds_the_held_out_strings(tmp_path):
    builder = parity.builder(bits=16, examples={"train": 4, "validation": 5, "test": 6}, cache_dir=tmp_path)
    rows = list(builder.as_dataset(split="test").as_numpy_iterator())
    held, labels = parity.held_out("test", bits=16, examples=6)
    np.testing.assert_array_equal(np.stack([r["bits"] for r in rows]), held["bits"])
    np.testing.assert_array_equal([r["parity"] for r in rows], labels)
    with pytest.raises(ValueError, match="`examples` splits"):
        parity.builder(examples={"dev": 3}, cache_dir=tmp_path)


def test_score_counts_right_parities():
    scores = parity.score({"parity": np.array([1, 0, 1, 1])}, {"bits": np.zeros((4, 7))}, np.array([1, 0, 0, 1]))
    assert scores == {"bits": 7, "accuracy": 0.75, "error": 0.25}


def test_grid_model_is_one_tied_block_applied_depth_times():
    shallow, deep = build_grid_lstm_parity(bits=10, units=6, depth=2), build_grid_lstm_parity(bits=10, units=6,
                                                                                              depth=9)
    layer = deep.get_layer("grid_lstm")
    assert isinstance(layer, GridLSTM1D) and layer.tied and layer.depth == 9 and len(layer.blocks) == 1
    assert shallow.count_params() == deep.count_params() == 10 * 6 + (6 * 24 + 24) + 7
    assert deep(np.ones((3, 10), np.float32)).shape == (3, 1)
    untied = build_grid_lstm_parity(bits=10, units=6, depth=3, tied=False)
    assert len(untied.get_layer("grid_lstm").blocks) == 3
    mlp = build_mlp_parity(bits=10, units=6, depth=9)
    hidden = [l for l in mlp.layers if l.name.startswith("layer_")]
    assert len(hidden) == 9 and all(l.units == 6 for l in hidden)
    assert mlp(np.ones((3, 10), np.float32)).shape == (3, 1)


@pytest.mark.parametrize("name", ["grid_lstm_parity", "mlp_parity"])
def test_signature_and_serving(name):
    entry = zoo.get(name)
    assert [(i.name, i.dtype, i.shape) for i in entry.inputs] == [("bits", "float32", (None, BITS))]
    assert [(o.name, o.dtype, o.shape) for o in entry.outputs] == [("probability_odd", "float32", (None,)),
                                                                    ("parity", "int64", (None,))]
    assert all(p.task["bits"] == BITS == p.model["bits"] for p in entry.presets.values())
    model = entry.build("smoke")
    out = entry.serving_fn(model)(**entry.example_inputs())
    direct = model(entry.example_inputs()["bits"]).numpy()[:, 0]
    np.testing.assert_allclose(out["probability_odd"].numpy(), direct, atol=1e-6)
    np.testing.assert_array_equal(out["parity"].numpy(), (direct > 0.5).astype(np.int64))


def test_stacked_lstm_baseline_has_no_memory_between_layers():
    """activation="lstm": each layer one LSTM step from a zero state, h = o * tanh(i * g)."""
    model = build_mlp_parity(bits=6, units=3, depth=2, activation="lstm")
    bits = np.random.default_rng(0).integers(0, 2, (4, 6)).astype("float32")
    h = bits
    for d in range(2):
        kernel, _, bias = model.get_layer(f"layer_{d}").get_weights()
        z = h @ kernel + bias
        i, _, g, o = np.split(z, 4, axis=-1)
        sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        h = sigmoid(o) * np.tanh(sigmoid(i) * np.tanh(g))
    kernel, bias = model.get_layer("probability_odd").get_weights()
    np.testing.assert_allclose(model(bits).numpy(), 1 / (1 + np.exp(-(h @ kernel + bias))), rtol=1e-5, atol=1e-6)


def test_bad_inputs_and_arguments_are_named():
    serve = grid_lstm_parity.serving_fn(build_grid_lstm_parity(bits=8, units=4, depth=2))
    assert serve(bits=tf.ones((2, 8)))["parity"].shape == (2,)
    for bad in (0.5, 2.0, -1.0, float("nan")):
        with pytest.raises(tf.errors.InvalidArgumentError, match="`bits` must hold only 0 and 1"):
            serve(bits=tf.fill((2, 8), bad))
    with pytest.raises(ValueError, match=r"`bits` must be float32 \[B, 8\].*received shape \[2, 9\]"):
        serve(bits=tf.ones((2, 9)))
    with pytest.raises(ValueError, match=r"`bits` must be float32 \[B, 8\]"):
        serve(bits=tf.ones((2, 8, 1)))
    for kwargs, message in [(dict(bits=0), "`bits`"), (dict(units=0), "`units`"), (dict(depth=1.5), "`depth`"),
                            (dict(init_scale=0), "`init_scale`")]:
        with pytest.raises(ValueError, match=message):
            build_grid_lstm_parity(**kwargs)
    with pytest.raises(ValueError, match="`activation`"):
        build_mlp_parity(activation="sigmoid")
    for kwargs, message in [(dict(bits=0), "`bits`"), (dict(density="low"), "`density`"),
                            (dict(split="test"), "`split`")]:
        with pytest.raises(ValueError, match=message):
            parity.parity_dataset(**{"split": "train", **kwargs})
    with pytest.raises(ValueError, match="`split`"):
        parity.held_out("train")


@pytest.mark.parametrize("name", ["grid_lstm_parity", "mlp_parity"])
def test_smoke_training_scores_held_out_strings(name, tmp_path):
    info = train.train(name, preset="smoke", run_dir=tmp_path / name, verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["split"] == "validation" and held_out["examples"] == 1000 and held_out["bits"] == BITS
    assert 0 <= held_out["accuracy"] <= 1 and held_out["error"] == pytest.approx(1 - held_out["accuracy"])
    assert info["model_config"]["bits"] == BITS and (tmp_path / name / "final.weights.h5").exists()


_SCORES = {}
NAMES = ("grid_lstm_parity", "mlp_parity")


def _export_scores(zoo_exports, name):
    """Both exports' figures on the 1,000 test strings, from one process that
    cannot import this project (`exports.verify`), computed once."""
    from exports import verify
    from training import tasks

    if not _SCORES:
        zoo_exports.prefetch(list(NAMES))
        held = {n: train.held_out_arrays(n, split="test") for n in NAMES}
        results = verify.run_isolated_many([(zoo_exports.get(n), n, held[n][0]) for n in NAMES])
        for n, (_, outputs) in zip(NAMES, results):
            inputs, labels = held[n]
            _SCORES[n] = {"examples": len(labels), **tasks.get("parity").scores(outputs, inputs, labels)}
    return _SCORES[name]


def test_pretrained_grid_lstm_meets_issue_28_on_held_out_test_strings(zoo_exports):
    scores = _export_scores(zoo_exports, "grid_lstm_parity")
    assert scores["examples"] == 1000 and scores["bits"] == BITS >= 50
    assert scores["accuracy"] >= 0.99, scores


def test_pretrained_mlp_is_reported_on_the_same_strings(zoo_exports):
    scores = _export_scores(zoo_exports, "mlp_parity")  # the paper's baseline: near chance expected
    assert scores["examples"] == 1000 and scores["bits"] == BITS
    assert scores["accuracy"] == pytest.approx(1 - scores["error"]) and 0 <= scores["accuracy"] <= 1
    print(f"mlp_parity on 1,000 test strings of {BITS} bits: {scores['accuracy']:.1%}")


def test_gate_trace_reproduces_the_model_and_the_picture_is_drawn(tmp_path):
    from training.visualize import grid_lstm_gate_trace as gate_trace
    from training.visualize import visualize_grid_lstm_parity

    model = build_grid_lstm_parity(units=6, depth=5)
    bits, _ = parity.held_out("validation", examples=4)
    trace = gate_trace(model, bits["bits"])
    assert trace["input"].shape == (5, 4, 6) and trace["odd"].shape == (5, 4)
    np.testing.assert_allclose(trace["odd"][-1], model(bits["bits"]).numpy()[:, 0], atol=1e-5)
    text = visualize_grid_lstm_parity(model, tmp_path / "gates.png")
    assert (tmp_path / "gates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(text.splitlines()) == 2 + 5
    with pytest.raises(ValueError, match="`model`"):
        gate_trace(build_mlp_parity(units=4, depth=2), bits["bits"])
