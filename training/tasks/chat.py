"""A generated chat task for the copy mechanism: greet people by new names.

The user introduces himself ("hello , i am zubelo"); the reply must contain
the name ("nice to meet you , zubelo !"). Each prompt template has its one
reply template; some also name a town (copied into some replies, a
distractor in others). Names and towns are made of consonant-vowel
syllables and are never in the vocabulary (`zoo.copy_chat.VOCABULARY`); a
hash of the name decides its split (8/10 train, 1/10 validation, 1/10
test), so the names of a held-out split never occur in training.

Every example is drawn from `np.random.default_rng([seed, split, index])`:
the training split depends on the run's seed, the held-out splits never
(seed 0). The text is lower-case with punctuation as separate words.
"""

import functools
import zlib

import keras
import numpy as np
import tensorflow as tf

from training.epochs import resumed_seed
from training.tasks import generated
from training.tasks.base import Task
from zoo import copy_chat

VOCABULARY = copy_chat.VOCABULARY
SPLITS = {"train": 0, "validation": 1, "test": 2}
SIZES = {"train": 20000, "validation": 1000, "test": 1000}  # default examples per split
HELD_OUT_SEED = 0
SOURCE_LENGTH = 16  # padded length of training prompts (the longest has 12 words)
REPLY_LENGTH = 12  # padded length of <start> + reply (and of reply + <end>)

# (prompt, reply): the reply is chosen by the prompt's template.
TEMPLATES = (
    ("hello , i am {name}", "nice to meet you , {name} !"),
    ("hi ! my name is {name}", "hi {name} , how are you ?"),
    ("hey , {name} here", "hey {name} ! what can i do for you ?"),
    ("good morning , i am {name} from {town}", "good morning , {name} ! how is {town} ?"),
    ("hello there ! people call me {name}", "nice to meet you , {name} !"),
    ("i am {name} , nice to see you", "nice to see you too , {name} ."),
    ("greetings ! {name} is my name", "greetings , {name} ! welcome ."),
    ("hi , this is {name} from {town} .", "welcome , {name} ! how is {town} ?"),
    ("my friends call me {name} . hello !", "hello {name} , nice to meet you ."),
    ("hello ! i am {name} and i live in {town}", "nice to meet you , {name} ."),
)
ONSETS = tuple("bdfgklmnprstvz")
VOWELS = tuple("aeiou")


def rng_for(seed, split, index):
    return generated.stream_rng(seed, split, index, SPLITS)


def name_split(name):
    """The split a name belongs to, from a stable hash of it."""
    bucket = zlib.crc32(name.encode()) % 10
    return "train" if bucket < 8 else "validation" if bucket == 8 else "test"


def draw_name(rng, split):
    """A name of 2 or 3 syllables of `split`, outside the vocabulary."""
    while True:
        syllables = rng.integers(2, 4)
        name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables))
        if name_split(name) == split and name not in VOCABULARY:
            return name


def example(rng, split):
    """(prompt, reply, name): a greeting of `split`, its reply and the name."""
    prompt, reply = TEMPLATES[rng.integers(len(TEMPLATES))]
    name = draw_name(rng, split)
    town = name
    while town == name:
        town = draw_name(rng, split)
    return prompt.format(name=name, town=town), reply.format(name=name, town=town), name


def examples(split, seed=0, size=None, start=0):
    """The examples `start` to `start + size` of `split` (prompts, replies, names)."""
    size = SIZES[split] if size is None else size
    return list(zip(*[example(rng_for(seed, split, i), split) for i in range(start, start + size)]))


@functools.cache
def _word_ids():
    return {word: i for i, word in enumerate(VOCABULARY)}


def encode(prompts, replies, copy=True, max_oov=copy_chat.MAX_OOV):
    """Model inputs and labels (int32, 0 = padding) of spaced lower-case text.

    `source` holds vocabulary ids (OOV words as [UNK]); with `copy`,
    `source_extended` gives the k-th distinct OOV word of a prompt the id
    VOCAB_SIZE + k (k < max_oov) and the labels use these ids for the words
    the reply copies; without, the labels have [UNK] there.
    `decoder_input` is <start> + reply (OOV words as [UNK]), the labels
    reply + <end>.
    """
    ids = _word_ids()
    count = len(prompts)
    source = np.zeros((count, SOURCE_LENGTH), np.int32)
    extended = np.zeros_like(source)
    decoder_input = np.zeros((count, REPLY_LENGTH), np.int32)
    labels = np.zeros_like(decoder_input)
    for row, (prompt, reply) in enumerate(zip(prompts, replies)):
        words, answer = prompt.split(), reply.split() + [copy_chat.END]
        if len(words) > SOURCE_LENGTH or len(answer) > REPLY_LENGTH:
            raise ValueError(f"Example too long for the padded lengths: {prompt!r} -> {reply!r}.")
        oov = list(dict.fromkeys(w for w in words if w not in ids))[:max_oov]
        slot = {w: copy_chat.VOCAB_SIZE + k for k, w in enumerate(oov)}
        source[row, :len(words)] = [ids.get(w, copy_chat.UNK_ID) for w in words]
        extended[row, :len(words)] = [ids.get(w, slot.get(w, copy_chat.UNK_ID)) for w in words]
        plain = [ids.get(w, copy_chat.UNK_ID) for w in answer]
        decoder_input[row, :len(answer)] = [copy_chat.START_ID] + plain[:-1]
        labels[row, :len(answer)] = (
            [ids.get(w, slot.get(w, copy_chat.UNK_ID)) for w in answer] if copy else plain)
    inputs = {"source": source, "decoder_input": decoder_input}
    if copy:
        inputs["source_extended"] = extended
    return inputs, labels


def chat_dataset(split, data_dir=None, batch_size=64, augment=False, seed=0, limit=None,
                 cache_dir=None, shuffle=None, size=None, copy=True, max_oov=copy_chat.MAX_OOV,
                 first_epoch=0):
    """(inputs dict, labels) batches of `split` for teacher forcing.

    `size` examples are generated (default `SIZES[split]`; `limit` takes the
    first ones), from `seed` for training and seed 0 for the held-out
    splits; the training split is shuffled anew each epoch (with another
    seed for a run resumed at `first_epoch`, see `training/epochs.py`). `copy=False`
    gives the inputs and labels of the model without the pointer (see
    `encode`). `data_dir`, `augment` and `cache_dir` are unused: the task is
    generated, quickly, in memory.
    """
    count = SIZES[split] if size is None else size
    if split != "train":
        count = min(count, SIZES[split])  # held-out splits keep their size
    if limit:
        count = min(count, limit)
    prompts, replies, _ = examples(split, seed if split == "train" else HELD_OUT_SEED, count)
    inputs, labels = encode(prompts, replies, copy=copy, max_oov=max_oov)
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle if shuffle is not None else split == "train":
        ds = ds.shuffle(len(labels), seed=resumed_seed(seed, first_epoch),
                        reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def held_out(split, data_dir=None, cache_dir=None, size=None, **options):
    """({"prompt": str [N]}, reply str [N]) of held-out `split` (seed 0)."""
    prompts, replies, _ = examples(split, HELD_OUT_SEED, size)
    return {"prompt": np.array(prompts)}, np.array(replies)


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def name_of(prompt):
    """The name in a prompt of the task: its first word outside the vocabulary."""
    return next(w for w in prompt.split() if w not in VOCABULARY)


def score(outputs, inputs, labels):
    """Exact reply accuracy (and its complement, the error), the fraction
    of replies holding the prompt's name as a word, and the accuracy with
    every word outside the vocabulary (names, towns, [UNK]) counted as one
    same word: what a model without a copy mechanism can reach."""
    replies, expected = _text(outputs["reply"]), _text(labels)
    names = [name_of(p) for p in _text(inputs["prompt"])]
    exact = np.mean([r == e for r, e in zip(replies, expected)])
    has_name = np.mean([name in r.split() for r, name in zip(replies, names)])

    def blank(text):
        return [w if w in _word_ids() else copy_chat.UNK for w in text.split()]

    outside = np.mean([blank(r) == blank(e) for r, e in zip(replies, expected)])
    return {
        "error": float(1.0 - exact),
        "exact_reply_accuracy": float(exact),
        "exact_name_accuracy": float(has_name),
        "accuracy_new_words_blanked": float(outside),
    }


def loss():
    return keras.losses.SparseCategoricalCrossentropy(ignore_class=copy_chat.PAD_ID)


class TokenAccuracy(keras.metrics.Mean):
    """Accuracy of the next word over the reply's steps, padding (label 0)
    left out explicitly (the output's Keras mask may or may not reach it)."""

    def __init__(self, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        predicted = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        correct = keras.ops.cast(keras.ops.equal(predicted, y_true), "float32")
        real = keras.ops.cast(keras.ops.not_equal(y_true, copy_chat.PAD_ID), "float32")
        return super().update_state(correct, sample_weight=real)


TASKS = {"chat": Task(  # greetings with unseen names
    name="chat",
    dataset=chat_dataset,
    loss=loss,
    metrics=(TokenAccuracy,),
    error_metric="token_accuracy",
    prediction_output="reply",
    description=(
        "generated greetings with names never seen in training (names split by hash; "
        "20,000 training, 1,000 validation and 1,000 test examples)"
    ),
    needs_data=False,
    held_out=held_out,
    score=score,
)}


def _features(config):
    import tensorflow_datasets as tfds

    return {"prompt": tfds.features.Text(), "reply": tfds.features.Text(), "name": tfds.features.Text()}


def _example(config, split, index):
    prompt, reply, name = example(rng_for(config.seed, split, index), split)
    return {"prompt": prompt, "reply": reply, "name": name}


def builder(cache_dir="runs/tfds", sizes=None):
    """A prepared tensorflow-datasets builder of the task (seed 0) with
    `sizes` (split -> examples; default `SIZES`) under `cache_dir`."""
    classes = generated.builder_class(
        "SpecialnetsChat", "Generated greetings and replies with new names (seed 0).", _features, _example,
        supervised_keys=lambda config: ("prompt", "reply"))
    sizes = generated.split_counts(sizes, SIZES, SPLITS)
    return generated.prepare_builder(classes, "chat", "seed0", "seed 0", sizes, cache_dir)
