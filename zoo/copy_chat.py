"""`copy_chat` and `copy_chat_no_pointer`: a small seq2seq chat model that
copies unseen names with a pointer-generator (See, Liu & Manning, 2017).

The model reads word ids; its serving function does the rest in the graph:
lower-casing, splitting (punctuation apart, then on spaces), the vocabulary
lookup (a `tf.lookup.StaticHashTable`), extended ids for out-of-vocabulary
source words, greedy decoding, and the words of the reply, copied words
taken from the prompt's own tokens.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from custom_layers.pointer_attention import PointerAttention
from custom_layers.pointer_generator import PointerGenerator
from zoo import registry

PAD, UNK, START, END = "", "[UNK]", "<start>", "<end>"
# The fixed vocabulary: every word of the chat task's templates and a few
# more. Names are never in it (training/tasks/chat.py checks).
VOCABULARY = (PAD, UNK, START, END) + tuple(
    """
    , ! . ? and am are call can do for friends from glad good greetings hello help
    here hey hi how i in is live me meet morning my name nice of people see
    the there this to too welcome what you your
    """.split()
)
VOCAB_SIZE = len(VOCABULARY)
PAD_ID, UNK_ID, START_ID, END_ID = range(4)
MAX_OOV = 4  # extended-vocabulary slots for source words outside the vocabulary
MAX_SOURCE_LENGTH = 32  # serving: longer prompts are cut
MAX_REPLY_LENGTH = 12  # serving: greedy decoding steps (the end token included)
PUNCTUATION = r"([,!?.;:])"  # split off before splitting on spaces


def build_copy_chat(use_pointer=True, embedding_dim=32, units=64, attention_units=32,
                    max_oov=MAX_OOV, p_gen_bias=0.0):
    """A GRU encoder-decoder with attention, with or without the pointer.

    Encoder: shared word embedding -> bidirectional GRU (`units` each way);
    its final states, joined, start the decoder GRU (`units`). Attention:
    `PointerAttention` (additive, over the encoder positions, padding
    masked) from each decoder state; the context is the attention-weighted
    encoder output. Vocabulary distribution: softmax(Dense(tanh(Dense([state;
    context])))). With `use_pointer`, a `PointerGenerator` mixes it with the
    attention scattered onto `source_extended` (See et al., 2017), over
    `VOCAB_SIZE + max_oov` ids; without, the output is the vocabulary
    softmax alone and out-of-vocabulary words can only be "[UNK]".

    Inputs (int32, 0 = padding): `source` [B, S] (vocabulary ids, OOV words
    as [UNK]), with the pointer `source_extended` [B, S] (OOV words as
    VOCAB_SIZE + k, k-th distinct OOV word of the source), and
    `decoder_input` [B, T] (<start> then the reply, OOV words as [UNK]).
    Output: probabilities float32 [B, T, VOCAB_SIZE (+ max_oov)], masked
    where `decoder_input` is padding. The layer "pointer_generator" also
    returns p_gen.
    """
    registry.check_positive_ints(embedding_dim=embedding_dim, units=units, attention_units=attention_units)
    source = keras.Input((None,), dtype="int32", name="source")
    decoder_input = keras.Input((None,), dtype="int32", name="decoder_input")
    embedding = keras.layers.Embedding(VOCAB_SIZE, embedding_dim, mask_zero=True, name="embedding")
    encoded, forward, backward = keras.layers.Bidirectional(
        keras.layers.GRU(units, return_sequences=True, return_state=True), name="encoder"
    )(embedding(source))
    initial = keras.layers.Dense(units, activation="tanh", name="bridge")(
        keras.layers.Concatenate(name="encoder_states")([forward, backward]))
    embedded = embedding(decoder_input)
    states = keras.layers.GRU(units, return_sequences=True, name="decoder")(
        embedded, initial_state=initial)
    attention = ops.exp(PointerAttention(attention_units, name="attention")([states, encoded]))
    context = ops.matmul(attention, ops.cast(encoded, attention.dtype))
    hidden = keras.layers.Dense(units, activation="tanh", name="output_hidden")(
        keras.layers.Concatenate(name="state_and_context")([states, context]))
    logits = keras.layers.Dense(VOCAB_SIZE, name="vocabulary_logits")(hidden)
    if use_pointer:
        source_extended = keras.Input((None,), dtype="int32", name="source_extended")
        probabilities, _ = PointerGenerator(
            max_oov, return_p_gen=True, bias_initializer=keras.initializers.Constant(p_gen_bias),
            name="pointer_generator",
        )([states, context, embedded, logits, attention, source_extended])
        inputs = {"source": source, "source_extended": source_extended,
                  "decoder_input": decoder_input}
    else:
        probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(
            logits)
        inputs = {"source": source, "decoder_input": decoder_input}
    return keras.Model(inputs, probabilities,
                       name="copy_chat" if use_pointer else "copy_chat_no_pointer")


def tokenize(prompt):
    """Lower-cased words of string `prompt` [B] as a dense [B, MAX_SOURCE_LENGTH]
    string tensor, "" as padding: punctuation split off, then split on spaces."""
    text = tf.strings.lower(prompt, encoding="utf-8")
    text = tf.strings.regex_replace(text, PUNCTUATION, r" \1 ")
    return tf.strings.split(text).to_tensor(default_value=PAD, shape=[None, MAX_SOURCE_LENGTH])


def extended_ids(tokens, ids, max_oov):
    """Extended-vocabulary ids of `tokens` [B, S] whose vocabulary ids are
    `ids`: the k-th distinct out-of-vocabulary word (k < max_oov) of a row
    becomes VOCAB_SIZE + k, everywhere it occurs; beyond max_oov, [UNK].
    Also returns, for each row and slot k, the position of that word."""
    positions = tf.range(tf.shape(tokens)[1])
    same = tf.equal(tokens[:, :, None], tokens[:, None, :])  # [B, S, S]
    first = tf.argmax(tf.cast(same, tf.int32), axis=2, output_type=tf.int32)  # first equal
    oov = tf.logical_and(tf.equal(ids, UNK_ID), tf.not_equal(tokens, PAD))
    new_oov = tf.logical_and(oov, tf.equal(first, positions[None]))
    rank_of_first = tf.cumsum(tf.cast(new_oov, tf.int32), axis=1, exclusive=True)
    rank = tf.gather(rank_of_first, first, batch_dims=1)
    extended = tf.where(tf.logical_and(oov, rank < max_oov), VOCAB_SIZE + rank, ids)
    slot_of_position = tf.where(new_oov, rank_of_first, -1)  # [B, S]
    slots = tf.range(max_oov)
    slot_position = tf.argmax(  # [B, max_oov]: where slot k's word stands
        tf.cast(tf.equal(slot_of_position[:, None, :], slots[None, :, None]), tf.int32),
        axis=2, output_type=tf.int32)
    return extended, slot_position


def copy_chat_serving_fn(model):
    """`serving_default`: `prompt` string [B] -> `reply` string [B] (and, with
    the pointer, `p_gen` float32 [B, MAX_REPLY_LENGTH]: the generation
    probability of each reply step, the end token's included, 0 after it)."""
    use_pointer = "source_extended" in model.input
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(VOCABULARY), tf.range(VOCAB_SIZE, dtype=tf.int32)),
        default_value=UNK_ID,
    )
    # Tracked by the model, so that the export saves the table with it.
    model.serving_vocabulary_table = table
    words = tf.constant(VOCABULARY)
    if use_pointer:
        generator = model.get_layer("pointer_generator")
        step_model = keras.Model(model.input, generator.output)
        max_oov = generator.max_oov
    else:
        step_model, max_oov = model, 0

    def serve(prompt):
        tokens = tokenize(prompt)
        ids = table.lookup(tokens)
        inputs = {"source": ids}
        if use_pointer:
            inputs["source_extended"], slot_position = extended_ids(tokens, ids, max_oov)
        batch = tf.shape(prompt)[0]
        decoder_input = tf.fill([batch, 1], START_ID)
        chosen, p_gens = [], []
        for _ in range(MAX_REPLY_LENGTH):
            outputs = step_model({**inputs, "decoder_input": decoder_input}, training=False)
            probabilities = outputs[0] if use_pointer else outputs
            word = tf.argmax(probabilities[:, -1], axis=-1, output_type=tf.int32)
            chosen.append(word)
            if use_pointer:
                p_gens.append(tf.cast(outputs[1][:, -1], tf.float32))
            fed = tf.where(word >= VOCAB_SIZE, UNK_ID, word)  # copied words go in as [UNK]
            decoder_input = tf.concat([decoder_input, fed[:, None]], axis=1)
        chosen = tf.stack(chosen, axis=1)  # [B, T]
        ended = tf.logical_or(tf.equal(chosen, END_ID), tf.equal(chosen, PAD_ID))
        length = tf.where(tf.reduce_any(ended, axis=1),
                          tf.argmax(tf.cast(ended, tf.int32), axis=1, output_type=tf.int32),
                          MAX_REPLY_LENGTH)
        text = tf.gather(words, tf.minimum(chosen, VOCAB_SIZE - 1))
        if use_pointer:
            slot = tf.clip_by_value(chosen - VOCAB_SIZE, 0, max_oov - 1)
            position = tf.gather(slot_position, slot, batch_dims=1)
            copied = tf.gather(tokens, position, batch_dims=1)
            text = tf.where(chosen >= VOCAB_SIZE, copied, text)
        reply = tf.strings.reduce_join(
            tf.RaggedTensor.from_tensor(text, lengths=length), axis=1, separator=" ")
        if not use_pointer:
            return {"reply": reply}
        steps = tf.range(MAX_REPLY_LENGTH)[None]
        p_gen = tf.where(steps <= length[:, None], tf.stack(p_gens, axis=1), 0.0)
        return {"reply": reply, "p_gen": p_gen}

    return serve


def chat_examples():
    """Greetings with names of the held-out (test) kind, never seen in training."""
    return {"prompt": np.array([
        "Hello, I am Zubelo",
        "hi ! my name is kavira",
        "Hey , Dorimu here",
        "good morning , i am tesako from poluni",
    ])}


def _presets(use_pointer):
    model = dict(use_pointer=use_pointer)
    return {
        "smoke": registry.Preset(
            model=dict(model, embedding_dim=8, units=8, attention_units=8), epochs=1,
            batch_size=32, train_limit=128, task=dict(size=256, copy=use_pointer),
            description="seconds: a tiny model on 128 greetings",
        ),
        "quick": registry.Preset(
            model=model, epochs=2, batch_size=64, learning_rate=3e-3,
            task=dict(size=6000, copy=use_pointer),
            description="a minute or two: 6,000 greetings, 2 epochs",
        ),
        "paper": registry.Preset(
            model=model, epochs=6, batch_size=64, learning_rate=3e-3,
            task=dict(size=20000, copy=use_pointer),
            description="20,000 generated greetings, 6 epochs (a few minutes on 2 CPU cores)",
        ),
    }


PROMPT = registry.TensorInfo(
    "prompt", "string", (None,),
    "a greeting, e.g. \"Hello, I am Zubelo\" (lower-cased, punctuation split off, split on spaces)")
REPLY = registry.TensorInfo("reply", "string", (None,), "the reply, words joined by spaces")
PAPER_RESULT = ("no published figure; our task (See et al., 2017, report ROUGE on "
                "CNN/Daily Mail summaries)")

COPY_CHAT = registry.register(
    registry.ZooEntry(
        name="copy_chat",
        builder=build_copy_chat,
        task="chat",
        presets=_presets(True),
        inputs=(PROMPT,),
        outputs=(
            REPLY,
            registry.TensorInfo("p_gen", "float32", (None, MAX_REPLY_LENGTH),
                                "generation probability of each reply step (1 - copy), "
                                "0 after the end token"),
        ),
        serving_fn=copy_chat_serving_fn,
        example_inputs=chat_examples,
        paper_result=PAPER_RESULT,
        weights_sha256="d0d503d353ff5e8eb249cf18b6f41b3a9586ee32525b33fc92c83d1a32c52c09",
        summary="Pointer-generator seq2seq that greets people by names it never saw",
    )
)

COPY_CHAT_NO_POINTER = registry.register(
    registry.ZooEntry(
        name="copy_chat_no_pointer",
        builder=build_copy_chat,
        task="chat",
        presets=_presets(False),
        inputs=(PROMPT,),
        outputs=(REPLY,),
        serving_fn=copy_chat_serving_fn,
        example_inputs=chat_examples,
        paper_result=PAPER_RESULT,
        weights_sha256="056f567e80c4f469476da4ceecffa697dccc26b44679ed01be9e07429e7e8127",
        summary="The same seq2seq without the pointer: unseen names become [UNK]",
    )
)
