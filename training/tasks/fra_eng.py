"""English to French translation on Tatoeba's pairs (manythings.org's `fra.txt`).

`<data_dir>/fra-eng/fra.txt` holds one pair a line: English, a tab, French
(then a tab and the attribution). A stable hash of the English sentence
puts 1 pair in 40 in the validation split, so every translation of a
validation sentence is in it and none in training (~3,900 pairs; the
shared data holds no test split). Words come from `zoo.convs2s.tokenize`,
the serving graph's own tokeniser; training and validation batches keep
the pairs of at most `max_words` (16) words on both sides (98% of them).
Held-out scoring translates every validation pair through the serving
signature and measures corpus BLEU with sacreBLEU (its 13a tokeniser) on
the detokenised text, over all pairs and over those of <= 10 English words.

    python -m training.tasks.fra_eng vocabulary   # writes zoo/fra_eng_{english,french}.txt
"""

import argparse
import collections
import functools
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from training.epochs import EpochCounter
from training.tasks.base import Task, resolve_data_dir
from training.tasks.ptb import NextWordAccuracy, batches_of, next_word_loss
from zoo import convs2s

VALIDATION_BUCKET = 40  # 1 English sentence in 40 is validation
MAX_WORDS = 16
SHORT_WORDS = 10  # the figure: BLEU on sentences of <= 10 English words
ENGLISH_WORDS, FRENCH_WORDS = 2996, 4596  # the vocabularies: the most frequent words (+ 4 special ids)
PAD_TO = 4


def split_of(english):
    return "validation" if zlib.crc32(english.encode("utf-8")) % VALIDATION_BUCKET == 0 else "train"


@functools.cache
def read_pairs(data_dir=None):
    """{"train": [(english, french)], "validation": [...]} of the file, in its order."""
    path = resolve_data_dir(data_dir) / "fra-eng" / "fra.txt"
    if not path.is_file():
        raise FileNotFoundError(f"No Tatoeba English-French file {path} (manythings.org/anki's fra.txt).")
    pairs = {"train": [], "validation": []}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{path}, line {number}: expected English<TAB>French[<TAB>attribution]; "
                             f"received {line!r}.")
        pairs[split_of(fields[0])].append((fields[0], fields[1]))
    return pairs


def words_of(texts, chunk=20000):
    """The graph's tokenisation of `texts`, lists of str."""
    out = []
    for i in range(0, len(texts), chunk):
        out += [[w.decode("utf-8") for w in row] for row in convs2s.tokenize(tf.constant(texts[i:i + chunk])).to_list()]
    return out


@functools.cache
def tokenized(split, data_dir=None):
    """(English words, French words) of the pairs of `split`."""
    if split not in ("train", "validation"):
        raise ValueError(f"`split` must be 'train' or 'validation' (no test split here); received {split!r}.")
    pairs = read_pairs(data_dir)[split]
    return words_of([e for e, _ in pairs]), words_of([f for _, f in pairs])


def write_vocabularies(data_dir=None):
    """Writes the training split's most frequent words of each language
    (ties by spelling), one a line, beside `zoo/convs2s.py`."""
    for words, size, path in zip(tokenized("train", data_dir), (ENGLISH_WORDS, FRENCH_WORDS),
                                 (convs2s.ENGLISH_VOCABULARY_PATH, convs2s.FRENCH_VOCABULARY_PATH)):
        counts = collections.Counter(w for sentence in words for w in sentence)
        chosen = sorted(counts, key=lambda w: (-counts[w], w))[:size]
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text("".join(w + "\n" for w in chosen), encoding="utf-8")
        tmp.replace(path)


@functools.cache
def _ids(language):
    words = convs2s.english_vocabulary() if language == "english" else convs2s.french_vocabulary()
    return {w: i for i, w in enumerate(words)}


def encode(english, french):
    """(source ids, decoder inputs <s> + words, targets words + </s>) of tokenised pairs."""
    en, fr = _ids("english"), _ids("french")
    source = [np.array([en.get(w, convs2s.UNK_ID) for w in s], np.int32) for s in english]
    target = [[fr.get(w, convs2s.UNK_ID) for w in s] for s in french]
    return (source, [np.array([convs2s.START_ID] + t, np.int32) for t in target],
            [np.array(t + [convs2s.END_ID], np.int32) for t in target])


def _pad(rows):
    length = -(-max(len(r) for r in rows) // PAD_TO) * PAD_TO
    out = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def fra_eng_dataset(split, data_dir=None, batch_size=64, augment=False, seed=0, limit=None, cache_dir=None,
                    shuffle=None, first_epoch=0, max_words=MAX_WORDS):
    """({"source", "decoder_input"}, targets) int32 batches, 0 as padding.

    Pairs with more than `max_words` words on a side are left out; `limit`
    takes the first of the others. Training batches hold pairs of similar
    length, drawn anew each epoch from `(seed, epoch)` (`ptb.batches_of`);
    validation keeps the file's order. `augment` and `cache_dir` are unused.
    """
    english, french = tokenized(split, data_dir)
    kept = [i for i, (e, f) in enumerate(zip(english, french)) if len(e) <= max_words and len(f) <= max_words]
    kept = kept[:limit] if limit else kept
    source, decoder_input, targets = encode([english[i] for i in kept], [french[i] for i in kept])
    lengths = np.array([len(t) + len(s) for s, t in zip(source, targets)])
    shuffled = shuffle if shuffle is not None else split == "train"
    epochs = EpochCounter(first_epoch)

    def one_epoch():
        if shuffled:
            order = batches_of(lengths, batch_size, np.random.default_rng([seed, epochs.draw()]))
        else:
            order = [np.arange(i, min(i + batch_size, len(source))) for i in range(0, len(source), batch_size)]
        for rows in order:
            yield ({"source": _pad([source[i] for i in rows]), "decoder_input": _pad([decoder_input[i] for i in rows])},
                   _pad([targets[i] for i in rows]))

    spec = tf.TensorSpec((None, None), tf.int32)
    ds = tf.data.Dataset.from_generator(one_epoch, output_signature=({"source": spec, "decoder_input": spec}, spec))
    count = -(-len(source) // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(count)).prefetch(2)


def held_out(split, data_dir=None, cache_dir=None, size=None, **options):
    """({"english": str [N]}, French references str [N]): every pair of `split`
    (the first `size` with `size`, e.g. `specialnets evaluate --size`)."""
    if split not in ("train", "validation"):
        raise ValueError(f"`split` must be 'train' or 'validation' (no test split here); received {split!r}.")
    pairs = read_pairs(data_dir)[split]
    pairs = pairs[:size] if size else pairs
    return ({"english": np.array([e for e, _ in pairs], dtype=object)},
            np.array([f for _, f in pairs], dtype=object))


def _text(values):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def _plain_spaces(text):
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2009", " ").split())


def bleu(hypotheses, references, lowercase=False):
    import sacrebleu

    return float(sacrebleu.corpus_bleu([_plain_spaces(h) for h in hypotheses],
                                       [[_plain_spaces(r) for r in references]], lowercase=lowercase).score)


def score(outputs, inputs, labels):
    """Corpus BLEU (sacreBLEU, 13a, case-sensitive, one reference a pair;
    other spaces made plain) of the `french` outputs, on all pairs and on
    those of <= 10 English words, and case-insensitive on all pairs;
    "error" is 1 - BLEU / 100."""
    hypotheses, references = _text(outputs["french"]), _text(labels)
    short = [i for i, e in enumerate(_text(inputs["english"])) if len(e.split()) <= SHORT_WORDS]
    everything = bleu(hypotheses, references)
    return {"error": 1.0 - everything / 100.0, "bleu": everything,
            "bleu_short": bleu([hypotheses[i] for i in short], [references[i] for i in short]),
            "short_pairs": len(short), "bleu_lowercase": bleu(hypotheses, references, lowercase=True)}


TASKS = {"fra_eng": Task(
    name="fra_eng",
    dataset=fra_eng_dataset,
    loss=next_word_loss,
    metrics=(NextWordAccuracy,),
    error_metric="next_word_accuracy",
    prediction_output="french",
    description=("Tatoeba English-French pairs (fra-eng/fra.txt), split by a hash of the English sentence: "
                 "1 in 40 to validation; training on the pairs of <= 16 words a side"),
    held_out=held_out,
    score=score,
)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["vocabulary"])
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    write_vocabularies(args.data_dir)
    print(convs2s.ENGLISH_VOCABULARY_PATH, convs2s.FRENCH_VOCABULARY_PATH)


if __name__ == "__main__":
    main()
