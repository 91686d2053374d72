"""Pipelines and scores of the counting languages.

One string per example (not the paper's stream of concatenated strings):
the model reads the letters and, after each, predicts the next letter or
the end of the string. The end class plays the part of the paper's
prediction of the next string's first `a`, and a string per example lets
the serving signature take any prefix from a fresh state.

Training batches hold `batch_size` strings with counts n (and m) drawn
uniformly from `counts` (inclusive; the paper's n <= 20), fresh every
epoch from (seed, epoch), padded with token 0 at the end to a multiple of
16 steps (few shapes to compile; the model masks the padding, so it adds
nothing to the loss or the accuracy). With
`curriculum_epochs` = k > 0 the largest count grows linearly from
`counts[0] + 1` to `counts[1]` over the first k epochs. The validation
split is the same for every seed.

The held-out score is the paper's: a string is right when every
deterministic prediction (`generators.deterministic_start`) is the most
probable class of the serving output `next_symbol_probabilities`. It
reports, for each n from 1 to `largest` (60), whether its string was right
and the fraction of n solved. For a^n b^m c^(n+m) the key is n + m (2 to
60) with n, m <= 30: every pair with one extreme count (n = 1 or 30, or m
= 1 or 30) and two more drawn at random per key; a key is solved when all
its pairs are.
"""

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter, LinearCurriculum
from training.tasks.languages import generators as gen

HELD_OUT_LARGEST = 60
PAD_TO = 16  # batch lengths are multiples of this: few shapes for XLA to compile
PAIRS_PER_SUM = 2  # random (n, m) pairs per n + m, besides the extremes


def _check_counts(counts):
    if (not isinstance(counts, (tuple, list)) or len(counts) != 2
            or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in counts)
            or not 1 <= counts[0] <= counts[1]):
        raise ValueError(f"`counts` must be (low, high) with 1 <= low <= high; received {counts!r}.")
    return int(counts[0]), int(counts[1])


def batch_arrays(lang, strings, pad_to=PAD_TO):
    """(tokens [B, T] int32, targets [B, T] int32) of `strings`, padded with 0
    to T, the longest string's length rounded up to a multiple of `pad_to`."""
    length = -(-max(len(s) for s in strings) // pad_to) * pad_to
    tokens = np.zeros((len(strings), length), np.int32)
    targets = np.zeros((len(strings), length), np.int32)
    for i, text in enumerate(strings):
        tokens[i, :len(text)] = gen.tokens(lang, text)
        targets[i, :len(text)] = gen.targets(lang, text)
    return tokens, targets


def language_dataset(split, data_dir=None, batch_size=32, augment=False, seed=0, limit=None,
                     cache_dir=None, shuffle=None, counts=(1, 20), train_examples=20_000,
                     validation_examples=640, curriculum_epochs=0, first_epoch=0, *,
                     language="anbn"):
    """(tokens [B, T], next-symbol classes [B, T]) batches of `language`.
    `data_dir`, `augment`, `cache_dir`, `shuffle` are unused."""
    lang = gen.language(language)
    low, high = _check_counts(counts)
    curriculum = LinearCurriculum(curriculum_epochs)
    count = limit or (train_examples if split == "train" else validation_examples)
    batches = -(-count // batch_size)
    epochs = EpochCounter(first_epoch)

    def generate():
        top = high
        if split == "train":
            epoch = epochs.draw()
            rng = np.random.default_rng([seed, gen.SPLITS[split], epoch])
            top = curriculum.top(low, high, epoch)
        else:
            rng = np.random.default_rng([0, gen.SPLITS[split], high])
        for _ in range(batches):
            strings = [gen.string(lang, *gen.counts(lang, rng, low, top)) for _ in range(batch_size)]
            yield batch_arrays(lang, strings)

    spec = tf.TensorSpec((None, None), tf.int32)
    ds = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)


def held_out_cases(language, split, largest=HELD_OUT_LARGEST):
    """[(key, string)]: n from 1 to `largest`; for a^n b^m c^(n+m), pairs
    with n, m <= largest // 2 keyed by n + m."""
    lang = gen.language(language)
    if isinstance(largest, bool) or not isinstance(largest, int) or largest < 2:
        raise ValueError(f"`largest` must be an integer >= 2; received {largest!r}.")
    if not lang.two_counts:
        return [(n, gen.string(lang, n)) for n in range(1, largest + 1)]
    half, cases = largest // 2, []
    for total in range(2, 2 * half + 1):
        pairs = [(n, total - n) for n in range(max(1, total - half), min(half, total - 1) + 1)]
        chosen = {pairs[0], pairs[-1]}
        rng = gen.rng_for(0, split, total)
        rest = [p for p in pairs if p not in chosen]
        for i in rng.permutation(len(rest))[:PAIRS_PER_SUM]:
            chosen.add(rest[i])
        cases += [(total, gen.string(lang, n, m)) for n, m in sorted(chosen)]
    return cases


def language_held_out(split, data_dir=None, cache_dir=None, largest=HELD_OUT_LARGEST, *,
                      language="anbn", **options):
    """({"sequence": strings [E]}, keys [E]): the held-out strings (see
    `held_out_cases`); training draws n <= 20, so n > 20 are strings no
    training saw."""
    gen.rng_for(0, split, 0)  # a clear error for an unknown split
    cases = held_out_cases(language, split, largest)
    return ({"sequence": np.array([s for _, s in cases], dtype=object)},
            np.array([k for k, _ in cases], np.int64))


def right_predictions(lang, text, probabilities):
    """Whether every deterministic prediction of `probabilities` [>= len, V+1] is right."""
    start = gen.deterministic_start(lang, text)
    predicted = np.argmax(np.asarray(probabilities)[:len(text)], axis=-1)
    return bool(np.all(predicted[start:] == gen.targets(lang, text)[start:]))


def language_score(outputs, inputs, labels, *, language="anbn"):
    """The fraction of keys (n) whose strings were right, the largest n up
    to which all were, and each key's verdict."""
    lang = gen.language(language)
    probabilities = np.asarray(outputs["next_symbol_probabilities"])
    sequences = [s.decode() if isinstance(s, bytes) else str(s) for s in inputs["sequence"]]
    right = {}
    for text, key, probs in zip(sequences, np.asarray(labels), probabilities):
        right[int(key)] = right.get(int(key), True) and right_predictions(lang, text, probs)
    keys = sorted(right)
    solved_to = 0
    for key in keys:
        if not right[key]:
            break
        solved_to = key
    fraction = float(np.mean([right[k] for k in keys]))
    return {"language": lang.title, "fraction_solved": fraction, "error": 1.0 - fraction,
            "solved_up_to": solved_to, "largest": keys[-1],
            "failed": [k for k in keys if not right[k]],
            "right_by_n": {str(k): right[k] for k in keys}}
