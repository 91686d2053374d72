import json

import numpy as np
import pytest

import zoo
from specialnets import cli
from training import visualize
from training.tasks.pointer import pipeline as pointer_data


def smoke_run(name, tmp_path):
    """Untrained weights of the smoke preset in a run directory."""
    entry = zoo.get(name)
    model = entry.build("smoke")
    run = tmp_path / "run"
    run.mkdir()
    model.save_weights(run / "final.weights.h5")
    (run / "metrics.json").write_text(json.dumps({"model_config": entry.preset("smoke").model}))
    return model, run / "final.weights.h5"


@pytest.mark.parametrize("name", ["pointer_sort", "pointer_hull", "pointer_tsp"])
def test_visualize_writes_a_png(name, tmp_path, capsys):
    _, weights = smoke_run(name, tmp_path)
    cli.main(["visualize", name, "--weights", str(weights), "--output", str(tmp_path / "p.png")])
    assert capsys.readouterr().out.strip() == str(tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["hull", "tsp"])
def test_attention_follows_the_decoders_own_sequence(kind, tmp_path):
    model, _ = smoke_run(f"pointer_{kind}", tmp_path)
    inputs, _ = pointer_data.held_out(kind, "test", size=8, examples=3)
    targets, probabilities = visualize.pointer_attention(model, inputs, kind)
    n = 8
    assert probabilities.shape == (3, targets.shape[1], n + (kind == "hull"))
    np.testing.assert_allclose(probabilities.sum(-1), 1, atol=1e-4)
    for row, sequence in zip(probabilities, targets):
        steps = (sequence >= 0).sum()
        chosen = row[np.arange(steps), sequence[:steps]]
        np.testing.assert_array_less(row[:steps].max(-1) - 1e-4, chosen)  # greedy: the argmax
    if kind == "hull":  # END (= n) closes every row, once
        assert all((s == n).sum() == 1 and s[(s >= 0).sum() - 1] == n for s in targets)
    else:  # the cities after 0, each once
        assert all(sorted(s) == list(range(1, n)) for s in targets)
