"""`cldnn_fsdd` and `cldnn_fsdd_logmel`: the raw-waveform CLDNN, its FSDD task and exports."""

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from training import train, visualize
from training.tasks import fsdd as task
from zoo import cldnn

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("cldnn_fsdd", "cldnn_fsdd_logmel")


def _waveforms(count=3, length=3001, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (count, length)).astype("float32")


@pytest.mark.parametrize("length", [1, 79, 80, 199, 280, 281, 3001])
def test_time_convolution_is_framing_then_a_convolution_of_each_frame(length):
    layer = cldnn.TimeConvolution(filters=5, filter_length=200, frame_length=280, hop=80, kernel_scale=3.0)
    x = _waveforms(2, length)
    out = layer(x).numpy()
    frames = tf.signal.frame(np.pad(x, [[0, 0], [0, 280]]), 280, 80).numpy()
    frames = frames[:, :max(-(-length // 80), 1)]  # the frames that start inside the signal
    windows = np.lib.stride_tricks.sliding_window_view(frames, 200, axis=2)  # [B, F, 81, 200]
    kernel = layer.filterbank()
    expected = np.einsum("bfpk,kc->bfpc", windows, kernel).max(axis=2) + layer.bias.numpy()
    assert out.shape == expected.shape == (2, max(-(-length // 80), 1), 5)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_pre_emphasis_makes_the_effective_filters_one_tap_longer():
    layer = cldnn.TimeConvolution(5, 200, 280, 80, pre_emphasis=0.97)
    x = _waveforms(2, 1001)
    out = layer(x).numpy()
    kernel = layer.filterbank(effective=True)  # [201, 5]: applied from one sample before each frame
    assert kernel.shape == (201, 5)
    padded = np.pad(x, [[0, 0], [1, 400]])  # x[-1] = 0
    windows = np.lib.stride_tricks.sliding_window_view(padded, 201, axis=1)
    expected = np.stack([np.einsum("btk,kc->btc", windows[:, f * 80:f * 80 + 81], kernel).max(axis=1)
                         for f in range(out.shape[1])], axis=1) + layer.bias.numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"`pre_emphasis` must be a number in \[0, 1\)"):
        cldnn.TimeConvolution(pre_emphasis=1.0)


def test_frame_mask_ends_at_the_last_nonzero_sample():
    x = np.zeros((4, 400), "float32")
    x[0, :400] = 0.1   # 5 frames of signal
    x[1, :81] = 0.1    # 81 samples: frames 0 and 1 start inside
    x[2, 10] = -0.2    # one sample in frame 0
    mask = cldnn.FrameMask(80)(x).numpy()  # row 3: silence keeps its first frame
    np.testing.assert_array_equal(mask.sum(axis=1), [5, 2, 1, 1])
    assert mask.shape == (4, 5) and mask[:, 0].all()
    padded = cldnn.FrameMask(80)(np.pad(x, [[0, 0], [0, 1000]])).numpy()
    np.testing.assert_array_equal(padded[:, :5], mask)
    assert not padded[:, 5:].any()


@pytest.mark.parametrize("name", NAMES)
def test_zero_padding_does_not_change_the_answer(name):
    model = zoo.get(name).build("smoke")
    examples = zoo.get(name).example_inputs()["waveform"]
    alone = np.concatenate([model(w[None, :np.flatnonzero(w).max() + 1]).numpy() for w in examples])
    batched = model(examples).numpy()
    padded = model(np.pad(examples, [[0, 0], [0, 4321]])).numpy()
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(padded, alone, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_serving_outputs_on_any_batch_and_length(name):
    entry = zoo.get(name)
    serve = tf.function(entry.serving_fn(entry.build("smoke")), reduce_retracing=True)
    for batch, length in ((1, 1), (3, 800), (2, 12345), (2, 0)):
        out = serve(waveform=tf.constant(_waveforms(batch, length) if length else np.zeros((batch, 0), "float32")))
        assert out["probabilities"].shape == (batch, 10) and out["probabilities"].dtype == tf.float32
        np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(out["class_id"].numpy(), out["probabilities"].numpy().argmax(-1))
        assert out["class_id"].dtype == tf.int64


@pytest.mark.parametrize("value,message", [
    (np.nan, "must be finite"), (np.inf, "must be finite"), (1.5, r"in \[-1, 1\]"), (-1.01, r"in \[-1, 1\]")])
def test_bad_waveforms_are_a_clear_error(value, message):
    serve = tf.function(cldnn.serving_fn(zoo.get("cldnn_fsdd").build("smoke")))
    x = _waveforms(2, 500)
    x[1, 7] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(waveform=tf.constant(x))
    with pytest.raises(ValueError, match=r"`waveform` must be \[batch, samples\] \(rank 2"):
        cldnn.serving_fn(zoo.get("cldnn_fsdd").build("smoke"))(waveform=np.zeros((2, 100, 1), "float32"))


def test_builder_variants_and_bad_arguments():
    paper = zoo.get("cldnn_fsdd").preset("paper").model
    full = cldnn.build_cldnn(**paper)
    names = {layer.name for layer in full.layers}
    assert {"tconv", "log", "fconv", "lstm_1", "lstm_2", "dense_1"} <= names
    assert full.get_layer("tconv").kernel.shape == (200, 1, 40)  # 40 filters of 25 ms at 8 kHz
    assert full.get_layer("tconv").frame_length == 280 and full.get_layer("tconv").hop == 80
    assert full.count_params() < 600_000
    for overrides, absent in (({"frequency_conv": False}, "fconv"), ({"lstm_layers": 0}, "lstm_1")):
        variant = cldnn.build_cldnn(**{**paper, **overrides})
        assert absent not in {layer.name for layer in variant.layers}
        assert variant(_waveforms(2, 1000)).shape == (2, 10)
    logmel = zoo.get("cldnn_fsdd_logmel").build("paper")
    assert "mel" in {layer.name for layer in logmel.layers} and "tconv" not in {l.name for l in logmel.layers}
    for kwargs, message in (({"front_end": "mfcc"}, "`front_end` must be one of"),
                            ({"filters": 0}, "`filters` must be an int >= 1"),
                            ({"lstm_layers": -1}, "`lstm_layers` must be an int >= 0"),
                            ({"filters": 6}, r"`fconv_size` \(8\) must be at most `filters` \(6\)"),
                            ({"dropout": 1.0}, r"`dropout` must be in \[0, 1\)")):
        with pytest.raises(ValueError, match=message):
            cldnn.build_cldnn(**kwargs)
    with pytest.raises(ValueError, match="`frame_length` .* must be at least `filter_length`"):
        cldnn.TimeConvolution(filter_length=300, frame_length=280)


def test_layers_work_under_xla():
    x = tf.constant(_waveforms(2, 1000))
    for layer in (cldnn.TimeConvolution(8), cldnn.MelFilterbank(), cldnn.FrameMask()):
        np.testing.assert_allclose(tf.function(layer, jit_compile=True)(x), layer(x), atol=1e-4)


def test_layers_round_trip_their_config():
    for layer in (cldnn.TimeConvolution(8, 100, 200, 40, kernel_scale=2.0, pre_emphasis=0.9), cldnn.MelFilterbank(20, 160, 80, 256, 50.0, 3500.0),
                  cldnn.FrameMask(40), cldnn.LogCompression(0.001), cldnn.FrequencyConvolution(4, 5, 2)):
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()


# -- the task ---------------------------------------------------------------


def test_reader_splits_the_fixture_recordings_by_index():
    waveforms, labels, names = task.load("validation", FIXTURES)
    assert len(waveforms) == 10 and sorted(labels.tolist()) == list(range(10))
    assert all(n.endswith("_5.wav") for n in names)
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1 and len(w) > 1000 for w in waveforms)
    _, train_labels, train_names = task.load("train", FIXTURES)
    assert all(n.endswith("_10.wav") for n in train_names) and len(train_labels) == 10
    with pytest.raises(FileNotFoundError, match="'test' split .*indices 0..4.*held out"):
        task.load("test", FIXTURES)
    with pytest.raises(ValueError, match="`split` must be one of"):
        task.load("dev", FIXTURES)


def test_reader_errors_name_the_file_and_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="No FSDD recordings under .*fsdd/recordings"):
        task.recordings_dir(tmp_path)
    (tmp_path / "3_anna_7.wav").write_bytes(b"RIFF not really")
    with pytest.raises(ValueError, match="3_anna_7.wav: not a readable WAV file"):
        task.load("validation", tmp_path)
    with wave.open(str(tmp_path / "3_anna_7.wav"), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(16000)
        f.writeframes(np.zeros(100, "<i2").tobytes())
    with pytest.raises(ValueError, match="expected mono 16-bit PCM at 8000 Hz; .* at 16000 Hz"):
        task.read_wav(tmp_path / "3_anna_7.wav")


def test_training_batches_are_padded_shuffled_augmented_and_repeatable():
    ds = task.fsdd_dataset("train", FIXTURES, batch_size=4, augment=True, seed=3)
    assert int(ds.cardinality()) == 3
    first = [(x.numpy(), y.numpy()) for x, y in ds]
    again = [(x.numpy(), y.numpy()) for x, y in task.fsdd_dataset("train", FIXTURES, batch_size=4,
                                                                    augment=True, seed=3)]
    second_epoch = [(x.numpy(), y.numpy()) for x, y in ds]
    for (x, y), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert not all(np.array_equal(a[1], b[1]) and a[0].shape == b[0].shape
                   for a, b in zip(first, second_epoch))
    assert sorted(np.concatenate([y for _, y in first]).tolist()) == list(range(10))
    for x, _ in first:
        assert x.dtype == np.float32 and x.ndim == 2 and np.abs(x).max() <= 1.0
    held = [(x.numpy(), y.numpy()) for x, y in task.fsdd_dataset("validation", FIXTURES, batch_size=4)]
    lengths = [(x != 0).any(axis=0).sum() for x, _ in held]
    assert lengths == sorted(lengths)  # held out: sorted by length, no augmentation
    originals, labels, _ = task.load("validation", FIXTURES)
    x, y = held[0]
    row = originals[list(labels).index(y[0])]
    np.testing.assert_array_equal(x[0, :len(row)], row)


def test_augmentation_shifts_scales_and_adds_noise():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(2000) / 5.0).astype("float32") * 0.5
    copies = [task.augment_waveform(x, rng) for _ in range(20)]
    assert all(len(x) <= len(c) <= len(x) + 800 and np.abs(c).max() <= 1.0 for c in copies)
    assert len({len(c) for c in copies}) > 5
    peaks = [np.abs(c).max() for c in copies]
    assert min(peaks) < 0.3 and max(peaks) > 0.9  # +-12 dB, scaled back where it would clip
    unshifted = [len(task.augment_waveform(x, rng, unshifted=0.5)) == len(x) for _ in range(200)]
    assert 0.4 < np.mean(unshifted) < 0.65  # half the copies, and the shifts of 0 samples
    quiet = task.augment_waveform(x, rng, shift_ms=0, gain_db=0, snr_db=(40, 40))
    assert 0 < np.std(quiet - x) < 0.01 * np.std(x) * 1.5


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cldnn") / "run"
    info = train.train("cldnn_fsdd", preset="smoke", data_dir=FIXTURES, run_dir=run, verbose=0)
    return run, info


def test_smoke_training_scores_the_held_out_recordings(smoke_run):
    run, info = smoke_run
    held_out = info["metrics"]["held_out"]
    assert held_out["split"] == "validation" and held_out["examples"] == 10
    assert held_out["error"] == pytest.approx(held_out["wrong"] / 10)
    assert info["metrics"]["validation"]["examples"] == 10
    assert json.loads((run / "metrics.json").read_text())["model_config"]["front_end"] == "raw"


def test_visualize_draws_the_sorted_filter_responses(smoke_run, tmp_path):
    run, _ = smoke_run
    path = visualize.visualize("cldnn_fsdd", tmp_path / "filters.png", run / "final.weights.h5")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = path.with_suffix(".txt").read_text().splitlines()[1:]
    centres = [float(r.split()[2]) for r in rows]
    assert len(rows) == 16 and centres == sorted(centres)


def test_filter_responses_find_the_centre_of_known_filters():
    taps = np.arange(200)
    kernel = np.stack([np.hanning(200) * np.cos(2 * np.pi * f * taps / 8000) for f in (3000, 500, 1500)], 1)
    frequencies, decibels, centres, order = visualize.filter_responses(kernel)
    np.testing.assert_allclose(centres, [500, 1500, 3000], atol=8000 / 512)
    np.testing.assert_array_equal(order, [1, 2, 0])
    assert decibels.shape == (3, 257) and np.allclose(decibels.max(axis=1), 0, atol=1e-6)


# -- on the real data (SPECIALNETS_DATA) ---------------------------------------


@pytest.mark.data
@pytest.mark.parametrize("name,least", [("cldnn_fsdd", 0.97), ("cldnn_fsdd_logmel", 0.97)])
def test_pretrained_export_recognises_held_out_recordings(zoo_exports, data_dir, name, least):
    from exports import verify

    scores = verify.evaluate_export(zoo_exports.get(name), name, data_dir=data_dir, split="validation")
    assert scores["examples"] == 300 and scores["accuracy"] >= least, scores
    outputs = zoo_exports.outputs[name]  # the example recordings, where no project code loads
    assert (outputs["class_id"] == np.arange(10)).sum() >= 9


@pytest.mark.data
def test_pretrained_export_on_the_official_test_part(zoo_exports, data_dir):
    """The issue's bar: >= 97% on indices 0..4, where a data directory holds them."""
    from exports import verify

    try:
        task.load("test", data_dir)
    except FileNotFoundError:
        pytest.skip("the official test part (indices 0..4) is not in SPECIALNETS_DATA")
    scores = verify.evaluate_export(zoo_exports.get("cldnn_fsdd"), "cldnn_fsdd", data_dir=data_dir,
                                    split="test")
    assert scores["examples"] == 300 and scores["accuracy"] >= 0.97, scores


def test_fixture_directory_layout_is_the_data_directorys(tmp_path):
    shutil.copytree(FIXTURES / "fsdd", tmp_path / "fsdd")
    assert task.recordings_dir(tmp_path) == tmp_path / "fsdd" / "recordings"
    assert task.recordings_dir(tmp_path / "fsdd") == tmp_path / "fsdd" / "recordings"
    assert task.recordings_dir(tmp_path / "fsdd" / "recordings") == tmp_path / "fsdd" / "recordings"
