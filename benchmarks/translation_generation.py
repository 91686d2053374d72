"""Beam search of `convs2s_fra` and `gru_attention_fra`, one word a step against the whole decoder over each prefix.

    python benchmarks/translation_generation.py [--sentences 256] [--batch-size 64] [--beam-width 5]
        [--rounds 3] [--data-dir DIR]

Translates the first `--sentences` validation sentences of the `fra_eng`
task (with `--data-dir` or SPECIALNETS_DATA; otherwise the zoo's example
sentences, repeated) with the pretrained weights. Times `beam_search` alone
(English ids in, French ids out: the part that differs), compiled by
`tf.function` as in the export, both ways (`incremental=True`, the
default: each decoder layer keeps its state and a step costs the same at
any length; `incremental=False`: the decoder reruns over the whole prefix)
and both models, interleaved batch by batch after a warm-up pass. Prints
sentences per second (medians over `--rounds`), the ratio incremental /
whole for each model, and how many translations differ between the two
ways (they should not). The machine is shared and noisy: compare ratios
from one run.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from training.tasks import fra_eng  # noqa: E402
from training.tasks.base import DATA_ENV  # noqa: E402
from zoo import convs2s  # noqa: E402

NAMES = ("convs2s_fra", "gru_attention_fra")


def sentences(count, data_dir):
    if data_dir or os.environ.get(DATA_ENV):
        return [e for e, _ in fra_eng.read_pairs(data_dir)["validation"][:count]], "validation sentences"
    examples = list(convs2s.examples()["english"])
    return (examples * (count // len(examples) + 1))[:count], "example sentences, repeated (no data directory)"


def differing(first, second):
    """How many rows of two lists of id batches differ (padded to one width)."""
    count = 0
    for a, b in zip(first, second):
        width = max(a.shape[1], b.shape[1])
        a, b = (np.pad(x, [[0, 0], [0, width - x.shape[1]]]) for x in (a, b))
        count += int(np.sum(np.any(a != b, axis=1)))
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--beam-width", type=int, default=convs2s.BEAM_WIDTH)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    for flag in ("sentences", "batch_size", "beam_width", "rounds"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1; received {getattr(args, flag)}")
    english, where = sentences(args.sentences, args.data_dir)
    searches, batches = {}, {}
    for name in NAMES:
        model = zoo.get(name).load_pretrained()
        table, _ = convs2s._tables(model)
        batches[name] = [convs2s.source_ids(table, tf.constant(english[i:i + args.batch_size]))
                         for i in range(0, len(english), args.batch_size)]
        for incremental in (True, False):
            searches[(name, incremental)] = tf.function(
                lambda source, model=model, incremental=incremental: convs2s.beam_search(
                    model, source, args.beam_width, incremental=incremental),
                reduce_retracing=True)
    outputs = {key: [search(source).numpy() for source in batches[key[0]]]  # warm-up: trace, and keep
               for key, search in searches.items()}
    seconds = {key: [] for key in searches}
    for _ in range(args.rounds):
        spent = {key: 0.0 for key in searches}
        for b in range(len(batches[NAMES[0]])):
            for key, search in searches.items():
                start = time.perf_counter()
                search(batches[key[0]][b]).numpy()
                spent[key] += time.perf_counter() - start
        for key in searches:
            seconds[key].append(spent[key])
    print(f"{len(english)} {where}, batches of {args.batch_size}, beam width {args.beam_width}, "
          f"medians of {args.rounds} rounds")
    for name in NAMES:
        rate = {inc: len(english) / statistics.median(seconds[(name, inc)]) for inc in (True, False)}
        differ = differing(outputs[(name, True)], outputs[(name, False)])
        print(f"  {name:18s} one word a step {rate[True]:7.1f} sentences/s, whole prefix {rate[False]:7.1f}: "
              f"{rate[True] / rate[False]:.2f}x; translations that differ: {differ} of {len(english)}")


if __name__ == "__main__":
    main()
