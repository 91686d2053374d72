"""`scripts/cross_backend_check.py`, the cross-backend layer check, on TensorFlow."""

import importlib.util
import pathlib

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "cross_backend_check.py"
_spec = importlib.util.spec_from_file_location("cross_backend_check", _PATH)
cb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cb)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("backend") / "reference.npz")
    cb.save(path)
    return path


def test_every_layer_of_the_package_has_a_case():
    import custom_layers

    layer_classes = {getattr(custom_layers, n) for n in custom_layers.__all__
                     if n not in ("LinearStart", "PointerLoss", "PointerAccuracy")}
    built = [cb._built(name, inputs=cb._inputs(specs, 0)) for name, (_, specs, _) in cb.CASES.items()]
    # An RNN layer's case covers its cell too.
    covered = {type(layer) for layer in built} | {type(layer.cell) for layer in built
                                                 if hasattr(layer, "cell")}
    assert layer_classes == covered


def test_references_pass_on_tensorflow(reference, capsys):
    cb.compare(reference)
    assert f"all {len(cb.CASES)} layers match" in capsys.readouterr().out


def test_a_changed_weight_fails_and_names_the_layer(reference, tmp_path):
    values = dict(np.load(reference))
    values["highway/weight/0"] = values["highway/weight/0"] + 1e-2
    changed = str(tmp_path / "changed.npz")
    np.savez(changed, **values)
    with pytest.raises(SystemExit, match="1 of 2 layers differ: highway"):
        cb.compare(changed, layers=["highway", "null_memory"])


def test_bad_arguments_are_named(reference, tmp_path):
    with pytest.raises(SystemExit, match="`layers`: unknown nope"):
        cb.compare(reference, layers=["nope"])
    with pytest.raises(SystemExit, match="`reference`: no such file"):
        cb.main(["compare", str(tmp_path / "missing.npz")])
