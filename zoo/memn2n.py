"""`memn2n_babi`, `memn2n_babi_10k`: end-to-end memory networks on bAbI (Sukhbaatar et al. 2015)."""

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from custom_layers import AnswerEmbedding, MemoryHop, NullMemory, SentenceEncoder
from zoo import registry

VOCABULARY_PATH = Path(__file__).parent / "babi_vocabulary.json"
MEMORY_SIZE = 50  # the last 50 sentences of a story
PAD, OOV = "<pad>", "<oov>"
# Text as the data pipeline writes it (training/tasks/babi/reader.py uses these):
# lower case, these marks turned into spaces, runs of spaces into one.
PUNCTUATION = r"[.?!,;:]"
WHITESPACE = r"\s+"


def vocabulary():
    """{"words": [...], "answers": [...]}: input words (ids 2.. after <pad>
    and <oov>) and answer strings (classes), from the bAbI training files."""
    return json.loads(VOCABULARY_PATH.read_text())


def tf_normalize(text):
    """`text` (a string tensor) lower-cased, punctuation out, single spaces."""
    text = tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"), PUNCTUATION, " ")
    return tf.strings.strip(tf.strings.regex_replace(text, WHITESPACE, " "))


def build_memn2n(hops=3, depth=20, tying="adjacent", position_encoding=True, temporal=True,
                 words=None, answers=None, max_sentences=MEMORY_SIZE, embedding_stddev=None,
                 answer="dense", null_slot=False, empty_slots=False):
    """An end-to-end memory network over word ids (0 = padding, 1 = OOV).

    `tying="adjacent"`: embeddings E_0..E_hops with A^k = E_{k-1}, C^k =
    E_k and B = A^1 (question); `"layerwise"`: one A, one C and one B for
    every hop, u^{k+1} = H u^k + o^k with H shared. Each embedding has its
    own `SentenceEncoder` (`position_encoding`, `temporal`), shared with it.
    `embedding_stddev`: embeddings drawn from N(0, stddev^2) (the paper:
    0.1) instead of Keras's default uniform(-0.05, 0.05).
    `answer="dense"`: the answer layer W is a matrix of its own; `"tied"`:
    W^T = C^K (the paper's adjacent tying; layer-wise: C) for answers that
    are one input word, a free row for the others (tasks 8 and 19 answer
    word lists such as "n,w"; "yes", "none"), see `AnswerEmbedding`.
    `null_slot`: each embedding's memory gets a learned slot in front
    (`NullMemory`, zero at first), which the hops can attend to instead of
    a sentence. The authors' code has such slots implicitly: it does not
    mask the empty slots of its 50-slot memory, whose zero vectors take
    part in every softmax (score 0, output 0). `hop_attention` leaves the
    null slot out: a hop's weights over the sentences then sum to less
    than 1. `empty_slots`: the hops' softmax also counts the empty slots
    of the `max_sentences`-slot memory, score 0 and nothing to read, as the
    authors' code does (`MemoryHop(capacity=)`); the weights over the
    sentences then sum to less than 1 too.

    Returns a `keras.Model` from {"story_ids": [B, S, W], "question_ids":
    [B, W]} (int32) to answer probabilities [B, answers] (float32);
    `model.hop_attention` is the symbolic attention of the hops [B, hops, S].
    """
    if tying not in ("adjacent", "layerwise"):
        raise ValueError(f"`tying` must be 'adjacent' or 'layerwise'; received {tying!r}.")
    if answer not in ("dense", "tied"):
        raise ValueError(f"`answer` must be 'dense' or 'tied'; received {answer!r}.")
    registry.check_positive_ints(hops=hops)
    if words is None or answers is None:
        table = vocabulary()
        words, answers = words or table["words"], answers or table["answers"]
    size = len(words) + 2
    story = keras.Input((None, None), dtype="int32", name="story_ids")
    question = keras.Input((None,), dtype="int32", name="question_ids")

    word_ids = {word: i + 2 for i, word in enumerate(words)}
    answer_ids = [word_ids.get(a, -1) for a in answers]

    def memory(name, scores_answers=False):
        initializer = (keras.initializers.RandomNormal(stddev=embedding_stddev) if embedding_stddev
                       else "uniform")
        options = dict(mask_zero=True, embeddings_initializer=initializer, name=f"{name}_embedding")
        embedding = (AnswerEmbedding(size, depth, answer_ids, **options) if scores_answers
                     else keras.layers.Embedding(size, depth, **options))
        return embedding, SentenceEncoder(position_encoding, temporal, max_sentences,
                                          name=f"{name}_encoder")

    nulls = {}

    def encode(pair, ids):
        embedding, encoder = pair
        encoded = encoder(embedding(ids))
        if not null_slot:
            return encoded
        if embedding.name not in nulls:  # one per embedding: tied as the embeddings are
            nulls[embedding.name] = NullMemory(name=f"{embedding.name.removesuffix('_embedding')}_null")
        return nulls[embedding.name](encoded)

    capacity = max_sentences + bool(null_slot) if empty_slots else None
    if tying == "adjacent":
        tables = [memory(f"E{k}", answer == "tied" and k == hops) for k in range(hops + 1)]
        inputs_of, outputs_of, query = tables[:-1], tables[1:], tables[0]
        hop_layers = [MemoryHop(capacity=capacity, name=f"hop_{k + 1}") for k in range(hops)]
    else:
        a, c = memory("A"), memory("C", answer == "tied")
        inputs_of, outputs_of, query = [a] * hops, [c] * hops, memory("B")
        shared = MemoryHop(state_transform=True, capacity=capacity, name="hop")
        hop_layers = [shared] * hops
    embedding, _ = query
    u = SentenceEncoder(position_encoding, False, name="question_encoder")(embedding(question))
    attentions = []
    for hop, m_pair, c_pair in zip(hop_layers, inputs_of, outputs_of):
        u, attention = hop([u, encode(m_pair, story), encode(c_pair, story)],
                           return_attention=True)
        if null_slot:  # the sentences' share only
            attention = keras.layers.Cropping1D((1, 0))(keras.layers.Reshape((-1, 1))(attention))
        attentions.append(keras.layers.Reshape((1, -1))(attention))
    attention = (keras.layers.Concatenate(axis=1, name="attention")(attentions) if hops > 1
                 else attentions[0])
    if answer == "tied":
        logits = outputs_of[-1][0](u, readout=True)
        probabilities = keras.layers.Activation("softmax", dtype="float32", name="answer")(logits)
    else:
        probabilities = keras.layers.Dense(len(answers), activation="softmax", use_bias=False,
                                           dtype="float32", name="answer")(u)
    model = keras.Model({"story_ids": story, "question_ids": question}, probabilities,
                        name=f"memn2n_{hops}_hops_{tying}")
    model.hop_attention = attention  # in the graph, not an output: for serving and pictures
    return model


def _lookup(keys, default, name):
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.range(len(keys)) + 2), default,
        name=name)
    return table


def serving_fn(model):
    """Strings in, the answer string and each hop's attention out: story
    [B, S] (sentences, "" as padding), question [B] -> answer [B],
    attention float32 [B, hops, S]. Tokenised in the graph; unknown words
    map to the OOV id."""
    table = vocabulary()
    # Tracked by the model, so that the export saves the tables.
    model.serving_words = _lookup(table["words"], 1, "babi_words")
    answers = tf.constant(table["answers_as_written"])  # "Fred", as the data writes it

    def ids(text):
        tokens = tf.strings.split(tf_normalize(text))
        return tf.ragged.map_flat_values(model.serving_words.lookup, tokens)

    @tf.autograph.experimental.do_not_convert
    def serve(story, question):
        story_ids = ids(story).to_tensor(0)
        question_ids = ids(question).to_tensor(0)
        inputs = {"story_ids": story_ids, "question_ids": question_ids}
        probabilities, attention = _forward_with_attention(model, inputs)
        return {"answer": tf.gather(answers, tf.argmax(probabilities, axis=-1)),
                "attention": attention}

    return serve


def _forward_with_attention(model, inputs):
    """The model's probabilities and every hop's attention [B, hops, S]."""
    probe = getattr(model, "_attention_probe", None)
    if probe is None:
        probe = keras.Model(model.input, [model.output, model.hop_attention])
        model._attention_probe = probe
    return probe(inputs, training=False)


def _examples():
    with np.load(registry.EXAMPLES_DIR / "babi_stories.npz", allow_pickle=False) as data:
        return {"story": data["story"].astype(object), "question": data["question"].astype(object)}


def _presets(size, tying, depth, epochs, linear_start_epochs=None, null_slot=False):
    # no null_slot key when off: runs recorded before the option existed stay restarts of new ones
    model = dict(hops=3, depth=depth, tying=tying, **({"null_slot": True} if null_slot else {}))
    return {
        "smoke": registry.Preset(
            model=dict(hops=2, depth=8, tying=tying), epochs=1, batch_size=32, train_limit=256,
            task=dict(size="1k"), description="seconds: a narrow net on 256 questions",
        ),
        "quick": registry.Preset(
            model=model, epochs=5, batch_size=32, learning_rate=5e-3, clipnorm=40.0, jit_compile=True,
            task=dict(size=size, random_noise=0.1), description="a few minutes: 5 epochs",
        ),
        "paper": registry.Preset(
            model=model, epochs=epochs, batch_size=32, learning_rate=5e-3, clipnorm=40.0, jit_compile=True,
            task=dict(size=size, random_noise=0.1), linear_start_epochs=linear_start_epochs,
            held_out_every=5,  # per-task validation errors in the run's held_out.jsonl
            description=f"PE LS RN{' LW' if tying == 'layerwise' else ''}, 3 hops, d={depth}, "
                        "joint over the 20 tasks"
                        + (f"; {linear_start_epochs} linear epochs" if linear_start_epochs else "")
                        + ("; a learned null memory slot" if null_slot else ""),
        ),
    }


STORY = registry.TensorInfo("story", "string", (None, None), "sentences, \"\" as padding")
QUESTION = registry.TensorInfo("question", "string", (None,))
OUTPUTS = (registry.TensorInfo("answer", "string", (None,),
                               "the answer as the data files write it: names capitalised (\"Fred\"), other "
                               "words lower case; tasks 8 and 19 comma-joined (\"apple,milk\", \"n,w\")"),
           registry.TensorInfo("attention", "float32", (None, 3, None),
                               "each hop's attention over the story's sentences [B, hops, S]; "
                               "both models have a null slot: what a row lacks of 1 went to it"))

MEMN2N_BABI = registry.register(
    registry.ZooEntry(
        name="memn2n_babi",
        builder=build_memn2n,
        task="babi",
        # 30 linear epochs: the authors' code; the null slot: RESULTS.md, 10 restarts each way
        presets=_presets("1k", "adjacent", 50, 90, linear_start_epochs=30, null_slot=True),
        inputs=(STORY, QUESTION),
        outputs=OUTPUTS,
        serving_fn=serving_fn,
        example_inputs=_examples,
        paper_result="12.4% mean error, PE LS RN joint on the 1k sets (Sukhbaatar et al. 2015)",
        weights_sha256="d5f8d25f9c55d36acbefbc5f831cccdf3ff2ce2a54352bdd01355af904d1eb73",
        summary="End-to-end memory network, 3 hops, on the 20 bAbI tasks (1k sets)",
    )
)

MEMN2N_BABI_10K = registry.register(
    registry.ZooEntry(
        name="memn2n_babi_10k",
        builder=build_memn2n,
        task="babi_10k",
        # the null slot: one run with it against one without, RESULTS.md
        presets=_presets("10k", "layerwise", 50, 90, linear_start_epochs=30, null_slot=True),
        inputs=(STORY, QUESTION),
        outputs=OUTPUTS,
        serving_fn=serving_fn,
        example_inputs=_examples,
        paper_result="4.2% mean error, 3 failed tasks, PE LS LW RN joint on the 10k sets",
        weights_sha256="66488c1fb741a19c08a859967866892a62d89db3de9df5f847a17207288b46aa",
        summary="The same with layer-wise tying, on the 10k sets (task 3: its 1k file)",
    )
)
