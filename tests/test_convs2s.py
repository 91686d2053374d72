import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from custom_layers import ConvS2SAttention, GLUConv1D
from exports import export
from tests.layer_harness import run_layer_test
from training import tasks, train
from training.tasks import fra_eng
from zoo import convs2s

RNG = np.random.default_rng(0)
SENTENCES = [("Go.", "Va !"), ("I'm hungry.", "J'ai faim."), ("Tom is reading a book.", "Tom lit un livre."),
             ("Where is the station?", "Où est la gare ?"), ("We won.", "Nous avons gagné."),
             ("Hello!", "Bonjour\u202f!"), ("He's tall.", "Il est grand."), ("Thanks a lot.", "Merci beaucoup.")]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference_glu(x, kernel, bias, causal, residual, mask=None):
    """GLU block in NumPy loops: y[t] = b + sum_j x[t + j - before] W[j], then A * sigmoid(B)."""
    taps = kernel.shape[0]
    before = taps - 1 if causal else (taps - 1) // 2
    if mask is not None:
        x = x * mask[..., None]
    gates = np.zeros(x.shape[:2] + (kernel.shape[-1],)) + bias
    for t in range(x.shape[1]):
        for j in range(taps):
            source = t + j - before
            if 0 <= source < x.shape[1]:
                gates[:, t] += x[:, source] @ kernel[j]
    c = x.shape[-1]
    y = gates[..., :c] * sigmoid(gates[..., c:])
    return y, before


def reference_attention(h, g, z, ze, weights, mask):
    d = (h @ weights["in_kernel"] + weights["in_bias"] + g) * math.sqrt(0.5)
    scores = np.einsum("bte,bse->bts", d, z) + np.where(mask, 0.0, -1e9)[:, None]
    a = np.exp(scores - scores.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    s = mask.sum(-1)[:, None, None]
    c = np.einsum("bts,bse->bte", a, ze) * s * np.sqrt(1.0 / s)
    return (h + c @ weights["out_kernel"] + weights["out_bias"]) * math.sqrt(0.5), a


@pytest.mark.parametrize("kwargs", [{"kernel_size": 3}, {"kernel_size": 2, "causal": True, "residual": False}])
def test_glu_harness(kwargs, tmp_path):
    run_layer_test(GLUConv1D, kwargs, input_shape=(2, 6, 4), expected_output_shape=(2, 6, 4),
                   expected_num_trainable_weights=2, supports_masking=True, tmp_path=tmp_path)


def test_attention_harness(tmp_path):
    run_layer_test(ConvS2SAttention, {}, input_shape=[(2, 5, 6), (2, 5, 4), (2, 7, 4), (2, 7, 4)],
                   expected_output_shape=(2, 5, 6), expected_num_trainable_weights=4, tmp_path=tmp_path)


@pytest.mark.parametrize("causal, kernel_size", [(False, 3), (False, 4), (True, 3), (True, 1)])
def test_glu_matches_numpy(causal, kernel_size):
    layer = GLUConv1D(kernel_size, causal=causal, bias_initializer="random_normal")
    x = RNG.normal(size=(2, 7, 3)).astype("float32")
    mask = np.ones((2, 7), bool)
    mask[1, 5:] = False
    y = layer(x, mask=tf.constant(mask)).numpy()
    glu, _ = reference_glu(x, layer.kernel.numpy(), layer.bias.numpy(), causal, True, mask)
    np.testing.assert_allclose(y, (x + glu) * math.sqrt(0.5), atol=1e-5)
    assert layer.padding[0] == (kernel_size - 1 if causal else (kernel_size - 1) // 2)


def test_causal_glu_is_causal():
    layer = GLUConv1D(3, causal=True)
    x = RNG.normal(size=(2, 9, 4)).astype("float32")
    for t0 in (0, 4, 8):
        changed = x.copy()
        changed[:, t0:] = RNG.normal(size=changed[:, t0:].shape)
        before, after = layer(x).numpy(), layer(changed).numpy()
        np.testing.assert_array_equal(before[:, :t0], after[:, :t0])
        assert not np.allclose(before[:, t0:], after[:, t0:])


@pytest.mark.parametrize("kernel_size,residual", [(1, True), (3, False), (4, True)])
def test_causal_glu_steps_give_its_outputs(kernel_size, residual):
    layer = GLUConv1D(kernel_size, causal=True, residual=residual)
    x = RNG.normal(size=(2, 7, 4)).astype("float32")
    whole = layer(x).numpy()
    cache = layer.initial_cache(2)
    assert cache.shape == (2, kernel_size - 1, 4)
    for t in range(7):
        y, cache = tf.function(layer.step)(x[:, t], cache)
        np.testing.assert_allclose(y.numpy(), whole[:, t], atol=1e-5, err_msg=f"step {t}")
    with pytest.raises(ValueError, match="`cache` must be \\[batch, "):
        layer.step(x[:, 0], np.zeros((2, kernel_size + 1, 4), "float32"))
    with pytest.raises(ValueError, match="only a causal layer"):
        GLUConv1D(3).initial_cache(2)
    with pytest.raises(ValueError, match="build the layer first"):
        GLUConv1D(3, causal=True).initial_cache(2)


def test_non_causal_glu_sees_the_next_input_and_ignores_padding():
    layer = GLUConv1D(3)
    x = RNG.normal(size=(1, 6, 4)).astype("float32")
    changed = x.copy()
    changed[:, 3] += 1.0
    assert not np.allclose(layer(x).numpy()[:, 2], layer(changed).numpy()[:, 2])
    mask = tf.constant([[True] * 4 + [False] * 2])
    noisy = x.copy()
    noisy[:, 4:] = 100.0  # padding: masked, it changes no real position
    np.testing.assert_allclose(layer(x, mask=mask).numpy()[:, :4], layer(noisy, mask=mask).numpy()[:, :4],
                               atol=1e-6)
    np.testing.assert_allclose(layer(x, mask=mask).numpy()[:, :4], layer(x[:, :4]).numpy(), atol=1e-6)


def test_attention_matches_numpy_and_masks_padding():
    layer = ConvS2SAttention(return_attention=True)
    h, g = RNG.normal(size=(2, 3, 5)), RNG.normal(size=(2, 3, 4))
    z, ze = RNG.normal(size=(2, 6, 4)), RNG.normal(size=(2, 6, 4))
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    inputs = [tf.constant(v, tf.float32) for v in (h, g, z, ze)]
    m = tf.constant(mask)
    out, attention = layer(inputs, mask=[None, None, m, m])
    weights = {w.path.split("/")[-1]: w.numpy() for w in layer.weights}
    expected, expected_attention = reference_attention(h, g, z, ze, weights, mask)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(attention.numpy(), expected_attention, atol=1e-5)
    assert np.all(attention.numpy()[0, :, 4:] == 0)
    shorter, _ = layer([inputs[0][:1], inputs[1][:1], inputs[2][:1, :4], inputs[3][:1, :4]])
    np.testing.assert_allclose(out.numpy()[:1], shorter.numpy(), atol=1e-5)


def test_layers_reject_bad_inputs():
    with pytest.raises(ValueError, match="`kernel_size` must be a positive int"):
        GLUConv1D(0)
    with pytest.raises(ValueError, match="`dropout` must be a rate"):
        GLUConv1D(3, dropout=1.0)
    with pytest.raises(ValueError, match=r"`inputs` must be \[batch, time, channels\]"):
        GLUConv1D(3)(tf.zeros((2, 4)))
    with pytest.raises(ValueError, match="`inputs` must be \\[state"):
        ConvS2SAttention()([tf.zeros((1, 2, 3)), tf.zeros((1, 2, 3))])
    with pytest.raises(ValueError, match="the same known size E"):
        ConvS2SAttention()([tf.zeros((1, 2, 3)), tf.zeros((1, 2, 4)), tf.zeros((1, 3, 5)), tf.zeros((1, 3, 5))])


# The models.

BUILDERS = {"convs2s": (convs2s.build_convs2s, zoo.get("convs2s_fra").presets),
            "gru": (convs2s.build_gru_attention, convs2s.GRU_ATTENTION_PRESETS)}


def build(kind, preset):
    builder, presets = BUILDERS[kind]
    return builder(**presets[preset].model)


@pytest.fixture(scope="module", params=["convs2s", "gru"])
def smoke_model(request):
    keras.utils.set_random_seed(1)
    return request.param, build(request.param, "smoke")


def _ids(batch, length, high=50):
    return RNG.integers(4, high, size=(batch, length)).astype("int32")


def test_decoder_is_causal_and_source_padding_changes_nothing(smoke_model):
    _, model = smoke_model
    source, target = _ids(2, 5), _ids(2, 6)
    logits = model({"source": source, "decoder_input": target}).numpy()
    changed = target.copy()
    changed[:, 3:] = _ids(2, 3)
    np.testing.assert_allclose(model({"source": source, "decoder_input": changed}).numpy()[:, :3],
                               logits[:, :3], atol=1e-5)
    padded = np.pad(source, [[0, 0], [0, 3]])
    np.testing.assert_allclose(model({"source": padded, "decoder_input": target}).numpy(), logits, atol=1e-5)


def greedy(model, source, steps):
    """Greedy decoding with the whole model, in Python."""
    tokens = np.full((len(source), 1), convs2s.START_ID, np.int32)
    for _ in range(steps):
        logits = model({"source": source, "decoder_input": tokens}).numpy()[:, -1]
        logits[:, [convs2s.PAD_ID, convs2s.START_ID]] = -np.inf
        tokens = np.concatenate([tokens, logits.argmax(-1)[:, None].astype(np.int32)], axis=1)
    out = tokens[:, 1:]
    ended = np.cumsum(out == convs2s.END_ID, axis=1) > 0
    return np.where(ended, 0, out)


def test_beam_width_one_is_greedy_and_wider_beams_run(smoke_model):
    _, model = smoke_model
    rng = np.random.default_rng(2)  # weights of a clear preference, not near-ties of initial logits
    model.set_weights([rng.normal(scale=0.7, size=w.shape).astype("float32") for w in model.get_weights()])
    source = np.pad(_ids(3, 4), [[0, 0], [0, 1]])
    source[1, 3] = 0
    steps = 2 * 4 + 4
    beam = convs2s.beam_search(model, tf.constant(source), beam_width=1).numpy()
    expected = greedy(model, source, steps)
    np.testing.assert_array_equal(beam, expected[:, :beam.shape[1]])
    assert np.all(expected[:, beam.shape[1]:] == 0)
    wide = convs2s.beam_search(model, tf.constant(source), beam_width=4).numpy()
    assert wide.shape[0] == 3 and wide.shape[1] <= steps
    assert not np.any(convs2s.beam_search(model, tf.constant(source), 2, allow_unknown=False).numpy()
                      == convs2s.UNK_ID)


@pytest.mark.parametrize("kind", ["convs2s", "gru"])
def test_decoder_steps_give_the_whole_decoders_logits(kind):
    keras.utils.set_random_seed(4)
    sizes = dict(embedding_dim=8, hidden=8, encoder_layers=1, decoder_layers=3, kernel_size=4) \
        if kind == "convs2s" else BUILDERS[kind][1]["smoke"].model
    model = BUILDERS[kind][0](**sizes)
    source = np.pad(_ids(3, 5), [[0, 0], [0, 2]])
    source[1, 2:] = 0
    target = np.concatenate([np.full((3, 1), convs2s.START_ID, np.int32), _ids(3, 6)], axis=1)
    source, target = tf.constant(source), tf.constant(target)
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    outputs, sums = encoder(source)
    whole = decoder({"decoder_input": target, "source": source, "encoder_outputs": outputs,
                     "encoder_sums": sums})["logits"].numpy()
    steps = convs2s.decoder_steps(model)
    state = steps.initial_state(3, sums)
    for t in range(target.shape[1]):  # past the kernel, so the cache is both read and shifted
        logits, state = steps.step(target[:, t], t + 1, source != 0, outputs, sums, state)
        np.testing.assert_allclose(logits.numpy(), whole[:, t], atol=1e-5, err_msg=f"step {t}")


@pytest.mark.parametrize("name", ["convs2s_fra", "gru_attention_fra"])
def test_incremental_beam_search_translates_as_the_whole_decoder_does(name):
    model = zoo.get(name).load_pretrained()
    table, _ = convs2s._tables(model)
    english = tf.constant(list(convs2s.examples()["english"]) + ["Where is the station?"])
    source = convs2s.source_ids(table, english)
    for width in (1, 5):
        whole = convs2s.beam_search(model, source, width, incremental=False).numpy()
        np.testing.assert_array_equal(convs2s.beam_search(model, source, width).numpy(), whole)


def test_tokenizer_and_detokenizer():
    words = convs2s.tokenize(tf.constant(["J'ai faim\u202f!", "Tom, où est-il ?", ""])).to_list()
    assert [[w.decode() for w in row] for row in words] == [
        ["j'", "ai", "faim", "!"], ["tom", ",", "où", "est-il", "?"], []]
    text = convs2s.detokenize(tf.ragged.constant([["j'", "ai", "faim", "."], ["oui", ",", "va", "!"]]))
    assert [t.decode() for t in text.numpy()] == ["J'ai faim.", "Oui, va !"]
    assert convs2s.detokenize(tf.ragged.constant([["été"], []], dtype=tf.string)).numpy().tolist() == [
        "Été".encode(), b""]


def test_restore_words_copies_unknown_words_and_capitals_from_the_source():
    cased = tf.constant([["Tom", "met", "Zubelo", ".", ""]])
    ids = tf.constant([[10, convs2s.UNK_ID, 11, 12]])
    words = tf.constant([["tom", "<unk>", "rencontre", "."]])
    attention = tf.constant([[[0.9, 0, 0, 0.1, 0], [0, 0.2, 0.7, 0.1, 0], [0, 1.0, 0, 0, 0], [0, 0, 0, 1.0, 0]]])
    restored = convs2s.restore_words(ids, words, attention, cased).numpy().tolist()
    assert restored == [[b"Tom", b"Zubelo", b"rencontre", b"."]]


def test_serving_and_export_round_trip(tmp_path):
    """convs2s_fra's export (the GRU's serving graph is the same function)."""
    entry = zoo.get("convs2s_fra")
    model = entry.build("smoke")
    english = tf.constant(["I'm hungry.", "", "A sentence far longer than anything seen in training " * 5])
    outputs = entry.serving_fn(model)(english=english)
    assert outputs["french"].dtype == tf.string and outputs["french"].shape == (3,)
    export.write_saved_model(entry, model, tmp_path / "export")
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    served = loaded.signatures["serving_default"](english=english)["french"].numpy()
    np.testing.assert_array_equal(served, outputs["french"].numpy())
    greedy_served = loaded.signatures["greedy"](english=english)["french"].numpy()
    assert greedy_served.shape == (3,)
    recurrent = convs2s.translation_serving_fn(build("gru", "smoke"), beam_width=2)(english=english)["french"]
    assert recurrent.dtype == tf.string and recurrent.shape == (3,)


def test_models_have_about_the_same_parameters_and_fit_the_weights_file():
    convolutional, recurrent = (build(kind, "paper").count_params() for kind in ("convs2s", "gru"))
    assert abs(convolutional - recurrent) / convolutional < 0.1
    assert max(convolutional, recurrent) * 4 < 5 * 1024 * 1024 - 100_000


# The task.

@pytest.fixture
def fra_dir(tmp_path, monkeypatch):
    folder = tmp_path / "fra-eng"
    folder.mkdir()
    lines = [f"{e}\t{f}\tCC-BY 2.0 (France) Attribution: tatoeba.org" for e, f in SENTENCES * 4]
    lines += [f"{e} ({i})\t{f} ({i})" for i, (e, f) in enumerate(SENTENCES * 20)]
    (folder / "fra.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fra_eng.read_pairs.cache_clear()
    fra_eng.tokenized.cache_clear()
    yield tmp_path
    fra_eng.read_pairs.cache_clear()
    fra_eng.tokenized.cache_clear()


def test_split_by_english_sentence_and_batches(fra_dir):
    pairs = fra_eng.read_pairs(str(fra_dir))
    assert sum(len(p) for p in pairs.values()) == len(SENTENCES) * 24
    train_english = {e for e, _ in pairs["train"]}
    assert pairs["validation"] and not train_english & {e for e, _ in pairs["validation"]}
    x, y = next(iter(fra_eng.fra_eng_dataset("train", data_dir=str(fra_dir), batch_size=8)))
    assert x["source"].shape[1] % fra_eng.PAD_TO == 0 and x["decoder_input"].shape == y.shape
    rows = y.numpy() != 0
    np.testing.assert_array_equal(x["decoder_input"].numpy()[:, 0], convs2s.START_ID)
    followed = rows[:, 1:]  # y[t] is a word (not the final </s>): the decoder reads it at t + 1
    np.testing.assert_array_equal(x["decoder_input"].numpy()[:, 1:][followed], y.numpy()[:, :-1][followed])
    last = y.numpy()[np.arange(len(rows)), rows.sum(1) - 1]
    np.testing.assert_array_equal(last, convs2s.END_ID)


def test_missing_data_is_a_clear_error(tmp_path):
    fra_eng.read_pairs.cache_clear()
    with pytest.raises(FileNotFoundError, match="fra-eng/fra.txt"):
        fra_eng.read_pairs(str(tmp_path))
    with pytest.raises(ValueError, match="no test split"):
        fra_eng.held_out("test", data_dir=str(tmp_path))


def test_score_is_sacrebleu_on_all_and_short_sentences():
    inputs = {"english": np.array(["Go.", "A very long sentence of more than ten words, it says here."])}
    references = np.array(["Va\u202f!", "Une phrase très longue de plus de dix mots, dit-il ici."])
    perfect = fra_eng.score({"french": np.array(["Va !", references[1]])}, inputs, references)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["short_pairs"] == 1 and perfect["error"] < 1e-6
    wrong = fra_eng.score({"french": np.array(["Non.", references[1]])}, inputs, references)
    assert wrong["bleu_short"] == pytest.approx(0.0) and 0 < wrong["bleu"] < 100


def test_smoke_training_run_scores_bleu(fra_dir):
    info = train.train("convs2s_fra", preset="smoke", data_dir=str(fra_dir), run_dir=fra_dir / "run", verbose=0)
    held_out = info["metrics"]["held_out"]
    assert held_out["examples"] == len(fra_eng.read_pairs(str(fra_dir))["validation"])
    assert 0 <= held_out["bleu"] <= 100
    assert tasks.get("fra_eng").prediction_output == "french"
