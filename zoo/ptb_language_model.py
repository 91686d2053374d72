"""`ntm_lm_ptb` and `lstm_lm_ptb`: word language models of the Penn Treebank.

`ntm_lm_ptb` is an LSTM language model whose LSTM is the controller of a
Neural Turing Machine memory (Ko, Tseng & Lee, ICASSP 2017): each step it
writes to and reads from an N x M memory of the sentence so far, and the
read vector joins the controller's output. `lstm_lm_ptb` is the same model
with a plain LSTM of the same size in its place. Both tie the output
softmax to the input embedding (Press & Wolf, 2017) and score each line
from a fresh state.

The serving functions hold the whole protocol: splitting on spaces, the
vocabulary lookup (a word as written, else lower-cased, else `<unk>`), the
`<eos>` at the start and the end, and the sum of the log-probabilities.
"""

import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from custom_layers.ntm_cell import NTM
from zoo import registry

VOCABULARY_PATH = Path(__file__).parent / "ptb_vocabulary.txt"
EOS, UNK = "<eos>", "<unk>"
TOP_WORDS = 10  # words the `next_word` signature returns
MAX_WORDS = 200  # serving: longer lines are refused


@functools.cache
def vocabulary():
    """The 10,000 words of the training file (`<eos>` among them), most
    frequent first; a word's id is its position + 1 (0 is padding)."""
    return tuple(VOCABULARY_PATH.read_text().split())


def build_language_model(memory="ntm", vocabulary_size=None, embedding_dim=256, units=256,
                         memory_size=64, memory_width=32, dropout=0.3, seed=0):
    """A word language model over ids (0 = padding, `vocabulary()` from 1).

    `ids` [B, T] -> embedding (`embedding_dim`, tied with the output) ->
    dropout -> an NTM (`memory="ntm"`: LSTM controller of `units`, one read
    and one write head on a `memory_size` x `memory_width` memory) or an
    LSTM (`memory="lstm"`, `units`) -> dropout -> a linear projection to
    `embedding_dim` -> logits [B, T, vocabulary_size + 1] (float32), the
    transposed embedding. Padded steps leave the recurrent state unchanged.
    """
    if memory not in ("ntm", "lstm"):
        raise ValueError(f"`memory` must be 'ntm' or 'lstm'; received {memory!r}.")
    registry.check_positive_ints(embedding_dim=embedding_dim, units=units, memory_size=memory_size,
                                 memory_width=memory_width)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
    size = (vocabulary_size or len(vocabulary())) + 1
    ids = keras.Input((None,), dtype="int32", name="ids")
    embedding = keras.layers.ReversibleEmbedding(size, embedding_dim, mask_zero=True, name="embedding")
    h = keras.layers.Dropout(dropout, seed=seed, name="input_dropout")(embedding(ids))
    if memory == "ntm":
        h = NTM(units, memory_size, memory_width, seed=seed, name="ntm")(h)
    else:
        h = keras.layers.LSTM(units, return_sequences=True, name="lstm")(h)
    h = keras.layers.Dropout(dropout, seed=seed + 1, name="output_dropout")(h)
    h = keras.layers.Dense(embedding_dim, name="projection")(h)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(embedding(h, reverse=True))
    return keras.Model(ids, logits, name=f"{memory}_lm")


def _tokens(text):
    """The words of `text` [B] (flat, and the count of each line), with checks."""
    words = tf.strings.split(text)
    too_long = tf.debugging.Assert(
        tf.reduce_all(words.row_lengths() <= MAX_WORDS),
        [f"`text` must hold at most {MAX_WORDS} words a line"])
    with tf.control_dependencies([too_long]):
        return tf.identity(words.flat_values), words.row_lengths()


def serving_fns(model):
    """(`serving_default`, `next_word`) functions of `text` for `model`."""
    words = tf.constant(("",) + vocabulary())
    if not hasattr(model, "serving_vocabulary_table"):  # one table for both signatures
        # Tracked by the model, so that the export saves it.
        model.serving_vocabulary_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(words[1:], tf.range(1, len(vocabulary()) + 1, dtype=tf.int32)),
            default_value=-1)
    table = model.serving_vocabulary_table
    unk = vocabulary().index(UNK) + 1

    def lookup(flat):
        """Ids of words as written ("N" is PTB's number token), else lower-cased, else `<unk>`."""
        ids = table.lookup(flat)
        lower = table.lookup(tf.strings.lower(flat, encoding="utf-8"))
        return tf.where(ids > 0, ids, tf.where(lower > 0, lower, unk))
    eos = vocabulary().index(EOS) + 1

    def read(text):
        flat, lengths = _tokens(text)
        ids = tf.RaggedTensor.from_row_lengths(lookup(flat), lengths)
        start = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(text)[0], 1], eos))
        inputs = tf.concat([start, ids], axis=1).to_tensor()  # <eos> w1 .. wn, 0-padded
        logits = tf.cast(model(inputs, training=False), tf.float32)
        return ids, lengths, tf.nn.log_softmax(logits[..., 1:], axis=-1)  # padding never predicted

    def serve(text):
        ids, lengths, log_probs = read(text)
        end = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(text)[0], 1], eos))
        targets = tf.concat([ids, end], axis=1).to_tensor()
        picked = tf.gather(log_probs, tf.maximum(targets - 1, 0), batch_dims=2)
        steps = tf.range(tf.shape(targets)[1], dtype=lengths.dtype)[None]
        real = steps <= lengths[:, None]
        return {"log_probability": tf.reduce_sum(tf.where(real, picked, 0.0), axis=1),
                "num_words": tf.cast(lengths + 1, tf.int32)}

    def next_word(text):
        _, lengths, log_probs = read(text)
        last = tf.gather(log_probs, lengths, batch_dims=1)  # after the line's last word
        top = tf.math.top_k(last, k=TOP_WORDS)
        return {"words": tf.gather(words, top.indices + 1), "probabilities": tf.exp(top.values)}

    no_autograph = tf.autograph.experimental.do_not_convert  # plain graph code: nothing to convert
    return no_autograph(serve), no_autograph(next_word)


def serving_fn(model):
    """`serving_default`: `text` [B] -> `log_probability` [B] (natural log of
    the words and the final `<eos>`), `num_words` int32 [B] (the words and
    `<eos>`)."""
    return serving_fns(model)[0]


def next_word_fn(model):
    """`next_word`: `text` [B] -> the 10 likeliest next `words` [B, 10] and
    their `probabilities` [B, 10]."""
    return serving_fns(model)[1]


def examples():
    return {"text": np.array([
        "the company said it expects to report a loss for the third quarter",
        "stocks fell sharply in heavy trading",
        "the fed is expected to cut interest rates",
        "colorless green ideas sleep furiously",
    ], dtype=object)}


def _presets(memory):
    model = dict(memory=memory)
    return {
        "smoke": registry.Preset(
            model=dict(model, embedding_dim=16, units=16, memory_size=8, memory_width=8), epochs=1,
            batch_size=16, train_limit=64, learning_rate=3e-3,
            description="seconds: a tiny model on 64 sentences"),
        "quick": registry.Preset(
            model=model, epochs=1, batch_size=32, train_limit=8000, learning_rate=2e-3, clipnorm=1.0,
            description="minutes: 8,000 sentences, one epoch"),
        "paper": registry.Preset(
            model=model, epochs=6, batch_size=32, learning_rate=2e-3, clipnorm=1.0,
            jit_compile=True, held_out_every=2,
            description="the 42,068 training sentences, 6 epochs, Adam with cosine decay"),
    }


LINE = registry.TensorInfo("text", "string", (None,),
                           "a sentence, words separated by spaces (PTB's vocabulary; others are <unk>)")
OUTPUTS = (
    registry.TensorInfo("log_probability", "float32", (None,),
                        "natural log of the probability of the words and a final <eos>"),
    registry.TensorInfo("num_words", "int32", (None,), "words scored: the line's and <eos>"),
)
PAPER_RESULT = ("Ko, Tseng & Lee 2017: NTM LM below the LSTM's perplexity on PTB; "
                "Zaremba et al. 2014 small 2x200 LSTM 114.5 (streamed test)")


def _entry(name, memory, summary, sha):
    return registry.register(registry.ZooEntry(
        name=name,
        builder=build_language_model,
        task="ptb",
        presets=_presets(memory),
        inputs=(LINE,),
        outputs=OUTPUTS,
        serving_fn=serving_fn,
        example_inputs=examples,
        paper_result=PAPER_RESULT,
        weights_sha256=sha,
        summary=summary,
        extra_signatures={"next_word": next_word_fn},
    ))


NTM_LM = _entry("ntm_lm_ptb", "ntm", "LSTM language model with an NTM memory, Penn Treebank",
                "b205dce5b1dd7173b5c7a491b55abe33b2dae7c5ab9ece1857d4926b33df50d8")
LSTM_LM = _entry("lstm_lm_ptb", "lstm", "Plain LSTM language model of the same size, Penn Treebank",
                 "b3fc8989f9f5b08b1cf8dd2051d56d0ecf2e705e0192878ec9dd7c64a89a048d")
