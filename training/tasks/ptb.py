"""Penn Treebank language modelling (Mikolov's version): one sentence a line.

The files `ptb/ptb.{train,valid}.txt` under the data directory hold
space-separated words of a 10,000-word vocabulary (rare words already
`<unk>`). Each line is modelled on its own, from a fresh state: the input
is `<eos>` (standing for the start) and the words, the targets the words
and a final `<eos>`. Ids come from `zoo/ptb_vocabulary.txt` (0 is padding).

Training batches hold sentences of similar length (fewer padded steps):
each epoch e draws, from `(seed, e)`, an order of the sentences, cuts it
into pools of 64 batches, sorts each pool by length and shuffles the
batches. Held-out scoring goes through the serving signature: the
perplexity is exp(-sum of log-probabilities / sum of `num_words`).
"""

import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks.base import Task, resolve_data_dir
from zoo import ptb_language_model as lm

FILES = {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"}
POOL_BATCHES = 64  # batches sorted by length together
PAD_TO = 16  # batch lengths are multiples of it: few shapes for XLA to compile


def read_lines(split, data_dir=None):
    """The sentences of `split` as lists of words."""
    if split not in FILES:
        raise ValueError(f"`split` must be one of {sorted(FILES)}; received {split!r}.")
    path = resolve_data_dir(data_dir) / "ptb" / FILES[split]
    if not path.is_file():
        held_out = " (the test file is held out in the shared data)" if split == "test" else ""
        raise FileNotFoundError(f"No Penn Treebank file {path}{held_out}.")
    return [line.split() for line in path.read_text().splitlines()]


def write_vocabulary(data_dir=None, path=lm.VOCABULARY_PATH):
    """Writes the training file's words, most frequent first (ties by
    spelling), `<eos>` among them, one a line; returns them."""
    counts = {lm.EOS: 0}
    for words in read_lines("train", data_dir):
        counts[lm.EOS] += 1
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text("\n".join(words) + "\n")
    tmp.replace(path)
    return words


@functools.cache
def _ids():
    return {word: i + 1 for i, word in enumerate(lm.vocabulary())}


def encode(sentences):
    """(inputs, targets): int32 arrays of `<eos>` + words and words + `<eos>`,
    one ragged list each per sentence (unknown words as `<unk>`)."""
    ids = _ids()
    eos, unk = ids[lm.EOS], ids[lm.UNK]
    encoded = [[ids.get(w, unk) for w in words] for words in sentences]
    return [np.array([eos] + e, np.int32) for e in encoded], [np.array(e + [eos], np.int32) for e in encoded]


def _pad(rows):
    length = -(-max(len(r) for r in rows) // PAD_TO) * PAD_TO
    out = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def batches_of(lengths, batch_size, rng):
    """Index arrays of batches: a random order, pools of `POOL_BATCHES`
    batches sorted by length, the batches shuffled."""
    order = rng.permutation(len(lengths))
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def ptb_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                cache_dir=None, shuffle=None, first_epoch=0):
    """({"ids": int32 [B, T]}, targets int32 [B, T]) batches, 0 as padding.

    The training split is batched anew each epoch (see the module's
    docstring); held-out splits keep the file's order. `limit` takes the
    first sentences; `augment` and `cache_dir` are unused.
    """
    sentences = read_lines(split, data_dir)[:limit] if limit else read_lines(split, data_dir)
    inputs, targets = encode(sentences)
    lengths = np.array([len(t) for t in targets])
    shuffled = shuffle if shuffle is not None else split == "train"
    epochs = EpochCounter(first_epoch)

    def one_epoch():
        if shuffled:
            order = batches_of(lengths, batch_size, np.random.default_rng([seed, epochs.draw()]))
        else:
            order = [np.arange(i, min(i + batch_size, len(inputs))) for i in range(0, len(inputs), batch_size)]
        for rows in order:
            yield {"ids": _pad([inputs[i] for i in rows])}, _pad([targets[i] for i in rows])

    signature = ({"ids": tf.TensorSpec((None, None), tf.int32)}, tf.TensorSpec((None, None), tf.int32))
    ds = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    count = -(-len(inputs) // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def held_out(split, data_dir=None, cache_dir=None, limit=None, **options):
    """({"text": str [N]}, the number of words and `<eos>` of each [N])."""
    sentences = read_lines(split, data_dir)[:limit] if limit else read_lines(split, data_dir)
    text = np.array([" ".join(words) for words in sentences], dtype=object)
    return {"text": text}, np.array([len(words) + 1 for words in sentences], np.int32)


def score(outputs, inputs, labels):
    """Perplexity of the lines, each scored from a fresh state; "error" is
    its log (the mean negative log-probability of a word)."""
    log_probability = np.asarray(outputs["log_probability"], np.float64)
    words = np.asarray(outputs["num_words"])
    if not np.array_equal(words, labels):
        raise ValueError("The export counted other numbers of words than the data holds.")
    nll = float(-log_probability.sum() / words.sum())
    return {"error": nll, "perplexity": float(np.exp(nll)), "words": int(words.sum())}


@keras.saving.register_keras_serializable(package="special_networks")
class NextWordAccuracy(keras.metrics.Mean):
    """The fraction of next words whose most likely prediction is right,
    over the targets that are not padding (0)."""

    def __init__(self, name="next_word_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.cast(y_true, "int32")
        right = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1) == y_true, self.dtype)
        return super().update_state(right, sample_weight=keras.ops.cast(y_true != 0, self.dtype))


def next_word_loss():
    """Cross-entropy of the next word's logits, padding (0) ignored."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)


TASKS = {"ptb": Task(
    name="ptb",
    dataset=ptb_dataset,
    loss=next_word_loss,
    metrics=(NextWordAccuracy,),
    error_metric="next_word_accuracy",
    prediction_output="log_probability",
    description=("Penn Treebank (Mikolov's files): 42,068 training sentences, validation the 3,370 of "
                 "ptb.valid.txt; each line from a fresh state, <eos> at its end"),
    held_out=held_out,
    score=score,
)}
