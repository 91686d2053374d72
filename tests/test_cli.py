import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from specialnets import cli

REPO = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["list", "train", "evaluate", "export", "serve", "predict", "generate", "visualize", "demo"]


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "specialnets", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: specialnets " + command in capsys.readouterr().out


def test_unknown_model_is_one_clear_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", "no_such_model"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == ("specialnets export: error: Unknown zoo model 'no_such_model'; "
                           f"expected one of {zoo.names()}.")


def test_missing_data_dir_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.delenv("SPECIALNETS_DATA", raising=False)
    with pytest.raises(SystemExit):
        cli.main(["train", "highway_mnist", "--preset", "smoke"])
    assert "pass --data-dir DIR or set SPECIALNETS_DATA" in capsys.readouterr().err


def test_export_then_predict_locally(tmp_path, capsys):
    cli.main(["export", "highway_mnist", "--base", str(tmp_path)])
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "highway_mnist" / "1")
    images = zoo.get("highway_mnist").example_inputs()["image"][:2]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"instances": images.tolist()}))
    cli.main(["predict", "highway_mnist", "--input", str(request), "--base", str(tmp_path)])
    answer = json.loads(capsys.readouterr().out)
    assert [p["class_id"] for p in answer["predictions"]] == [1, 2]
    np.save(tmp_path / "images.npy", images)
    cli.main(["predict", "highway_mnist", "--input", str(tmp_path / "images.npy"), "--base", str(tmp_path)])
    assert json.loads(capsys.readouterr().out)["outputs"]["class_id"] == [1, 2]
    request.write_text('{"instances": [[1, 2]]}')
    with pytest.raises(SystemExit) as exit_:
        cli.main(["predict", "highway_mnist", "--input", str(request), "--base", str(tmp_path)])
    assert exit_.value.code == 2
    assert "Input 'image' has shape [1, 2]" in capsys.readouterr().err


def test_evaluate_an_export_without_project_code(tiny_data_dir, tmp_path, capsys):
    cli.main(["export", "highway_mnist", "--base", str(tmp_path), "--no-verify"])
    capsys.readouterr()
    cli.main(["evaluate", "highway_mnist", "--export", str(tmp_path / "highway_mnist" / "1"),
              "--data-dir", str(tiny_data_dir), "--cache-dir", str(tmp_path / "tfds")])
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 1000 and result["error"] <= 0.02


@pytest.mark.parametrize("name", ["highway_mnist", "st_cnn_rts", "vqa_shapes"])
def test_visualize_writes_a_png(name, tmp_path, capsys):
    cli.main(["visualize", name, "--output", str(tmp_path / "picture.png")])
    assert (tmp_path / "picture.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_beyond_1k_split_is_for_the_babi_1k_models(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "highway_mnist", "--split", "beyond_1k"])
    assert exit_.value.code == 2
    assert "highway_mnist is not one" in capsys.readouterr().err


def test_evaluate_a_directory_that_is_no_export(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "highway_mnist", "--export", str(tmp_path)])
    assert exit_.value.code == 2
    assert "is not a SavedModel directory" in capsys.readouterr().err


def test_predict_an_npz_of_named_arrays(tmp_path, capsys):
    cli.main(["export", "highway_mnist", "--base", str(tmp_path), "--no-verify"])
    capsys.readouterr()
    examples = REPO / "zoo" / "examples" / "mnist_digits.npz"  # image and label: label is ignored
    cli.main(["predict", "highway_mnist", "--input", str(examples), "--base", str(tmp_path)])
    labels = np.load(examples)["label"].tolist()
    assert json.loads(capsys.readouterr().out)["outputs"]["class_id"] == labels
    np.savez(tmp_path / "wrong.npz", picture=np.zeros((1, 28, 28, 1)))
    with pytest.raises(SystemExit):
        cli.main(["predict", "highway_mnist", "--input", str(tmp_path / "wrong.npz"),
                  "--base", str(tmp_path)])
    assert "no array named ['image']" in capsys.readouterr().err


def test_validation_halves_are_for_the_distorted_mnist_models(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "highway_mnist", "--split", "validation_a"])
    assert exit_.value.code == 2
    assert "highway_mnist is not one" in capsys.readouterr().err


def test_evaluate_a_validation_half(data_dir, capsys):
    cli.main(["evaluate", "st_cnn_rts", "--split", "validation_b", "--data-dir", str(data_dir)])
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 500 and result["error"] <= 0.02, result


def test_examples_is_an_option_of_the_generated_held_out_sets_only(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "highway_mnist", "--examples", "5"])
    assert exit_.value.code == 2
    assert "--examples is an option of the held-out sets of the addition and memorization models" \
        in capsys.readouterr().err
    cli.main(["evaluate", "grid_lstm_memorization", "--examples", "20"])
    assert json.loads(capsys.readouterr().out)["examples"] == 20
