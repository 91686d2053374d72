import json
import wave

import numpy as np
import pytest
import tensorflow as tf

import zoo
from exports import export
from training.tasks import fsdd, fsdd_wavenet
from zoo import wavenet

RNG = np.random.default_rng(0)
TINY = dict(residual_channels=4, dilation_channels=4, skip_channels=6, head_channels=8, dilations=[1, 2, 4, 8],
            condition_dim=3)


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(1)
    m = wavenet.build_wavenet(**TINY)
    # Sharper, less uniform predictions than a fresh head gives: the tests can see differences.
    logits = wavenet.network(m).output_layer
    logits.kernel.assign(logits.kernel * 8.0)
    return m


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("wavenet") / "export"
    export.write_saved_model(zoo.get("wavenet_fsdd"), model, path)
    return tf.saved_model.load(str(path))


def numpy_mu_law(x):
    companded = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    return np.floor((companded + 1) / 2 * 255 + 0.5).astype(int)


def speech_like(length, batch=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 600, (batch, 1)) * t / 8000) + rng.normal(0, 0.05, (batch, length))
    return np.clip(x, -1, 1).astype("float32")


def test_receptive_field_of_the_paper_preset():
    net = wavenet.network(zoo.get("wavenet_fsdd").build("paper"))
    assert net.receptive_field == 1 + sum(net.dilations) == 2175 >= 2000


def test_mu_law_matches_numpy_and_inverts():
    x = np.concatenate([np.linspace(-1, 1, 2001), [0.0]]).astype("float32")
    np.testing.assert_array_equal(np.asarray(wavenet.mu_law_encode(x)), numpy_mu_law(x.astype("float64")))
    codes = np.arange(256)
    np.testing.assert_array_equal(np.asarray(wavenet.mu_law_encode(wavenet.mu_law_decode(codes))), codes)
    assert int(wavenet.mu_law_encode(np.float32(0.0))) == wavenet.SILENCE


def test_logits_are_causal(model):
    x = speech_like(40, batch=2)
    digit = np.array([3, 8], "int32")
    base = model.predict({"waveform": x, "digit": digit}, verbose=0)
    for t0 in (0, 7, 25):
        changed = x.copy()
        changed[:, t0:] = speech_like(40 - t0, batch=2, seed=t0 + 1)
        out = model.predict({"waveform": changed, "digit": digit}, verbose=0)
        np.testing.assert_array_equal(out[:, :t0], base[:, :t0])
        assert np.abs(out[:, t0:] - base[:, t0:]).max() > 1e-3


def test_bits_per_sample_against_numpy(model, exported):
    x = speech_like(60, batch=3, seed=4)
    x[1, 45:] = 0.0  # padding: 45 samples of signal
    x[2, 3:] = 0.0
    digit = np.array([0, 5, 9], "int32")
    logits = model.predict({"waveform": x, "digit": digit}, verbose=0).astype("float64")
    expected = []
    for row in range(3):
        length = np.flatnonzero(x[row])[-1] + 1
        codes = numpy_mu_law(x[row].astype("float64"))
        log_probs = logits[row] - np.log(np.exp(logits[row]).sum(-1, keepdims=True))
        expected.append(-np.mean([log_probs[t - 1, codes[t]] for t in range(1, length)]) / np.log(2))
    served = exported.signatures["serving_default"](waveform=tf.constant(x), digit=tf.constant(digit))
    np.testing.assert_allclose(served["bits_per_sample"].numpy(), expected, rtol=1e-5)
    # Padding changes nothing: more zeros, or the same rows alone.
    longer = np.pad(x, [(0, 0), (0, 30)])
    again = exported.signatures["serving_default"](waveform=tf.constant(longer), digit=tf.constant(digit))
    np.testing.assert_allclose(again["bits_per_sample"].numpy(), expected, rtol=1e-5)
    alone = exported.signatures["serving_default"](waveform=tf.constant(x[2:, :3]), digit=tf.constant(digit[2:]))
    np.testing.assert_allclose(alone["bits_per_sample"].numpy(), expected[2:], rtol=1e-5)


def test_export_is_causal(model, exported):
    """The export's score of a waveform is the sum of predictions each made from the
    samples before it alone (the network run on each prefix): no sample sees a later one."""
    x = speech_like(30, seed=5)
    digit = np.array([4], "int32")
    total = 0.0
    for t in range(1, 30):
        logits = model.predict({"waveform": x[:, :t], "digit": digit}, verbose=0)[0, -1].astype("float64")
        log_probs = logits - np.log(np.exp(logits).sum())
        total -= log_probs[numpy_mu_law(x[0, t].astype("float64"))] / np.log(2)
    served = exported.signatures["serving_default"](waveform=tf.constant(x), digit=tf.constant(digit))
    np.testing.assert_allclose(served["bits_per_sample"].numpy()[0] * 29, total, rtol=1e-5)


def test_cached_generation_equals_naive(model):
    digit = tf.constant([1, 7, 3], tf.int32)
    run = tf.function(lambda d, n, cached: wavenet.generate(model, d, n, seed=(5, 6), cached=cached))
    cached, naive = run(digit, 120, True).numpy(), run(digit, 120, False).numpy()
    assert cached.shape == (3, 120) and np.all(cached[:, 0] == wavenet.SILENCE)
    np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(cached)) > 10  # it draws, not a constant
    other = run(digit, 120, True).numpy()
    np.testing.assert_array_equal(cached, other)  # stateless: the same draws again
    assert not np.array_equal(wavenet.generate(model, digit, 120, seed=(5, 7)).numpy(), cached)


@pytest.mark.parametrize("kernel_size", [1, 2, 3])
def test_fast_steps_equal_layer_steps(kernel_size):
    """The fused step (one ring buffer, concatenated taps, folded biases) gives the
    logits of the blocks' own `step`s, past the ring's wrap-around; and the same samples."""
    tf.keras.utils.set_random_seed(2)
    m = wavenet.build_wavenet(**{**TINY, "kernel_size": kernel_size, "dilations": [1, 3, 2]})
    net = wavenet.network(m)
    condition = net.condition(tf.constant([4, 9]))
    steps = net.fast_steps(condition)
    ring, caches = steps.ring(2), net.initial_caches(2)
    codes = RNG.integers(0, 256, (2, 20)).astype("int32")
    for t in range(20):
        fast, ring = steps.step(tf.constant(t), codes[:, t], ring)
        slow, caches = net.step(codes[:, t], caches, condition)
        np.testing.assert_allclose(fast.numpy(), slow.numpy(), atol=1e-5)
    run = tf.function(lambda cached: wavenet.generate(m, tf.constant([3, 5]), 30, cached=cached))
    np.testing.assert_array_equal(run(True).numpy(), run(False).numpy())


def test_cached_generation_equals_naive_under_xla(model):
    digit = tf.constant([2], tf.int32)
    run = tf.function(lambda d, cached: wavenet.generate(model, d, 50, cached=cached), jit_compile=True)
    np.testing.assert_array_equal(run(digit, True).numpy(), run(digit, False).numpy())
    # The same draws as the graph's (the export's): `generate_waveform` compiles with XLA.
    graph = tf.function(lambda d: wavenet.generate(model, d, 50))
    np.testing.assert_array_equal(run(digit, True).numpy(), graph(digit).numpy())


def test_generate_signature(model, exported):
    generate = exported.signatures["generate"]
    out = generate(digit=tf.constant([7, 7], tf.int32), num_samples=tf.constant(64))["waveform"].numpy()
    assert out.shape == (2, 64) and out.dtype == np.float32 and np.abs(out).max() <= 1.0
    assert not np.array_equal(out[0], out[1])  # rows draw differently
    expected = wavenet.mu_law_decode(wavenet.generate(model, tf.constant([7, 7]), 64)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)  # the fixed seed
    empty = generate(digit=tf.constant([1], tf.int32), num_samples=tf.constant(0))["waveform"]
    assert tuple(empty.shape) == (1, 0)


@pytest.mark.parametrize("waveform, digit, message", [
    (np.full((1, 5), 1.5, "float32"), [1], "`waveform` must be 8 kHz samples in \\[-1, 1\\]"),
    (np.array([[0.1, np.nan, 0.2]], "float32"), [1], "`waveform` must be finite"),
    (np.zeros((1, 5), "float32") + 0.1, [10], "`digit` must be in 0..9"),
    (np.zeros((1, 5), "float32") + 0.1, [-1], "`digit` must be in 0..9"),
])
def test_bad_inputs_name_the_argument(exported, waveform, digit, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        exported.signatures["serving_default"](waveform=tf.constant(waveform),
                                               digit=tf.constant(digit, tf.int32))


def test_bad_generate_inputs_and_ranks(model, exported):
    generate = exported.signatures["generate"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="`num_samples` must be in 0..80000"):
        generate(digit=tf.constant([1], tf.int32), num_samples=tf.constant(-1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`digit` must be in 0..9"):
        generate(digit=tf.constant([12], tf.int32), num_samples=tf.constant(3))
    serve = wavenet.serving_fn(model)
    with pytest.raises(ValueError, match="`waveform` must be \\[batch, samples\\]"):
        serve(np.zeros((1, 4, 1), "float32"), np.array([1], "int32"))
    with pytest.raises(ValueError, match="`digit` must be \\[batch\\]"):
        serve(np.zeros((1, 4), "float32"), np.array(1, "int32"))
    with pytest.raises(ValueError, match="`num_samples` must be a scalar"):
        wavenet.generate_fn(model)(np.array([1], "int32"), np.array([3], "int32"))
    with pytest.raises(ValueError, match="`num_samples` must be an int"):
        wavenet.generate_waveform(model, [1], -3)
    with pytest.raises(ValueError, match="`digit` must be in 0..9"):
        wavenet.generate_waveform(model, [11], 3)


def _fake_fsdd(root):
    """Two recordings per split and digit 0..1 (16-bit 8 kHz WAV)."""
    directory = root / "fsdd" / "recordings"
    directory.mkdir(parents=True)
    for index in (5, 6, 10, 11):
        for digit in (0, 1):
            x = speech_like(300 + 40 * index + 7 * digit, seed=index * 10 + digit)[0]
            with wave.open(str(directory / f"{digit}_alice_{index}.wav"), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(8000)
                f.writeframes((x * 32767).astype("<i2").tobytes())
    return root


def test_task_batches_loss_and_held_out(model, tmp_path):
    data = _fake_fsdd(tmp_path)
    ds = fsdd_wavenet.dataset("train", data_dir=data, batch_size=3, crop=200, seed=1)
    batches = list(ds)
    assert len(batches) == 2
    inputs, target = batches[0]
    assert inputs["waveform"].shape == (3, 200) and inputs["digit"].dtype == tf.int32
    np.testing.assert_array_equal(inputs["waveform"].numpy(), target.numpy())
    # The loss is the held-out figure's definition: total bits / total scored samples.
    held, counts = fsdd_wavenet.held_out("validation", data_dir=data)
    assert len(counts) == 4 and np.all(np.diff([len(np.trim_zeros(w, "b")) for w in held["waveform"]]) >= 0)
    logits = model.predict(held, verbose=0)
    loss = float(fsdd_wavenet.BitsPerSample()(held["waveform"], logits))
    served = wavenet.serving_fn(model)(held["waveform"], held["digit"])
    figures = fsdd_wavenet.score({k: v.numpy() for k, v in served.items()}, held, counts)
    assert figures["samples"] == sum(len(w) - 1 for w in fsdd.load("validation", data)[0])
    np.testing.assert_allclose(figures["bits_per_sample"], loss, rtol=1e-5)
    assert figures["error"] == figures["bits_per_sample"]


def test_baselines(tmp_path):
    data = _fake_fsdd(tmp_path)
    figures = fsdd_wavenet.baselines(data)
    train_codes = [numpy_mu_law(w.astype("float64")) for w in fsdd.load("train", data)[0]]
    counts = np.ones(256)
    for c in train_codes:
        np.add.at(counts, c, 1)
    valid = [numpy_mu_law(w.astype("float64"))[1:] for w in fsdd.load("validation", data)[0]]
    expected = -np.mean(np.log2(counts / counts.sum())[np.concatenate(valid)])
    np.testing.assert_allclose(figures["validation"]["unigram"], expected, rtol=1e-9)
    assert figures["train"]["bigram"] < figures["train"]["unigram"] <= 8.0


def test_cli_generate_writes_a_wav(model, tmp_path, capsys):
    from specialnets import cli

    run = tmp_path / "run"
    run.mkdir()
    model.save_weights(run / "final.weights.h5")
    (run / "metrics.json").write_text(json.dumps({"model": "wavenet_fsdd", "model_config": TINY}))
    out = tmp_path / "7.wav"
    cli.main(["generate", "wavenet_fsdd", "--digit", "7", "--out", str(out), "--seconds", "0.01",
              "--weights", str(run / "final.weights.h5"), "--no-xla"])
    assert capsys.readouterr().out.strip() == str(out)
    with wave.open(str(out), "rb") as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 8000, 80)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(SystemExit) as error:
        cli.main(["generate", "wavenet_fsdd", "--digit", "12", "--out", str(out)])
    assert error.value.code == 2
    assert "--digit must be in 0..9" in capsys.readouterr().err


def test_judge_counts_every_generation_once():
    figures = fsdd_wavenet.judge(per_digit=1, num_samples=800, seed=3)
    confusion = np.array(figures["confusion_asked_by_heard"])
    assert confusion.shape == (10, 10) and confusion.sum(axis=1).tolist() == [1] * 10
    assert figures["accuracy"] == np.trace(confusion) / 10
    assert figures["heard_as"] == confusion.sum(axis=0).tolist()
    assert sum(figures["noise_heard_as"]) == 1 and 0 <= figures["silence_heard_as"] <= 9
    assert 0 < figures["rms"] <= 1
