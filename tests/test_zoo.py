import re

import numpy as np
import pytest

import zoo
from custom_layers import Highway, HighwayConv2D
from zoo.highway_mnist import build_highway_mnist


def test_unknown_model_is_a_clear_error():
    expected = re.escape(f"Unknown zoo model 'nope'; expected one of {zoo.names()}")
    assert "'highway_mnist', " in expected.replace("\\", "")
    with pytest.raises(ValueError, match=expected):
        zoo.get("nope")


@pytest.mark.parametrize("name", zoo.names())
def test_every_entry_is_complete(name):
    entry = zoo.get(name)
    assert set(entry.presets) >= {"smoke", "quick", "paper"}
    examples = entry.example_inputs()
    assert list(examples) == [i.name for i in entry.inputs]
    model = entry.build("smoke")
    outputs = entry.serving_fn(model)(**examples)
    assert list(outputs) == [o.name for o in entry.outputs]
    for info in entry.outputs:
        assert outputs[info.name].dtype.name == info.dtype
        assert outputs[info.name].shape[0] == len(next(iter(examples.values())))


@pytest.mark.parametrize("kind", ["highway", "plain", "residual"])
@pytest.mark.parametrize("topology", ["dense", "conv"])
def test_builder_kinds_compare_like_with_like(kind, topology):
    model = build_highway_mnist(depth=5, width=8, kind=kind, topology=topology)
    hidden = [l for l in model.layers if l.name.startswith("layer_")]
    assert len(hidden) == 5
    highway = [l for l in hidden if isinstance(l, (Highway, HighwayConv2D))]
    assert len(highway) == (4 if kind == "highway" else 0)
    probabilities = model(np.random.rand(2, 28, 28, 1).astype("float32"))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.numpy().sum(-1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"kind": "gated"}, "`kind` must be one of"),
        ({"topology": "graph"}, "`topology` must be one of"),
        ({"depth": 1}, "`depth` must be an int >= 2"),
        ({"width": 0}, "`width` must be a positive int"),
        ({"head": "mean"}, "`head` must be one of"),
    ],
)
def test_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_highway_mnist(**kwargs)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown preset 'fast'.*\['paper', 'quick', 'smoke'\]"):
        zoo.get("highway_mnist").build("fast")


def test_corrupt_weights_are_refused():
    import dataclasses

    entry = dataclasses.replace(zoo.get("highway_mnist"), weights_sha256="0" * 64)
    with pytest.raises(ValueError, match="have sha256 .* but the registry expects 0000"):
        entry.load_pretrained()
