"""Distribution strategies for `specialnets train --distribute`.

- `none`: TensorFlow's default strategy (one device; the default).
- `mirrored`: `tf.distribute.MirroredStrategy` over this machine's GPUs (or
  its CPU).
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy` over the
  cluster that the `TF_CONFIG` environment variable describes, e.g. on the
  second of two machines:

      TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                  "task": {"type": "worker", "index": 1}}'

  The chief (the "chief" task, else worker 0) writes the run's outputs.

`strategy` must run before TensorFlow runs any op: MultiWorkerMirroredStrategy
configures the runtime's collective ops, which it can do only at start-up.
It also works around two Keras 3 bugs under that strategy (see
`build_for_fit` and `_average_scalar_logs_across_workers`).
"""

import json
import os

import tensorflow as tf

CHOICES = ("none", "mirrored", "multi-worker")
JOBS = ("chief", "worker")  # the task types MultiWorkerMirroredStrategy trains on

_strategies = {}


def tf_config(environ=None):
    """(cluster, task type, task index) of `TF_CONFIG`, validated."""
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ValueError("--distribute multi-worker reads the cluster from the TF_CONFIG "
                         "environment variable, which is not set; expected e.g. "
                         '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}}.')
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text!r}.") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with `cluster` and `task`; "
                         f"received {text!r}.")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(cluster.get("worker"), list) \
            or not cluster["worker"]:
        raise ValueError(f'TF_CONFIG `cluster` must map "worker" to a non-empty list of '
                         f'"host:port" addresses; received cluster={cluster!r}.')
    other = sorted(set(cluster) - set(JOBS))
    if other:
        raise ValueError(f"TF_CONFIG `cluster` has jobs {other}; multi-worker training "
                         f"takes only {list(JOBS)}.")
    if len(cluster.get("chief", [])) > 1:
        raise ValueError(f'TF_CONFIG `cluster` "chief" must hold at most one address; '
                         f'received {cluster["chief"]!r}.')
    for job in cluster:
        for address in cluster[job]:
            host, sep, port = str(address).rpartition(":")
            if not isinstance(address, str) or not sep or not host or not port.isdigit():
                raise ValueError(f'TF_CONFIG `cluster` "{job}" address {address!r} is not '
                                 f'"host:port".')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f'TF_CONFIG `task` must be {{"type": ..., "index": ...}}; '
                         f"received task={task!r}.")
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise ValueError(f"TF_CONFIG `task` type {task_type!r} is not a job of the cluster "
                         f"({sorted(cluster)}).")
    if isinstance(index, bool) or not isinstance(index, int) \
            or not 0 <= index < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG `task` index {index!r} is not a task of job "
                         f"{task_type!r}, which has {len(cluster[task_type])} "
                         f"(0 to {len(cluster[task_type]) - 1}).")
    return cluster, task_type, index


def is_chief(cluster, task_type, index):
    """Whether this task writes the run's outputs: the chief, else worker 0."""
    return task_type == "chief" or ("chief" not in cluster and task_type == "worker" and index == 0)


def strategy(kind="none"):
    """The `tf.distribute.Strategy` of `--distribute kind`, one per process."""
    if kind not in CHOICES:
        raise ValueError(f"`distribute` must be one of {list(CHOICES)}; received {kind!r}.")
    if kind not in _strategies:
        if kind == "multi-worker":
            tf_config()  # a clear error before TensorFlow's own
            try:
                _strategies[kind] = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as error:
                raise RuntimeError(
                    "--distribute multi-worker must create its strategy before TensorFlow runs "
                    "any op (call training.distribute.strategy first in the process): "
                    f"{error}") from None
            _average_scalar_logs_across_workers()
        elif kind == "mirrored":
            _strategies[kind] = tf.distribute.MirroredStrategy()
        else:
            _strategies[kind] = tf.distribute.get_strategy()
    return _strategies[kind]


def worker(kind):
    """(is chief, task index, number of workers) of this process under `kind`."""
    if kind != "multi-worker":
        return True, 0, 1
    cluster, task_type, index = tf_config()
    workers = sum(len(cluster[job]) for job in JOBS if job in cluster)
    return is_chief(cluster, task_type, index), index, workers


def shard_by_data(dataset):
    """`dataset` auto-sharded by data: each worker computes the whole
    pipeline and takes its share of every global batch, so that each step
    trains on the batch one process would (files are never split)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def check_same_on_every_worker(strategy, values):
    """Raises a ValueError unless every worker of `strategy` holds the same
    `values` (description -> int, e.g. the epoch it resumes at): else they
    would train apart, or wait on each other for ever."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    mine = tf.constant([[int(v) for v in values.values()]], tf.int64)
    every = strategy.gather(strategy.run(lambda: mine), axis=0).numpy()
    for column, what in enumerate(values):
        seen = sorted({int(v) for v in every[:, column]})
        if len(seen) > 1:
            raise ValueError(f"The workers disagree on {what} ({seen}): every worker must read "
                             "the same --run-dir (storage they share, e.g. NFS or GCS).")


def _average_scalar_logs_across_workers():
    """Makes Keras average a step's logs (loss, metrics: scalars) across
    workers. Keras 3 reduces them with `strategy.reduce("MEAN", v, axis=0)`
    under MultiWorkerMirroredStrategy, which fails on a scalar ("Invalid
    reduction dimension 0 for input with 0 dimensions")."""
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "averages_scalars", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") \
                or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original(values, strategy, reduction)
        return tf.nest.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=0 if v.shape.rank else None), values)

    reduce_per_replica.averages_scalars = True
    trainer.reduce_per_replica = reduce_per_replica


def build_for_fit(model, dataset):
    """Builds a compiled `model`'s metrics, loss and optimizer from the
    element spec of `dataset`, and has `fit`/`evaluate` take the strategy of
    the enclosing `strategy.scope()`.

    Keras 3 would build them from a first batch that it all-reduces across
    workers, which fails under MultiWorkerMirroredStrategy ("Attempt to
    convert a value (PerReplica...)", keras-team/keras#20585).
    """
    model._symbolic_build(data_batch=dataset.element_spec)
    model._distribute_strategy = None
