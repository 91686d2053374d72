"""`babi_lstm_baseline`: the Keras example `babi_memnn` on the joint 20 bAbI tasks.

A baseline beside `memn2n_babi`, trained on the same task ("babi": the 1k
training files, the same split and scoring). The example reads the story as
one sequence of words and the question as another, each of fixed length;
here the model takes memn2n's inputs (story ids [B, S, W], question ids
[B, W], 0 = padding) and flattens them itself (`LastWords`), so the data
pipeline, the serving tokenisation and the vocabulary are memn2n's.

Architecture (as in the example): story words embedded twice, m [B, L, 64]
and c [B, L, Q]; question words q [B, Q, 64]; each story word's softmax
over the question words of m.q [B, L, Q], plus c, transposed [B, Q, L] and
concatenated with q [B, Q, L + 64]; an LSTM(32) over the question positions,
dropout, a softmax over the answers. Dropout 0.3 after every embedding. No
masks, as in the example: padding (id 0, on the left) has an embedding too.
"""

import keras
import tensorflow as tf

from custom_layers import LastWords
from zoo import memn2n, registry

# The longest story (its last 50 statements, as memn2n sees it) in the 1k
# training files has 263 words (task 3; tasks 2 and 5: 257 and 263), and
# the longest question 11: every word of the 1k sets is kept.
STORY_LENGTH = 263
QUESTION_LENGTH = 11


def build_babi_lstm(story_length=STORY_LENGTH, question_length=QUESTION_LENGTH, depth=64,
                    units=32, dropout=0.3, words=None, answers=None):
    """The `babi_memnn` example's network over memn2n's word-id inputs.

    Args: `story_length` and `question_length` words kept (the last ones),
    `depth` of the m and q embeddings, `units` of the LSTM, `dropout` after
    the embeddings and the LSTM; `words`/`answers` default to the committed
    bAbI vocabulary.

    Returns a `keras.Model` from {"story_ids": [B, S, W], "question_ids":
    [B, W]} (int32, 0 = padding, 1 = OOV) to answer probabilities [B,
    answers] (float32).
    """
    registry.check_positive_ints(story_length=story_length, question_length=question_length,
                                 depth=depth, units=units)
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1); received {dropout!r}.")
    if words is None or answers is None:
        table = memn2n.vocabulary()
        words, answers = words or table["words"], answers or table["answers"]
    size = len(words) + 2
    story = keras.Input((None, None), dtype="int32", name="story_ids")
    question = keras.Input((None,), dtype="int32", name="question_ids")
    story_words = LastWords(story_length, name="story_words")(story)  # [B, L]
    question_words = LastWords(question_length, name="question_words")(question)  # [B, Q]

    def encode(ids, width, name):
        embedded = keras.layers.Embedding(size, width, name=f"{name}_embedding")(ids)
        return keras.layers.Dropout(dropout, name=f"{name}_dropout")(embedded)

    m = encode(story_words, depth, "story_m")  # [B, L, depth]
    c = encode(story_words, question_length, "story_c")  # [B, L, Q]
    q = encode(question_words, depth, "question")  # [B, Q, depth]
    match = keras.layers.Dot(axes=(2, 2), name="match")([m, q])  # [B, L, Q]
    match = keras.layers.Activation("softmax", dtype="float32", name="match_softmax")(match)
    response = keras.layers.Add(name="response")([match, c])
    response = keras.layers.Permute((2, 1), name="by_question_word")(response)  # [B, Q, L]
    features = keras.layers.Concatenate(name="features")([response, q])  # [B, Q, L + depth]
    state = keras.layers.LSTM(units, name="lstm")(features)
    state = keras.layers.Dropout(dropout, name="lstm_dropout")(state)
    probabilities = keras.layers.Dense(len(answers), activation="softmax", dtype="float32",
                                       name="answer")(state)
    return keras.Model({"story_ids": story, "question_ids": question}, probabilities,
                       name="babi_lstm_baseline")


def serving_fn(model):
    """Strings in, the answer string out: story [B, S] (sentences, "" as
    padding), question [B] -> answer [B]. Tokenised in the graph as
    memn2n's; unknown words map to the OOV id."""
    # TF ops here: string ops and lookup tables have no keras.ops counterpart.
    table = memn2n.vocabulary()
    # Tracked by the model, so that the export saves the table.
    model.serving_words = memn2n._lookup(table["words"], 1, "babi_words")
    answers = tf.constant(table["answers_as_written"])  # "Fred", as the data writes it

    def ids(text):
        tokens = tf.strings.split(memn2n.tf_normalize(text))
        return tf.ragged.map_flat_values(model.serving_words.lookup, tokens).to_tensor(0)

    @tf.autograph.experimental.do_not_convert
    def serve(story, question):
        probabilities = model({"story_ids": ids(story), "question_ids": ids(question)},
                              training=False)
        return {"answer": tf.gather(answers, tf.argmax(probabilities, axis=-1))}

    return serve


def _presets(epochs):
    task = dict(size="1k")
    return {
        "smoke": registry.Preset(
            model=dict(depth=8, units=8), epochs=1, batch_size=32, train_limit=256, task=task,
            description="seconds: a narrow net on 256 questions",
        ),
        "quick": registry.Preset(
            model={}, epochs=5, batch_size=32, learning_rate=1e-3, task=task,
            description="a few minutes: 5 epochs",
        ),
        "paper": registry.Preset(
            model={}, epochs=epochs, batch_size=32, learning_rate=1e-3, task=task,
            description=(f"the babi_memnn example's network and batch size, joint over the 20 "
                         f"tasks (1k); Adam 1e-3 with cosine decay, {epochs} epochs, instead "
                         "of the example's RMSprop 1e-3 for 120 epochs on one task"),
        ),
    }


BABI_LSTM_BASELINE = registry.register(
    registry.ZooEntry(
        name="babi_lstm_baseline",
        builder=build_babi_lstm,
        task="babi",
        presets=_presets(100),
        inputs=(memn2n.STORY, memn2n.QUESTION),
        outputs=(memn2n.OUTPUTS[0],),
        serving_fn=serving_fn,
        example_inputs=memn2n._examples,
        paper_result="no paper figure (a baseline); the paper's LSTM: 51.3% mean error, 1k",
        weights_sha256="869e28a1d09bb2372ee2a4d64ebf87a1435e029a6243e6b38647616079287f97",
        summary="The Keras babi_memnn example (embeddings, match, LSTM) on the 20 bAbI tasks (1k)",
    )
)
