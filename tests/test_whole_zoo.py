"""The whole pretrained zoo: every model exports and serves where no project
code loads, and the main job (`specialnets demo`) serves them all. One module,
so that one worker exports the zoo (tests/conftest.py starts it first)."""

import json
import re

import numpy as np
import pytest

import zoo
from exports import export
from tests.test_cli import run_cli

ALL_BUT_HIGHWAY = [n for n in zoo.names() if n != "highway_mnist"]  # test_export.py has its own


@pytest.mark.parametrize("name", ALL_BUT_HIGHWAY)
def test_every_zoo_model_exports_and_loads_without_project_code(name, zoo_exports):
    entry = zoo.get(name)
    zoo_exports.prefetch(ALL_BUT_HIGHWAY)  # the first case verifies them all in one process
    path = zoo_exports.get(name)
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["verified_without_project_code"] and export.matching_export(name, base=path.parents[1]) == path
    outputs = zoo_exports.outputs[name]  # run where no project code loads
    expected = entry.serving_fn(entry.load_pretrained())(**zoo_exports.inputs[name])
    for info in entry.outputs:
        if info.dtype == "string":
            np.testing.assert_array_equal(
                outputs[info.name], np.char.decode(expected[info.name].numpy().astype(bytes)))
        else:
            np.testing.assert_allclose(outputs[info.name], expected[info.name].numpy(), atol=1e-5)


def test_demo_prints_the_table(zoo_exports, tmp_path):
    """The main job on a base holding identical exports of all but
    highway_mnist: it reuses those, exports that one, and serves them all."""
    zoo_exports.prefetch(ALL_BUT_HIGHWAY)
    base = tmp_path / "exports"
    base.mkdir()
    for name in ALL_BUT_HIGHWAY:  # the session's exports, linked where the demo looks
        (base / name).symlink_to(zoo_exports.get(name).parent)
    result = run_cli("demo", "--base", base)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    exported = [line for line in lines if line.startswith("exported and verified ")]
    assert exported == [f"exported and verified {base / 'highway_mnist' / '1'}"]
    assert sum(line.startswith("reused ") for line in lines) == len(zoo.names()) - 1
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = {line.split(" ")[0]: line for line in lines[header + 2:] if " | " in line}
    assert set(rows) == set(zoo.names())
    # Each row: a held-out figure with the split and the number of examples it was measured on.
    assert all(re.search(r"\((validation|beyond_1k), \d+(, n=\d+)?\)", row) for row in rows.values()), rows
    assert '"class_id": 1' in rows["highway_mnist"]
