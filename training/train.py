"""Training and evaluation of zoo models: `specialnets train / evaluate`."""

import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

import zoo
from custom_layers import LinearStart
from zoo import registry
from training import distribute as distribution
from training import tasks
from training.held_out_log import HeldOutLog


def atomic_write_text(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_weights_atomically(model, path):
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")  # Keras needs the .weights.h5 suffix
    model.save_weights(tmp)
    os.replace(tmp, path)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup survives a kill at any moment.

    Keras writes the backup's weights and metadata in place, so a `kill -9`
    during the write leaves a corrupt file and the resume fails ("bad object
    header"). Here both are written beside and renamed into place, weights
    first: a kill between the two renames costs one epoch, redone.

    `restore_dir` (default `backup_dir`) is where it resumes from: a
    non-chief worker restores the chief's backup and writes its own to a
    temporary directory.
    """

    def __init__(self, backup_dir, restore_dir=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.restore_dir = restore_dir or backup_dir

    def _load_model(self):
        own = self._weights_path, self._training_metadata_path
        self._weights_path = str(Path(self.restore_dir) / Path(own[0]).name)
        self._training_metadata_path = str(Path(self.restore_dir) / Path(own[1]).name)
        try:
            super()._load_model()
        finally:
            self._weights_path, self._training_metadata_path = own

    def _save_model(self):
        final = self._weights_path, self._training_metadata_path
        self._weights_path = str(Path(final[0]).with_name("next.weights.h5"))
        self._training_metadata_path = final[1] + ".next"
        try:
            super()._save_model()
            os.replace(self._weights_path, final[0])
            os.replace(self._training_metadata_path, final[1])
        finally:
            self._weights_path, self._training_metadata_path = final


class EpochLog(keras.callbacks.Callback):
    """Appends each finished epoch's number to a file (shows what a resume redid)."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as f:
            f.write(f"{epoch}\n")


def run_info(weights_path):
    """The `metrics.json` of the run that wrote `weights_path`, or {}."""
    record = Path(weights_path).with_name("metrics.json")
    return json.loads(record.read_text()) if record.exists() else {}


def load_weights_file(entry, weights_path):
    """A model of `entry` with the weights of a `.weights.h5` file.

    A file inside a training run directory is built with that run's
    configuration (its `metrics.json`); any other with the `paper` preset.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file {path} does not exist (a .weights.h5).")
    config = run_info(path).get("model_config")
    model = entry.builder(**config) if config else entry.build("paper")
    model.load_weights(path)
    return model


def load_run_model(run_dir):
    """The final model of a finished training run."""
    run_dir = Path(run_dir)
    return load_weights_file(zoo.get(run_info(run_dir / "final.weights.h5")["model"]),
                             run_dir / "final.weights.h5")


def resumed_epoch(run_dir):
    """The epoch an interrupted run in `run_dir` resumes at (0: none)."""
    path = Path(run_dir) / "backup" / "training_metadata.json"
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0  # no backup, or one Keras itself will reject or replace


def _dataset(task, split, args, preset, augment=False, limit=None, first_epoch=0):
    extra = {"first_epoch": first_epoch} if first_epoch else {}
    return task.dataset(
        split,
        data_dir=args["data_dir"],
        batch_size=preset.batch_size,
        augment=augment,
        seed=args["seed"],
        limit=limit,
        cache_dir=args["cache_dir"],
        **extra,
        **preset.task,
    )


def serve_locally(entry, model, inputs, batch_size=256):
    """The serving outputs of `model` on `inputs` (name -> array), batched."""
    import tensorflow as tf

    serve = tf.function(entry.serving_fn(model), reduce_retracing=True)
    total = len(next(iter(inputs.values())))
    parts = [
        {k: v.numpy() for k, v in serve(**{n: a[i:i + batch_size] for n, a in inputs.items()}).items()}
        for i in range(0, total, batch_size)
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def held_out_scorer(entry, split="validation", data_dir=None, cache_dir="runs/tfds", **options):
    """model -> the task's figures for its serving outputs on held-out data
    (the data read once)."""
    task = tasks.get(entry.task)
    inputs, labels = held_out_arrays(entry.name, data_dir, split, cache_dir, **options)

    def score(model):
        outputs = serve_locally(entry, model, inputs)
        return {"split": split, "examples": int(len(labels)), **task.scores(outputs, inputs, labels)}

    return score


def held_out_scores(entry, model, split="validation", data_dir=None, cache_dir="runs/tfds", **options):
    """The task's figures for `model`'s serving outputs on held-out data."""
    return held_out_scorer(entry, split, data_dir, cache_dir, **options)(model)


def train(
    name,
    preset="paper",
    data_dir=None,
    run_dir=None,
    seed=0,
    epochs=None,
    cache_dir="runs/tfds",
    verbose=1,
    model_overrides=None,
    init_weights=None,
    training_overrides=None,
    task_overrides=None,
    held_out_every=None,
    distribute="none",
):
    """Trains zoo model `name` with `preset`; resumes an interrupted run
    (weights, optimizer and epoch from its backup; its training data goes on
    from that epoch too, see `training/epochs.py`).

    `training_overrides` change training fields of the preset
    (`learning_rate`, `optimizer`, `halve_every`, `clipnorm`, ...; also a
    variant, never published).
    `task_overrides` change options of the preset's task data (e.g. bAbI's
    {"tasks": [19]}: one task instead of the 20; also a variant).
    `init_weights` (a `.weights.h5` of the same model) starts from those
    weights instead of a fresh initialisation, with a fresh optimizer and
    learning-rate schedule, and without linear start: a finished run
    continued for `epochs` more. A preset with a `warm_start` (another zoo
    model's name) starts, unless `init_weights` is given, from that model's
    pretrained weights, carried over by the entry's `warm_start_fn`.
    `model_overrides` change builder arguments of the preset (a variant,
    e.g. {"encoder": "lstm"}). Writes to `run_dir` (default
    `runs/<name>-<preset>`): `backup/` (resume
    state, removed when training ends), `logs/` (TensorBoard), `history.csv`,
    `best.weights.h5` (lowest validation loss), `final.weights.h5` and
    `metrics.json` (validation loss and error of the final weights), and,
    every `held_out_every` epochs (None: the preset's; 0: never) of a task
    with held-out scoring, `held_out.jsonl` (`training/held_out_log.py`).
    `distribute` ("none", "mirrored" or "multi-worker", see
    `training/distribute.py`) trains on each step's same global batch
    across devices or workers; only the chief writes to `run_dir` (others
    write to a temporary directory they delete), and every worker resumes
    from the chief's backup, so `run_dir` must be storage they share.
    Returns the metrics dict.
    """
    strategy = distribution.strategy(distribute)  # first: before TensorFlow runs any op
    chief, index, workers = distribution.worker(distribute)
    run_dir = Path(run_dir or f"runs/{name}-{preset}")
    with _write_dir(run_dir, chief, index) as write_dir:
        return _train(
            name, preset, data_dir, run_dir, seed, epochs, cache_dir, verbose, model_overrides,
            init_weights, training_overrides, task_overrides, held_out_every,
            distribute=distribute, strategy=strategy, workers=workers, write_dir=write_dir)


@contextlib.contextmanager
def _write_dir(run_dir, chief, index):
    """Where a worker writes: the chief `run_dir`, others a temporary
    directory, removed afterwards (the Keras multi-worker pattern)."""
    if chief:
        yield run_dir
        return
    # A fixed place, so that a restarted worker removes what a killed one left.
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]
    write_dir = Path(tempfile.gettempdir()) / f"specialnets-worker{index}-{digest}"
    shutil.rmtree(write_dir, ignore_errors=True)
    try:
        yield write_dir
    finally:
        shutil.rmtree(write_dir, ignore_errors=True)


def _train(name, preset, data_dir, run_dir, seed, epochs, cache_dir, verbose, model_overrides,
           init_weights, training_overrides, task_overrides, held_out_every, *, distribute,
           strategy, workers, write_dir):
    """`train`, reading the run's state from `run_dir`, writing to `write_dir`."""
    entry = zoo.get(name)
    config = _with_training_overrides(entry.preset(preset), training_overrides)
    task = tasks.get(entry.task)
    config = _with_task_overrides(task, config, task_overrides)
    held_out_every = config.held_out_every if held_out_every is None else held_out_every
    if isinstance(held_out_every, bool) or not isinstance(held_out_every, int) or held_out_every < 0:
        raise ValueError(f"`held_out_every` must be an int >= 0 (epochs; 0: never); "
                         f"received {held_out_every!r}.")
    if task.needs_data:
        tasks.resolve_data_dir(data_dir)  # fail early, before building anything
    write_dir.mkdir(parents=True, exist_ok=True)
    epochs = epochs or config.epochs
    args = dict(data_dir=data_dir, seed=seed, cache_dir=cache_dir)

    keras.utils.set_random_seed(seed)
    # A resumed run's data continues from the epoch it resumes at (training/epochs.py).
    first_epoch = resumed_epoch(run_dir)
    final = run_dir / "final.weights.h5"
    finished = final.exists() and not (run_dir / "metrics.json").exists()
    distribution.check_same_on_every_worker(
        strategy, {"the epoch to resume at": first_epoch, "whether training finished": finished})
    train_ds = _dataset(task, "train", args, config, config.augment, config.train_limit,
                        first_epoch)
    val_ds = _dataset(task, "validation", args, config)
    if distribute == "multi-worker":
        train_ds, val_ds = distribution.shard_by_data(train_ds), distribution.shard_by_data(val_ds)
    steps = int(train_ds.cardinality())
    keras.utils.set_random_seed(seed)  # again: preparing data may draw from `random`
    known = inspect.signature(entry.builder).parameters
    unknown = sorted(set(model_overrides or {}) - set(known))
    if unknown:
        raise ValueError(f"{name} has no builder argument {unknown}; expected some of {sorted(known)}.")
    model_config = {**config.model, **(model_overrides or {})}
    score = None if task.held_out is None else held_out_scorer(
        entry, data_dir=data_dir, cache_dir=cache_dir, **held_out_options(name, task_overrides))
    warm_start = None
    if config.warm_start and not init_weights:
        source_entry = zoo.get(config.warm_start)
        source = source_entry.load_pretrained()
        warm_start = {"model": config.warm_start, "sha256": source_entry.weights_sha256}
    with strategy.scope():
        model = entry.builder(**model_config)
        if warm_start:
            entry.warm_start_fn(source, model)
        if init_weights:
            if not Path(init_weights).is_file():
                raise FileNotFoundError(f"`init_weights`: {init_weights} is not a file (a .weights.h5).")
            try:
                model.load_weights(init_weights)
            except ValueError as error:
                raise ValueError(f"`init_weights`: {init_weights} does not fit {name} "
                                 f"({model_config}): {error}") from None
        model.compile(optimizer=_optimizer(config, epochs * max(steps, 1), steps),
                      jit_compile=True if config.jit_compile else "auto", **task.compile_arguments())
        if distribute != "none":
            distribution.build_for_fit(model, train_ds)
        callbacks = [
            AtomicBackupAndRestore(str(write_dir / "backup"), restore_dir=str(run_dir / "backup")),
            keras.callbacks.TensorBoard(str(write_dir / "logs")),
            keras.callbacks.CSVLogger(str(write_dir / "history.csv"), append=True),
            keras.callbacks.ModelCheckpoint(
                str(write_dir / "best.weights.h5"),
                save_best_only=True,
                save_weights_only=True,
                monitor="val_loss",
            ),
            EpochLog(write_dir / "epochs.log"),
        ]
        if held_out_every and score is not None:
            # Before the task's callbacks: it scores the model the epoch trained, as val_loss does
            # (linear start puts the softmaxes back at an epoch's end).
            callbacks.append(HeldOutLog(write_dir / "held_out.jsonl", held_out_every, score,
                                        summary_dir=write_dir / "logs" / "held_out"))
        callbacks += [c for c in (task.callbacks(config) if task.callbacks else [])
                      if not (init_weights and isinstance(c, LinearStart))]  # trained: no linear start
        if finished:
            # Trained, but stopped before its figures were written: finish it. The file
            # holds the optimizer's state too, which loads only into built slots.
            model.optimizer.build(model.trainable_variables)
            model.load_weights(final)
        else:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=epochs,
                callbacks=callbacks,
                shuffle=False,  # the pipeline shuffles, with the run's seed
                verbose=verbose,
            )
            save_weights_atomically(model, write_dir / final.name)
        results = model.evaluate(val_ds, return_dict=True, verbose=0)
    metrics = {
        "validation": {
            "loss": float(results["loss"]),
            "error": 1.0 - float(results[task.error_metric]),
            "examples": int(sum(len(y) for _, y in val_ds)),
        }
    }
    if score is not None:
        metrics["held_out"] = score(model)
    command = ["specialnets", "train", name, "--preset", preset, "--seed", str(seed)]
    for flag, overrides in (("--set", model_overrides), ("--train-set", training_overrides),
                            ("--task-set", task_overrides)):
        for key, value in (overrides or {}).items():
            command += [flag, f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    if epochs != config.epochs:
        command += ["--epochs", str(epochs)]
    if init_weights:
        command += ["--init-weights", str(init_weights)]
    info = {
        "model": name,
        "preset": preset,
        "model_config": model_config,
        "model_overrides": model_overrides or {},
        "training_overrides": training_overrides or {},
        "task_overrides": task_overrides or {},
        "init_weights": str(init_weights) if init_weights else None,
        **({"warm_start": warm_start} if warm_start else {}),
        "epochs": epochs,
        "seed": seed,
        "command": shlex.join(command),
        "data": task.description + (f"; changed by --task-set: {task_overrides}" if task_overrides else ""),
        "metrics": metrics,
        "parameters": int(model.count_params()),
    }
    if distribute != "none":
        info["distribute"] = {"strategy": distribute, "workers": workers,
                              "replicas": strategy.num_replicas_in_sync}
    atomic_write_text(write_dir / "metrics.json", json.dumps(info, indent=2) + "\n")
    return info


TRAINING_FIELDS = ("learning_rate", "weight_decay", "clipnorm", "optimizer", "halve_every", "batch_size",
                   "linear_start_epochs", "jit_compile")


def _with_training_overrides(config, overrides):
    unknown = sorted(set(overrides or {}) - set(TRAINING_FIELDS))
    if unknown:
        raise ValueError(f"`training_overrides`: no training field {unknown}; expected some of "
                         f"{list(TRAINING_FIELDS)}.")
    config = dataclasses.replace(config, **(overrides or {}))
    if config.optimizer not in ("adam", "sgd"):
        raise ValueError(f"`optimizer` must be 'adam' or 'sgd'; received {config.optimizer!r}.")
    if not isinstance(config.jit_compile, bool):
        raise ValueError(f"`jit_compile` must be true or false; received {config.jit_compile!r}.")
    if config.halve_every is not None and (not isinstance(config.halve_every, int) or config.halve_every < 1):
        raise ValueError(f"`halve_every` must be a positive int (epochs); received {config.halve_every!r}.")
    return config


# What `train` itself passes to a task's `dataset`: not task options.
DATASET_ARGUMENTS = ("split", "data_dir", "batch_size", "augment", "seed", "limit", "cache_dir", "shuffle",
                     "first_epoch")


def _options(function):
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _with_task_overrides(task, config, overrides):
    if not overrides:
        return config
    known = _options(task.dataset) - set(DATASET_ARGUMENTS)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"`task_overrides`: the {task.name} task has no option {unknown}; expected "
                         f"some of {sorted(known)}.")
    return dataclasses.replace(config, task={**config.task, **overrides})


def held_out_options(name, overrides):
    """The task overrides of a run of `name` that also choose its held-out
    data (bAbI's `tasks`)."""
    task = tasks.get(zoo.get(name).task)
    if task.held_out is None:
        return {}
    return {k: v for k, v in (overrides or {}).items() if k in _options(task.held_out)}


def _optimizer(config, total_steps, steps_per_epoch):
    """The preset's optimizer: its learning rate halved every `halve_every`
    epochs, else cosine-decayed to 0 over the run."""
    if config.halve_every:
        every = config.halve_every * max(steps_per_epoch, 1)
        # PiecewiseConstantDecay switches after a boundary: the last step of each period.
        boundaries = list(range(every - 1, max(total_steps - 1, every), every))
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [config.learning_rate / 2 ** k for k in range(len(boundaries) + 1)])
    else:
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=max(1, total_steps))
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, clipnorm=config.clipnorm)
    if config.weight_decay:
        return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, clipnorm=config.clipnorm)
    return keras.optimizers.Adam(schedule, clipnorm=config.clipnorm)


def changes_to_paper_preset(entry, info):
    """What a run recorded by `metrics.json` (`info`) set to other values
    than `entry`'s `paper` preset has now: its overrides that differ from
    the preset (an override equal to the preset's value changes nothing),
    other epochs, weights it started from, and a warm start other than the
    preset's (`warm_start`: the model the run started from, or None)."""
    preset = entry.preset("paper")
    current = {"model_overrides": preset.model, "task_overrides": preset.task,
               "training_overrides": {field: getattr(preset, field) for field in TRAINING_FIELDS}}
    changed = {key: value for record, values in current.items()
               for key, value in (info.get(record) or {}).items()
               if key not in values or values[key] != value}
    if info.get("epochs", preset.epochs) != preset.epochs:
        changed["epochs"] = info["epochs"]
    if info.get("init_weights"):
        changed["init_weights"] = info["init_weights"]
    started_from = (info.get("warm_start") or {}).get("model")
    if started_from != preset.warm_start:
        changed["warm_start"] = started_from
    return changed


def publish(name, run_dir, extra=None):
    """Copies a finished run's final weights and metrics (and `extra`, a
    dict) into the zoo."""
    entry = zoo.get(name)
    run_dir = Path(run_dir)
    info = json.loads((run_dir / "metrics.json").read_text())
    changed = changes_to_paper_preset(entry, info)
    if changed:
        raise ValueError(
            f"{run_dir} changed the model or its training ({changed}): pretrained weights are "
            "the `paper` preset's as it is."
        )
    if info["preset"] != "paper":
        raise ValueError(
            f"Only `paper` runs become pretrained weights; {run_dir} is "
            f"preset {info['preset']!r}."
        )
    if info["model_config"] != entry.preset("paper").model:
        raise ValueError(
            f"{run_dir} trained the model {info['model_config']}, which is not the `paper` preset's "
            f"as it is now ({entry.preset('paper').model}): the preset changed after the run."
        )
    # Through an uncompiled model: the run's file also holds the optimizer's state.
    model = entry.builder(**info["model_config"])
    model.load_weights(run_dir / "final.weights.h5")
    save_weights_atomically(model, entry.weights_path)
    info.update(extra or {})
    info["sha256"] = registry.sha256_of(entry.weights_path)
    atomic_write_text(entry.weights_info_path, json.dumps(info, indent=2) + "\n")
    return info


def evaluate(name, weights="pretrained", data_dir=None, split="validation", cache_dir="runs/tfds",
             **options):
    """Error and loss of zoo model `name` on `split` of its task's data.

    Tasks with their own held-out scoring (pointer tasks) are scored on
    the serving outputs; `options` (e.g. `size`) go to their data.
    """
    entry = zoo.get(name)
    task = tasks.get(entry.task)
    model = entry.load_pretrained() if weights == "pretrained" else load_weights_file(entry, weights)
    if task.held_out is not None:
        return held_out_scores(entry, model, split, data_dir, cache_dir, **options)
    model.compile(**task.compile_arguments())
    ds = task.dataset(split, data_dir=data_dir, batch_size=256, cache_dir=cache_dir)
    results = model.evaluate(ds, return_dict=True, verbose=0)
    return {
        "split": split,
        "loss": float(results["loss"]),
        "error": 1.0 - float(results[task.error_metric]),
        "examples": int(sum(len(y) for _, y in ds)),
    }


def held_out_arrays(name, data_dir=None, split="validation", cache_dir="runs/tfds", **options):
    """(inputs by name, labels) of `split`, to evaluate an export with;
    `options` add to (and override) the `paper` preset's task options that
    choose the held-out data (`Task.held_out_from_preset`)."""
    entry = zoo.get(name)
    task = tasks.get(entry.task)
    if task.held_out is not None:
        preset = entry.preset("paper").task if "paper" in entry.presets else {}
        options = {**{k: v for k, v in preset.items() if k in task.held_out_from_preset}, **options}
        return task.held_out(split, data_dir=data_dir, cache_dir=cache_dir, **options)
    ds = task.dataset(split, data_dir=data_dir, batch_size=1024, cache_dir=cache_dir)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return {entry.inputs[0].name: np.concatenate(xs)}, np.concatenate(ys)
