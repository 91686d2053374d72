"""Training throughput of `convs2s_fra` and `gru_attention_fra`, in target tokens per second.

    SPECIALNETS_DATA=../shared/data python benchmarks/translation_throughput.py [--batches 20]
        [--batch-size 64] [--rounds 3]

Builds both models with their `paper` preset, compiles them as
`specialnets train` does (Adam, the task's loss and metric, clipnorm), and
times `train_on_batch` on the same training batches of the `fra_eng` task
(pairs of similar length, as in training), the two models interleaved
batch by batch after a warm-up pass over the batches (tracing each shape).
Throughput is real (non-padding) target tokens per second; medians over
`--rounds` rounds of `--batches` batches each, then the ratio convs2s / GRU.
The paper's claim is speed: convolutions run over all time steps at once,
recurrence step by step. `--target-vocabulary 128` times both with a
128-word output layer instead of 4,600 (ids beyond it become `<unk>`): the
output layer and its softmax, the same work in both, then weigh little.
The machine is shared and noisy: the ratio, from one run, is the figure
to compare.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo import convs2s  # noqa: E402
from training import tasks  # noqa: E402
from training.train import _optimizer  # noqa: E402

NAMES = ("convs2s_fra", "gru_attention_fra")


def compiled(name, jit_compile=None, target_vocabulary=None):
    sizes = {"target_vocabulary_size": target_vocabulary} if target_vocabulary else {}
    if name == "convs2s_fra":
        preset = zoo.get(name).preset("paper")
        model = convs2s.build_convs2s(**preset.model, **sizes)
    else:  # the same: its builder and the presets of its entry
        preset = convs2s.GRU_ATTENTION_PRESETS["paper"]
        model = convs2s.build_gru_attention(**preset.model, **sizes)
    task = tasks.get("fra_eng")
    jit = preset.jit_compile if jit_compile is None else jit_compile
    model.compile(optimizer=_optimizer(preset, 10_000, 1_000), jit_compile=True if jit else "auto",
                  **task.compile_arguments())
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir")
    parser.add_argument("--jit", choices=["preset", "on", "off"], default="preset",
                        help="XLA train steps: as the presets say (default), or for both models")
    parser.add_argument("--target-vocabulary", type=int, metavar="N",
                        help="both models with only N French words (targets >= N become <unk>): "
                             "the shared output layer made small, to time the two bodies")
    args = parser.parse_args(argv)
    if args.target_vocabulary is not None and args.target_vocabulary <= convs2s.UNK_ID:
        parser.error(f"--target-vocabulary must be more than {convs2s.UNK_ID}; received {args.target_vocabulary}")
    task = tasks.get("fra_eng")
    data = task.dataset("train", data_dir=args.data_dir, batch_size=args.batch_size, seed=0)
    batches = [(x, y) for x, y in data.take(args.batches)]
    if args.target_vocabulary:
        def small(ids):
            return np.where(ids.numpy() < args.target_vocabulary, ids.numpy(), convs2s.UNK_ID).astype(np.int32)
        batches = [({**x, "decoder_input": small(x["decoder_input"])}, small(y)) for x, y in batches]
    tokens = sum(int(np.sum(np.asarray(y) != 0)) for _, y in batches)
    jit = {"preset": None, "on": True, "off": False}[args.jit]
    models = {name: compiled(name, jit, args.target_vocabulary) for name in NAMES}
    for name, model in models.items():  # warm-up: trace every batch shape
        for x, y in batches:
            model.train_on_batch(x, y)
    rates = {name: [] for name in NAMES}
    for _ in range(args.rounds):
        seconds = dict.fromkeys(NAMES, 0.0)
        for x, y in batches:
            for name, model in models.items():
                start = time.perf_counter()
                model.train_on_batch(x, y)
                seconds[name] += time.perf_counter() - start
        for name in NAMES:
            rates[name].append(tokens / seconds[name])
    for name in NAMES:
        print(f"{name}: {statistics.median(rates[name]):,.0f} target tokens/s "
              f"({models[name].count_params():,} parameters; rounds {[round(r) for r in rates[name]]})")
    ratio = statistics.median(rates[NAMES[0]]) / statistics.median(rates[NAMES[1]])
    vocabulary = f"; {args.target_vocabulary} French words" if args.target_vocabulary else ""
    print(f"{args.batches} batches of {args.batch_size} pairs ({tokens} target tokens), {args.rounds} rounds; "
          f"XLA {args.jit}{vocabulary}; convs2s / GRU throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
