"""The counting languages of Joulin & Mikolov (NIPS 2015), generated.

a^n b^n, a^n b^n c^n, a^n b^n c^n d^n, a^n b^2n and a^n b^m c^(n+m).
Each string is one example; the task is to predict, after each letter,
the next letter or the end of the string (class `len(letters)`).

Example i of a split draws its counts from `rng_for(seed, split, i)`, so
a split is the same whatever the batch size.

A prediction is *deterministic* once the counts are known: in every
language but a^n b^m c^(n+m) after the first b (the rest of the b's, the
later letters and the end); in a^n b^m c^(n+m) after the first c.
`deterministic_start` gives that position.
"""

import dataclasses

import numpy as np

from training.tasks import generated

SPLITS = {"train": 0, "validation": 1, "test": 2}


@dataclasses.dataclass(frozen=True)
class Language:
    """A counting language: `blocks` are (letter, multiplier of n, of m)."""

    name: str
    title: str
    blocks: tuple
    settles_at: str  # the letter after whose first occurrence everything is deterministic

    @property
    def letters(self):
        return "".join(letter for letter, _, _ in self.blocks)

    @property
    def two_counts(self):
        return any(m for _, _, m in self.blocks)

    @property
    def end(self):
        """The class of the end of the string."""
        return len(self.blocks)


LANGUAGES = {
    language.name: language for language in (
        Language("anbn", "a^n b^n", (("a", 1, 0), ("b", 1, 0)), "b"),
        Language("anbncn", "a^n b^n c^n", (("a", 1, 0), ("b", 1, 0), ("c", 1, 0)), "b"),
        Language("anbncndn", "a^n b^n c^n d^n",
                 (("a", 1, 0), ("b", 1, 0), ("c", 1, 0), ("d", 1, 0)), "b"),
        Language("anb2n", "a^n b^2n", (("a", 1, 0), ("b", 2, 0)), "b"),
        Language("anbmcnm", "a^n b^m c^(n+m)", (("a", 1, 0), ("b", 0, 1), ("c", 1, 1)), "c"),
    )
}


def language(name):
    if name not in LANGUAGES:
        raise ValueError(f"`language` must be one of {sorted(LANGUAGES)}; received {name!r}.")
    return LANGUAGES[name]


def rng_for(seed, split, index):
    return generated.stream_rng(seed, split, index, SPLITS)


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")


def string(lang, n, m=None):
    """The string of `lang` (a `Language` or its name) with counts n (and m)."""
    lang = language(lang) if isinstance(lang, str) else lang
    _check_count("n", n)
    if lang.two_counts:
        _check_count("m", m)
    elif m is not None:
        raise ValueError(f"`m`: {lang.title} has one count; received m={m!r}.")
    return "".join(letter * (a * int(n) + b * int(m or 0)) for letter, a, b in lang.blocks)


def counts(lang, rng, low, high):
    """(n, m) drawn uniformly from [low, high] (m is None for one-count languages)."""
    lang = language(lang) if isinstance(lang, str) else lang
    n = int(rng.integers(low, high + 1))
    return n, (int(rng.integers(low, high + 1)) if lang.two_counts else None)


def example(lang, seed, split, index, low=1, high=20):
    """(string, n, m) of example `index` of `split`."""
    n, m = counts(lang, rng_for(seed, split, index), low, high)
    return string(lang, n, m), n, m


def targets(lang, text):
    """The class to predict after each letter of `text`: the next letter's
    index in `lang.letters`, and `lang.end` after the last."""
    lang = language(lang) if isinstance(lang, str) else lang
    return np.array([lang.letters.index(c) for c in text[1:]] + [lang.end], np.int32)


def deterministic_start(lang, text):
    """The first position (0-based, of the letter just read) from which
    every prediction is deterministic: the first b (a^n b^m c^(n+m): c)."""
    lang = language(lang) if isinstance(lang, str) else lang
    return text.index(lang.settles_at)


def tokens(lang, text):
    """Letter ids of `text`: 1 for the first letter, ... (0 is padding)."""
    lang = language(lang) if isinstance(lang, str) else lang
    return np.array([lang.letters.index(c) + 1 for c in text], np.int32)
