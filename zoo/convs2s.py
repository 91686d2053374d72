"""`convs2s_fra` and `gru_attention_fra`: English to French translation.

`convs2s_fra` is convolutional sequence to sequence learning (Gehring et
al., ICML 2017): GLU convolution blocks with residuals, learned position
embeddings, and an attention in every decoder layer. `gru_attention_fra`
is the recurrent baseline of about the same parameter count: the
encoder-decoder with additive attention of `copy_chat` without the pointer.

Both read word ids and are split into two nested models, "encoder" and
"decoder", so that the serving function encodes once and then runs beam
search (a `tf.while_loop`) over the decoder, one word a step with each
layer's state kept (`decoder_steps`); it also lower-cases and
splits the English text, looks words up, and joins the French words again,
all in the graph. The vocabularies are files beside this module, written
from the training split by `training/tasks/fra_eng.py`.
"""

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers.convs2s_attention import ConvS2SAttention
from custom_layers.glu_conv1d import GLUConv1D
from custom_layers.pointer_attention import PointerAttention
from zoo import registry

PAD, UNK, START, END = "", "<unk>", "<s>", "</s>"
PAD_ID, UNK_ID, START_ID, END_ID = range(4)
ENGLISH_VOCABULARY_PATH = Path(__file__).parent / "fra_eng_english.txt"
FRENCH_VOCABULARY_PATH = Path(__file__).parent / "fra_eng_french.txt"
MAX_SOURCE_LENGTH = 40  # serving: longer sentences are cut (training keeps <= 16 words)
MAX_TARGET_LENGTH = 40  # serving: decoding steps at most (2 source words + 4 per sentence)
MAX_POSITIONS = 48
BEAM_WIDTH = 5
LENGTH_PENALTY = 1.0  # hypotheses ranked by log-probability / length ** LENGTH_PENALTY
PUNCTUATION = r'([.,!?;:"«»()%$&])'


def vocabulary(path):
    """The ids' words: padding, `<unk>`, `<s>`, `</s>`, then the file's words."""
    return (PAD, UNK, START, END) + tuple(Path(path).read_text(encoding="utf-8").split("\n")[:-1])


def english_vocabulary():
    return vocabulary(ENGLISH_VOCABULARY_PATH)


def french_vocabulary():
    return vocabulary(FRENCH_VOCABULARY_PATH)


def tokenize(text, lower=True):
    """The words of string `text` [B] (ragged [B, None]): lower-cased (unless
    not `lower`), other spaces and quotes made plain, punctuation split off,
    a word split after an apostrophe (j' ai, l' homme), then split on spaces."""
    if lower:
        text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, "[\u00a0\u202f\u2009]", " ")
    text = tf.strings.regex_replace(text, "[\u2019\u2018]", "'")
    text = tf.strings.regex_replace(text, PUNCTUATION, r" \1 ")
    text = tf.strings.regex_replace(text, "'", "' ")
    return tf.strings.split(text)


def detokenize(words):
    """Ragged words [B, None] joined into text [B]: spaces, but none before
    `.` and `,`, after an apostrophe, inside brackets; a capital first letter."""
    text = tf.strings.reduce_join(words, axis=1, separator=" ")
    text = tf.strings.regex_replace(text, r" ([.,)])", r"\1")
    text = tf.strings.regex_replace(text, r"([(']) ", r"\1")
    text = text + " "  # a first character to take, even of "", taken off again below
    first = tf.strings.upper(tf.strings.substr(text, 0, 1, unit="UTF8_CHAR"), encoding="utf-8")
    return tf.strings.regex_replace(first + tf.strings.substr(text, 1, 1 << 20, unit="UTF8_CHAR"), " $", "")


def restore_words(ids, words, attention, cased):
    """French `words` [B, T] (of target `ids`) with `<unk>` replaced by the
    source word the decoder attended to most (`attention` [B, T, S]), and
    words that the source `cased` [B, S] writes with capitals (names) written
    so: the vocabularies are lower-case (fairseq's --replace-unk, without an
    alignment dictionary)."""
    attended = tf.gather(cased, tf.argmax(attention, axis=-1, output_type=tf.int32), batch_dims=1)
    words = tf.where(tf.equal(ids, UNK_ID), attended, words)
    lowered = tf.strings.lower(cased, encoding="utf-8")
    match = tf.logical_and(tf.equal(tf.strings.lower(words, encoding="utf-8")[:, :, None], lowered[:, None, :]),
                           tf.not_equal(cased, lowered)[:, None, :])  # [B, T, S]
    source = tf.argmax(tf.cast(match, tf.int32), axis=-1, output_type=tf.int32)
    return tf.where(tf.reduce_any(match, axis=-1), tf.gather(cased, source, batch_dims=1), words)


def _check_sizes(**sizes):
    registry.check_positive_ints(**sizes)


def _positions(ids, max_positions):
    """Position ids 1, 2, ... of the real words of `ids` (at most max_positions), 0 at padding."""
    real = ops.cast(ops.not_equal(ids, PAD_ID), "int32")
    return ops.minimum(ops.cumsum(real, axis=1), max_positions) * real


def _embedded(ids, words, positions, max_positions, dropout, name):
    e = keras.layers.Add(name=f"{name}_embedded")([words(ids), positions(_positions(ids, max_positions))])
    return e, keras.layers.Dropout(dropout, name=f"{name}_embedding_dropout")(e)


def build_convs2s(embedding_dim=64, hidden=128, encoder_layers=4, decoder_layers=3, kernel_size=3,
                  dropout=0.1, max_positions=MAX_POSITIONS, source_vocabulary_size=None,
                  target_vocabulary_size=None):
    """ConvS2S (Gehring et al., 2017) over word ids; 0 is padding.

    Encoder: word + position embeddings e (`embedding_dim`) -> Dense to
    `hidden` -> `encoder_layers` GLU blocks (`kernel_size`, padding masked)
    -> Dense back to the embedding size: z; it returns z and
    (z + e) * sqrt(0.5). Decoder: embeddings g of <s> and the target words
    so far -> Dense to `hidden` -> `decoder_layers` of a causal GLU
    convolution, a `ConvS2SAttention` over z (context from z + e), and the
    layer's input added back, times sqrt(0.5) -> Dense to the embedding
    size -> logits by the transposed target embedding (tied, as fairseq's
    `share_input_output_embed`, to fit the 5 MB weights file).

    Inputs: `source` [B, S] and `decoder_input` [B, T] (int32). Output:
    logits float32 [B, T, target vocabulary]. Nested models: "encoder"
    (source -> [z, z + e]) and "decoder" ({decoder_input, source,
    encoder_outputs, encoder_sums} -> {"logits", "attention" [B, T, S]: the
    mean over the decoder layers}).
    """
    source_vocabulary_size = source_vocabulary_size or len(english_vocabulary())
    target_vocabulary_size = target_vocabulary_size or len(french_vocabulary())
    _check_sizes(embedding_dim=embedding_dim, hidden=hidden, encoder_layers=encoder_layers,
                 decoder_layers=decoder_layers, kernel_size=kernel_size, max_positions=max_positions,
                 source_vocabulary_size=source_vocabulary_size, target_vocabulary_size=target_vocabulary_size)
    root = math.sqrt(0.5)

    source = keras.Input((None,), dtype="int32", name="source")
    source_mask = ops.not_equal(source, PAD_ID)
    e, x = _embedded(source, keras.layers.Embedding(source_vocabulary_size, embedding_dim, name="source_words"),
                     keras.layers.Embedding(max_positions + 1, embedding_dim, name="source_positions"),
                     max_positions, dropout, "source")
    x = keras.layers.Dense(hidden, name="encoder_in")(x)
    for i in range(encoder_layers):
        x = GLUConv1D(kernel_size, dropout=dropout, name=f"encoder_glu_{i}")(x, mask=source_mask)
    z = keras.layers.Dense(embedding_dim, name="encoder_out")(x)
    sums = keras.layers.Rescaling(root, name="encoder_sums")(keras.layers.Add()([z, e]))
    encoder = keras.Model(source, [z, sums], name="encoder")

    decoder_input = keras.Input((None,), dtype="int32", name="decoder_input")
    decoder_source = keras.Input((None,), dtype="int32", name="source")
    z_in = keras.Input((None, embedding_dim), name="encoder_outputs")
    sums_in = keras.Input((None, embedding_dim), name="encoder_sums")
    mask = ops.not_equal(decoder_source, PAD_ID)
    target_words = keras.layers.ReversibleEmbedding(target_vocabulary_size, embedding_dim, name="target_words")
    g, x = _embedded(decoder_input, target_words,
                     keras.layers.Embedding(max_positions + 1, embedding_dim, name="target_positions"),
                     max_positions, dropout, "target")
    x = keras.layers.Dense(hidden, name="decoder_in")(x)
    attentions = []
    for i in range(decoder_layers):
        conv = GLUConv1D(kernel_size, causal=True, residual=False, dropout=dropout,
                         name=f"decoder_glu_{i}")(x)
        attended, attention = ConvS2SAttention(return_attention=True, name=f"attention_{i}")(
            [conv, g, z_in, sums_in], mask=[None, None, mask, mask])
        attentions.append(attention)
        x = keras.layers.Rescaling(root, name=f"decoder_residual_{i}")(keras.layers.Add()([attended, x]))
    x = keras.layers.Dense(embedding_dim, name="decoder_out")(x)
    x = keras.layers.Dropout(dropout, name="decoder_out_dropout")(x)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(target_words(x, reverse=True))
    attention = attentions[0] if len(attentions) == 1 else keras.layers.Average(name="attention")(attentions)
    decoder = keras.Model({"decoder_input": decoder_input, "source": decoder_source, "encoder_outputs": z_in,
                           "encoder_sums": sums_in}, {"logits": logits, "attention": attention}, name="decoder")
    return _joined(encoder, decoder, "convs2s_fra")


def _joined(encoder, decoder, name):
    source = keras.Input((None,), dtype="int32", name="source")
    decoder_input = keras.Input((None,), dtype="int32", name="decoder_input")
    outputs, sums = encoder(source)
    logits = decoder({"decoder_input": decoder_input, "source": source, "encoder_outputs": outputs,
                      "encoder_sums": sums})["logits"]
    return keras.Model({"source": source, "decoder_input": decoder_input}, logits, name=name)


def build_gru_attention(embedding_dim=64, units=208, attention_units=128, dropout=0.1,
                        source_vocabulary_size=None, target_vocabulary_size=None):
    """The recurrent baseline: `copy_chat`'s GRU encoder-decoder with
    additive attention, without the pointer, over two vocabularies.

    Encoder: word embedding -> bidirectional GRU (`units` each way) ->
    outputs [B, S, 2 units] and Dense(tanh) of its final states, the
    decoder's first state. Decoder: target embedding -> GRU (`units`) ->
    `PointerAttention` (additive, padding masked) over the encoder outputs
    -> context -> Dense (linear, as ConvS2S's output) of [state; context] to
    the embedding size -> logits by the transposed target embedding (tied,
    as in `build_convs2s`).
    Same inputs, output and nested models as `build_convs2s` (the encoder's
    second output is the first state, the decoder's `encoder_sums` input).
    """
    source_vocabulary_size = source_vocabulary_size or len(english_vocabulary())
    target_vocabulary_size = target_vocabulary_size or len(french_vocabulary())
    _check_sizes(embedding_dim=embedding_dim, units=units, attention_units=attention_units,
                 source_vocabulary_size=source_vocabulary_size, target_vocabulary_size=target_vocabulary_size)
    source = keras.Input((None,), dtype="int32", name="source")
    embedded = keras.layers.Embedding(source_vocabulary_size, embedding_dim, mask_zero=True,
                                      name="source_words")(source)
    embedded = keras.layers.Dropout(dropout, name="source_embedding_dropout")(embedded)
    encoded, forward, backward = keras.layers.Bidirectional(
        keras.layers.GRU(units, return_sequences=True, return_state=True), name="encoder_gru")(embedded)
    initial = keras.layers.Dense(units, activation="tanh", name="bridge")(
        keras.layers.Concatenate(name="encoder_states")([forward, backward]))
    encoder = keras.Model(source, [encoded, initial], name="encoder")

    decoder_input = keras.Input((None,), dtype="int32", name="decoder_input")
    decoder_source = keras.Input((None,), dtype="int32", name="source")
    encoded_in = keras.Input((None, 2 * units), name="encoder_outputs")
    initial_in = keras.Input((units,), name="encoder_sums")
    mask = ops.not_equal(decoder_source, PAD_ID)
    target_words = keras.layers.ReversibleEmbedding(target_vocabulary_size, embedding_dim, name="target_words")
    g = keras.layers.Dropout(dropout, name="target_embedding_dropout")(target_words(decoder_input))
    states = keras.layers.GRU(units, return_sequences=True, name="decoder_gru")(g, initial_state=initial_in)
    attention = keras.layers.Activation("exponential", dtype="float32", name="attention")(
        PointerAttention(attention_units, name="pointer_attention")([states, encoded_in], mask=[None, mask]))
    context = ops.matmul(ops.cast(attention, encoded_in.dtype), encoded_in)
    hidden = keras.layers.Dense(embedding_dim, name="output_hidden")(  # linear: tanh here barely learned
        keras.layers.Concatenate(name="state_and_context")([states, context]))
    hidden = keras.layers.Dropout(dropout, name="output_dropout")(hidden)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(target_words(hidden, reverse=True))
    decoder = keras.Model({"decoder_input": decoder_input, "source": decoder_source, "encoder_outputs": encoded_in,
                           "encoder_sums": initial_in}, {"logits": logits, "attention": attention}, name="decoder")
    return _joined(encoder, decoder, "gru_attention_fra")


def _tables(model):
    """Lookup tables of the two vocabularies, tracked by `model` (the export saves them)."""
    if not hasattr(model, "serving_english_table"):
        words = english_vocabulary()
        model.serving_english_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(words), tf.range(len(words), dtype=tf.int32)),
            default_value=UNK_ID)
    return model.serving_english_table, tf.constant(french_vocabulary())


def source_words(english):
    """Words [B, S] of English text [B] as written (S >= 1: a padding column at least)."""
    words = tokenize(english, lower=False)[:, :MAX_SOURCE_LENGTH]
    return tf.pad(words.to_tensor(default_value=PAD), [[0, 0], [0, 1]], constant_values=PAD)


def source_ids(table, english):
    """Ids [B, S] of English text [B] (as `source_words`; the words lower-cased)."""
    return table.lookup(tf.strings.lower(source_words(english), encoding="utf-8"))


class ConvS2SSteps:
    """`convs2s_fra`'s decoder one word at a time: each causal GLU layer keeps
    its last `kernel_size - 1` inputs, so a step costs the same at any length
    (the whole decoder over the prefix costs in proportion to it)."""

    def __init__(self, decoder):
        self.words, self.positions = decoder.get_layer("target_words"), decoder.get_layer("target_positions")
        self.into, self.out = decoder.get_layer("decoder_in"), decoder.get_layer("decoder_out")
        self.max_positions = self.positions.input_dim - 1
        count = sum(layer.name.startswith("decoder_glu_") for layer in decoder.layers)
        self.layers = [(decoder.get_layer(f"decoder_glu_{i}"), decoder.get_layer(f"attention_{i}"))
                       for i in range(count)]

    def initial_state(self, batch, encoder_sums):
        return [glu.initial_cache(batch) for glu, _ in self.layers]

    def step(self, word, position, source_mask, encoder_outputs, encoder_sums, state):
        """Logits [B, V] after `word` [B] at `position` (1 for <s>), and the new state."""
        g = self.words(word[:, None]) + self.positions(tf.fill(tf.shape(word[:, None]),
                                                                tf.minimum(position, self.max_positions)))
        x = self.into(g)
        new_state = []
        for (glu, attention), cache in zip(self.layers, state):
            conv, cache = glu.step(x[:, 0], cache)
            new_state.append(cache)
            attended, _ = attention([conv[:, None], g, encoder_outputs, encoder_sums],
                                    mask=[None, None, source_mask, source_mask])
            x = (attended + x) * math.sqrt(0.5)
        return tf.cast(self.words(self.out(x), reverse=True)[:, 0], tf.float32), new_state


class GRUSteps:
    """`gru_attention_fra`'s decoder one word at a time: the GRU cell's state."""

    def __init__(self, decoder):
        self.words, self.cell = decoder.get_layer("target_words"), decoder.get_layer("decoder_gru").cell
        self.attention, self.out = decoder.get_layer("pointer_attention"), decoder.get_layer("output_hidden")

    def initial_state(self, batch, encoder_sums):
        return [encoder_sums]  # the bridge's first state

    def step(self, word, position, source_mask, encoder_outputs, encoder_sums, state):
        h, _ = self.cell(self.words(word), state)
        attention = tf.exp(tf.cast(self.attention([h[:, None], encoder_outputs], mask=[None, source_mask]),
                                   encoder_outputs.dtype))
        context = tf.matmul(attention, encoder_outputs)
        hidden = self.out(tf.concat([h[:, None], tf.cast(context, h.dtype)], axis=-1))
        return tf.cast(self.words(hidden, reverse=True)[:, 0], tf.float32), [h]


def decoder_steps(model):
    """The one-word-at-a-time decoder of a `convs2s_fra` or `gru_attention_fra` model."""
    decoder = model.get_layer("decoder")
    if any(layer.name == "decoder_gru" for layer in decoder.layers):
        return GRUSteps(decoder)
    return ConvS2SSteps(decoder)


def beam_search(model, source, beam_width=BEAM_WIDTH, length_penalty=LENGTH_PENALTY, allow_unknown=True,
                incremental=True):
    """Target ids [B, L] (<s> left out, 0 after </s>) of the best hypothesis
    of a beam search over `model`'s decoder, in a `tf.while_loop`.

    Each step extends the `beam_width` hypotheses of a sentence with every
    word and keeps the best `beam_width` sums of log-probabilities; a
    hypothesis that wrote </s> continues with padding at no cost. Decoding
    stops when all have ended or after 2 S + 4 steps (at most
    MAX_TARGET_LENGTH); the answer is the hypothesis with the best sum over
    its length (</s> counted) ** `length_penalty`. Width 1 is greedy
    decoding. Without `allow_unknown`, `<unk>` is never chosen (on 600
    validation pairs that gave the same BLEU as copying a source word for
    it, which the serving function does). `incremental` (default) feeds the
    decoder one word a step and keeps its state (`decoder_steps`); False
    runs the whole decoder over each prefix, the reference it is tested
    against.
    """
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    batch, k = tf.shape(source)[0], beam_width
    outputs, sums = encoder(source, training=False)
    inputs = {"source": tf.repeat(source, k, axis=0), "encoder_outputs": tf.repeat(outputs, k, axis=0),
              "encoder_sums": tf.repeat(sums, k, axis=0)}
    real_length = tf.reduce_max(tf.reduce_sum(tf.cast(source != PAD_ID, tf.int32), axis=1))
    steps = tf.minimum(2 * real_length + 4, MAX_TARGET_LENGTH)
    stepper = decoder_steps(model) if incremental else None

    def reordered(tensor, beam):
        shape = tf.shape(tensor)
        picked = tf.gather(tf.reshape(tensor, tf.concat([[batch, k], shape[1:]], 0)), beam, batch_dims=1)
        return tf.reshape(picked, shape)

    def body(step, tokens, scores, finished, lengths, state):
        if stepper is None:
            logits = decoder({**inputs, "decoder_input": tokens}, training=False)["logits"][:, -1]
        else:
            logits, state = stepper.step(tokens[:, -1], step + 1, inputs["source"] != PAD_ID,
                                         inputs["encoder_outputs"], inputs["encoder_sums"], state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        size = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [batch, k, size])
        words = tf.range(size)
        never = tf.logical_or(tf.equal(words, PAD_ID), tf.equal(words, START_ID))
        if not allow_unknown:
            never = tf.logical_or(never, tf.equal(words, UNK_ID))
        log_probs = tf.where(never, -1e9, log_probs)
        log_probs = tf.where(finished[..., None], tf.where(tf.equal(words, PAD_ID), 0.0, -1e9), log_probs)
        scores, index = tf.math.top_k(tf.reshape(scores[..., None] + log_probs, [batch, k * size]), k)
        beam, word = index // size, index % size
        ended = tf.gather(finished, beam, batch_dims=1)
        lengths = tf.gather(lengths, beam, batch_dims=1) + tf.cast(tf.logical_not(ended), tf.int32)
        tokens = tf.reshape(tf.concat([reordered(tokens, beam), tf.reshape(word, [-1, 1])], axis=1),
                            [batch * k, -1])
        state = [reordered(s, beam) for s in state]
        return step + 1, tokens, scores, tf.logical_or(ended, tf.equal(word, END_ID)), lengths, state

    state = stepper.initial_state(batch * k, inputs["encoder_sums"]) if stepper else []
    start = (tf.fill([batch * k, 1], START_ID), tf.tile(tf.constant([[0.0] + [-1e9] * (k - 1)]), [batch, 1]),
             tf.zeros([batch, k], tf.bool), tf.zeros([batch, k], tf.int32), state)
    _, tokens, scores, _, lengths, _ = tf.while_loop(
        lambda step, tokens, scores, finished, lengths, state: tf.logical_and(
            step < steps, tf.logical_not(tf.reduce_all(finished))),
        body, (tf.constant(0),) + start,
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None, k]),
                          tf.TensorShape([None, k]), tf.TensorShape([None, k]),
                          [tf.TensorShape([None]).concatenate(s.shape[1:]) for s in state]))
    normalised = scores / tf.pow(tf.cast(tf.maximum(lengths, 1), tf.float32), length_penalty)
    best = tf.argmax(normalised, axis=1, output_type=tf.int32)
    tokens = tf.gather(tf.reshape(tokens, [batch, k, -1]), best, batch_dims=1)[:, 1:]
    ended = tf.cumsum(tf.cast(tf.equal(tokens, END_ID), tf.int32), axis=1) > 0
    return tf.where(ended, PAD_ID, tokens)


def translation_serving_fn(model, beam_width=BEAM_WIDTH):
    """`serving_default`: `english` string [B] -> `french` string [B]."""
    table, french_words = _tables(model)

    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")

    def serve(english):
        cased = source_words(english)
        source = table.lookup(tf.strings.lower(cased, encoding="utf-8"))
        ids = beam_search(model, source, beam_width)
        outputs, sums = encoder(source, training=False)
        decoder_input = tf.concat([tf.fill([tf.shape(ids)[0], 1], START_ID), ids[:, :-1]], axis=1)
        attention = decoder({"decoder_input": decoder_input, "source": source, "encoder_outputs": outputs,
                             "encoder_sums": sums}, training=False)["attention"]
        words = restore_words(ids, tf.gather(french_words, ids), attention, cased)
        words = tf.where(tf.equal(ids, PAD_ID), PAD, words)
        return {"french": detokenize(tf.RaggedTensor.from_tensor(words, padding=PAD))}

    return serve


def greedy_serving_fn(model):
    """The `greedy` signature: beam width 1."""
    return translation_serving_fn(model, beam_width=1)


def translate_with_attention(model, english, beam_width=BEAM_WIDTH):
    """For each sentence of `english` (a list of str): (its words, the
    translation's words with </s>, the decoder's attention [target words,
    source words]), the attention read with teacher forcing on the beam's
    output (ConvS2S: the mean over the decoder layers)."""
    table, french_words = _tables(model)
    source = source_ids(table, tf.constant(english))
    ids = beam_search(model, source, beam_width).numpy()
    outputs, sums = model.get_layer("encoder")(source, training=False)
    rows = []
    for i, sentence in enumerate(english):
        length = int(np.sum(source[i].numpy() != PAD_ID))
        target = [t for t in ids[i] if t != PAD_ID] + [END_ID]
        decoder_input = tf.constant([[START_ID] + target[:-1]], tf.int32)
        attention = model.get_layer("decoder")({
            "decoder_input": decoder_input, "source": source[i:i + 1], "encoder_outputs": outputs[i:i + 1],
            "encoder_sums": sums[i:i + 1]}, training=False)["attention"]
        words = [w.decode("utf-8") for w in tokenize(tf.constant([sentence]))[0][:length].numpy()]
        french = [w.decode("utf-8") for w in tf.gather(french_words, target).numpy()]
        rows.append((words, french, np.asarray(attention)[0, :, :length]))
    return rows


def examples():
    return {"english": np.array([
        "I'm hungry.",
        "Tom is reading a book in the garden.",
        "Where is the station?",
        "We will leave tomorrow morning.",
    ])}


PAPER_EPOCHS = 8  # the same for both models: about 20 and 30 minutes on 2 quiet CPU cores


def _presets(kind):
    tiny = dict(embedding_dim=8, hidden=8, encoder_layers=1, decoder_layers=1) if kind == "convs2s" \
        else dict(embedding_dim=8, units=8, attention_units=8)
    return {
        "smoke": registry.Preset(model=tiny, epochs=1, batch_size=32, train_limit=128,
                                 description="seconds: a tiny model on 128 pairs"),
        "quick": registry.Preset(model={}, epochs=1, batch_size=64, learning_rate=2e-3, clipnorm=1.0, jit_compile=True,
                                 train_limit=8000, description="a minute or two: 8,000 pairs, 1 epoch"),
        "paper": registry.Preset(model={}, epochs=PAPER_EPOCHS, batch_size=64, learning_rate=2e-3, clipnorm=1.0,
                                 jit_compile=True,
                                 description=f"the training pairs of <= 16 words, {PAPER_EPOCHS} epochs "
                                             "(the same for both models)"),
    }


ENGLISH = registry.TensorInfo("english", "string", (None,),
                              "an English sentence (lower-cased, punctuation split off, in the graph)")
FRENCH = registry.TensorInfo("french", "string", (None,), "its French translation (beam search, width 5)")
PAPER_RESULT = ("Gehring et al. (2017): 40.5 BLEU on WMT'14 English-French (a 36M-pair corpus, "
                "large models); no published figure on Tatoeba")

CONVS2S_FRA = registry.register(registry.ZooEntry(
    name="convs2s_fra", builder=build_convs2s, task="fra_eng", presets=_presets("convs2s"),
    inputs=(ENGLISH,), outputs=(FRENCH,), serving_fn=translation_serving_fn, example_inputs=examples,
    paper_result=PAPER_RESULT, weights_sha256="7faf625016d0ed51298d3b471d10fdbd2756b0e7dd92562ce1e07b1df4dfa99b",
    extra_signatures={"greedy": greedy_serving_fn},
    summary="Convolutional seq2seq (GLU blocks, attention in every decoder layer), English to French"))

GRU_ATTENTION_PRESETS = _presets("gru")

GRU_ATTENTION_FRA = registry.register(registry.ZooEntry(
    name="gru_attention_fra", builder=build_gru_attention, task="fra_eng", presets=GRU_ATTENTION_PRESETS,
    inputs=(ENGLISH,), outputs=(FRENCH,), serving_fn=translation_serving_fn, example_inputs=examples,
    paper_result="the recurrent baseline of convs2s_fra",
    weights_sha256="a79ea2590c43add3321ec3d6b89019669315f9a170c565a6c63f652fb62cfcb5",
    extra_signatures={"greedy": greedy_serving_fn},
    summary="GRU encoder-decoder with attention (copy_chat without the pointer), English to French"))
