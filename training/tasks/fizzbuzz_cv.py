"""Block cross-validation for `fizzbuzz`: how a training recipe does on
numbers shaped like 1..100 without asking 1..100.

The question numbers 1..100 are the low end of the numbers whose top three
binary digits are 000, and training saw only the top of that range
(101..127). Fold p (1..7) recreates that with the prefix p: it holds out
the 100 numbers 128p .. 128p + 99 (never 1..100) and trains on the rest of
101..1023, then counts the held-out numbers answered wrong. The recipe is
the `paper` preset's (full batches, AdamW, cosine decay), with overrides.

    python -m training.tasks.fizzbuzz_cv --seeds 3 --set weight_decay=2.0
"""

import argparse
import dataclasses
import json
import time

import keras
import numpy as np
import tensorflow as tf

import zoo
from training import train
from training.tasks.fizzbuzz import label

FOLDS = tuple(range(1, 8))
BLOCK = 100


def fold_numbers(fold):
    """(training numbers, held-out numbers) of fold `fold` in 1..7."""
    if fold not in FOLDS:
        raise ValueError(f"`fold` must be one of {list(FOLDS)}; received {fold!r}.")
    held = np.arange(128 * fold, 128 * fold + BLOCK, dtype=np.int64)
    pool = np.arange(101, 1024, dtype=np.int64)
    return pool[~np.isin(pool, held)], held


def train_fold(fold, seed, preset, steps=None):
    """Probabilities [100, 4] of fold `fold`'s held-out numbers after
    training `preset` (its model and optimizer, full batches) with `seed`."""
    numbers, held = fold_numbers(fold)
    steps = steps or preset.epochs * preset.task.get("repeats", 1)
    keras.utils.set_random_seed(seed)
    model = zoo.get("fizzbuzz").builder(**preset.model)
    model.compile(optimizer=train._optimizer(preset, steps, steps), loss="sparse_categorical_crossentropy",
                  jit_compile=True)
    data = tf.data.Dataset.from_tensors((numbers, label(numbers))).repeat(steps)
    model.fit(data, epochs=1, verbose=0)
    return model.predict(held, batch_size=len(held), verbose=0)


def cross_validate(seeds=1, model=None, training=None, steps=None, log=print, folds=FOLDS):
    """Wrong answers on the held-out blocks for each seed, and of the seeds'
    averaged probabilities, with `paper` preset overrides `model` (builder
    arguments) and `training` (Preset fields)."""
    preset = zoo.get("fizzbuzz").preset("paper")
    preset = dataclasses.replace(preset, model={**preset.model, **(model or {})}, **(training or {}))
    wrong, ensemble_wrong = {}, 0
    for fold in folds:
        held = fold_numbers(fold)[1]
        probabilities = []
        for seed in range(seeds):
            start = time.time()
            probabilities.append(train_fold(fold, seed, preset, steps))
            missed = held[probabilities[-1].argmax(-1) != label(held)]
            wrong[f"fold {fold} seed {seed}"] = missed.tolist()
            log(f"fold {fold} seed {seed}: {len(missed)} wrong {missed.tolist()} ({time.time() - start:.0f} s)")
        ensemble_wrong += int(np.sum(np.mean(probabilities, 0).argmax(-1) != label(held)))
    total = sum(len(v) for v in wrong.values())
    return {"model": preset.model, "weight_decay": preset.weight_decay, "learning_rate": preset.learning_rate,
            "seeds": seeds, "held_out_numbers": len(folds) * BLOCK,
            "wrong_per_run": total / seeds, "error_per_run": total / (seeds * len(folds) * BLOCK),
            "ensemble_wrong": ensemble_wrong, "wrong": wrong}


def _value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 for every fold")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a builder argument (hidden, centred) or a training field "
                             "(weight_decay, learning_rate)")
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's 3,000)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    model, training = {}, {}
    fields = {f.name for f in dataclasses.fields(zoo.get("fizzbuzz").preset("paper"))}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set takes KEY=VALUE; received {item!r}")
        if key in ("hidden", "centred", "members", "digits"):
            model[key] = _value(value)
        elif key in fields and key not in ("model", "task"):
            training[key] = _value(value)
        else:
            parser.error(f"--set: unknown key {key!r}")
    figures = cross_validate(args.seeds, model, training, args.steps)
    print(json.dumps({k: v for k, v in figures.items() if k != "wrong"}, indent=2))


if __name__ == "__main__":
    main()
