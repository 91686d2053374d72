import numpy as np
import pytest
import tensorflow as tf

import zoo
from training import train
from zoo.ntm_copy import CopyPhases, LastSteps, build_copy_model, serving_fn


def test_copy_phases_present_the_vectors_a_delimiter_then_blanks():
    bits = np.random.default_rng(0).integers(0, 2, size=(2, 5, 8)).astype("float32")
    phases = np.asarray(CopyPhases()(bits))
    assert phases.shape == (2, 11, 9)
    np.testing.assert_array_equal(phases[:, :5, :8], bits)
    np.testing.assert_array_equal(phases[:, :5, 8], 0)
    np.testing.assert_array_equal(phases[:, 5], np.tile([0] * 8 + [1], (2, 1)))
    np.testing.assert_array_equal(phases[:, 6:], 0)
    read_out = np.asarray(LastSteps()([phases, bits]))
    np.testing.assert_array_equal(read_out, phases[:, 6:])


def test_the_model_maps_bits_to_a_copy_of_any_length():
    model = build_copy_model(units=8, memory_size=16, memory_width=4)
    for length in (1, 7, 30):
        copy = model(np.zeros((3, length, 8), "float32"))
        assert copy.shape == (3, length, 8) and copy.dtype == tf.float32
    with pytest.raises(ValueError, match="`memory`"):
        build_copy_model(memory="gru")


def test_the_lstm_baseline_has_about_the_ntm_parameter_count():
    ntm = zoo.get("ntm_copy").build("paper").count_params()
    lstm = zoo.get("lstm_copy").build("paper").count_params()
    assert abs(lstm - ntm) / ntm < 0.05, (lstm, ntm)


def test_serving_refuses_bits_that_are_not_0_or_1():
    serve = serving_fn(build_copy_model(units=8, memory_size=16, memory_width=4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`bits` must hold only 0 and 1"):
        serve(bits=tf.fill((1, 3, 8), 0.5))


@pytest.mark.parametrize("name", ["ntm_copy", "lstm_copy"])
def test_smoke_training_scores_wrong_bits_on_held_out_sequences(name, tmp_path):
    info = train.train(name, preset="smoke", run_dir=tmp_path / name, verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["length"] == 20 and held_out["examples"] == 1000
    assert 0 <= held_out["bits_per_sequence"] <= 160


@pytest.mark.parametrize("name,length,most_bits", [
    ("ntm_copy", 20, 0.1), ("ntm_copy", 40, 1.0), ("ntm_copy", 80, 2.0), ("lstm_copy", 20, 40.0)])
def test_pretrained_export_copies_held_out_test_sequences(zoo_exports, name, length, most_bits):
    from exports import verify

    scores = verify.evaluate_export(zoo_exports.get(name), name, split="test", length=length,
                                    examples=100)
    assert scores["bits_per_sequence"] <= most_bits, scores


def test_visualize_shows_the_heads_walking_the_memory(tmp_path, capsys):
    """The pretrained NTM writes each vector one location on from the last
    and reads them back in the same order (the paper's Fig. 6)."""
    from specialnets import cli

    cli.main(["visualize", "ntm_copy", "--output", str(tmp_path / "ntm.png")])
    assert (tmp_path / "ntm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:] if " | " in line]
    written = np.array([int(r[1]) for r in rows])
    read = np.array([int(r[3]) for r in rows])
    assert len(rows) == 20 and len(set(np.diff(written) % 128)) == 1 and np.diff(written)[0] % 128 in (1, 127)
    np.testing.assert_array_equal(read, written)
