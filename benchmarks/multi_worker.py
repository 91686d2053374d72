"""Training steps/s of one process vs two MultiWorkerMirroredStrategy workers.

    python benchmarks/multi_worker.py [--model highway_mnist] [--preset quick]
        [--batch 128] [--steps 30] [--data-dir DIR]

Trains `--model` with `--preset` (compiled as `specialnets train` compiles
it) on its training data, repeated, first in one process (`--distribute
none`), then in two worker processes on 127.0.0.1 (`--distribute
multi-worker`, TF_CONFIG on free ports), each step on the same global batch
of `--batch` examples (half on each worker). Each run trains a warm-up
epoch of `--steps` steps (tracing, filling the data cache), then two timed
epochs; it prints global steps/s (the median of the timed epochs) and the
ratio two workers / one. Data: `--data-dir`, else $SPECIALNETS_DATA, else
the test fixtures (100 training digits). Two workers on one machine share
its cores, so the ratio measures the all-reduce's overhead, not a speed-up.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def worker(args):
    """One training process: prints {"steps_per_s": ...} as its last line."""
    from training import distribute

    strategy = distribute.strategy(args.distribute)  # before TensorFlow runs any op
    import keras

    import zoo
    from training import tasks, train

    entry = zoo.get(args.model)
    config = entry.preset(args.preset)
    task = tasks.get(entry.task)
    keras.utils.set_random_seed(0)
    ds = task.dataset("train", data_dir=args.data_dir, batch_size=args.batch, seed=0,
                      limit=config.train_limit, cache_dir=args.cache_dir, **config.task)
    ds = ds.repeat()
    if args.distribute == "multi-worker":
        ds = distribute.shard_by_data(ds)
    times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    with strategy.scope():
        model = entry.builder(**config.model)
        model.compile(optimizer=train._optimizer(config, 3 * args.steps, args.steps),
                      jit_compile=True if config.jit_compile else "auto", **task.compile_arguments())
        if args.distribute != "none":
            distribute.build_for_fit(model, ds)
        model.fit(ds, epochs=3, steps_per_epoch=args.steps, callbacks=[EpochTimer()], verbose=0)
    print(json.dumps({"steps_per_s": args.steps / statistics.median(times[1:])}))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(args, workers):
    """Global steps/s of a run on `workers` processes (1: no strategy)."""
    command = [sys.executable, __file__, "--worker", "--model", args.model, "--preset", args.preset,
               "--batch", str(args.batch), "--steps", str(args.steps), "--data-dir", args.data_dir,
               "--cache-dir", args.cache_dir,
               "--distribute", "multi-worker" if workers > 1 else "none"]
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(workers)]
    processes = []
    for index in range(workers):
        env = dict(os.environ)
        if workers > 1:
            env["TF_CONFIG"] = json.dumps({"cluster": {"worker": addresses},
                                           "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=1200) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        if p.returncode != 0:
            raise SystemExit(f"a worker failed (exit status {p.returncode}):\n{err[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])["steps_per_s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="highway_mnist")
    parser.add_argument("--preset", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--batch", type=int, default=128, help="global batch size")
    parser.add_argument("--steps", type=int, default=30, help="steps per (timed) epoch")
    parser.add_argument("--data-dir", default=os.environ.get("SPECIALNETS_DATA")
                        or str(REPO / "tests" / "fixtures"))
    parser.add_argument("--cache-dir", default="runs/tfds")
    parser.add_argument("--distribute", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.batch < 2 or args.batch % 2:
        parser.error(f"--batch must be an even number >= 2 (split over two workers); "
                     f"received {args.batch}.")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1; received {args.steps}.")
    if args.worker:
        return worker(args)
    import zoo
    from training import tasks

    # Prepares the data cache here: two workers would race to write it.
    tasks.get(zoo.get(args.model).task).dataset("train", data_dir=args.data_dir,
                                                cache_dir=args.cache_dir)
    one, two = launch(args, 1), launch(args, 2)
    print(f"{args.model} {args.preset}, global batch {args.batch}, {os.cpu_count()} CPU cores")
    print(f"one process:  {one:7.2f} steps/s")
    print(f"two workers:  {two:7.2f} steps/s")
    print(f"ratio two / one: {two / one:.2f}")


if __name__ == "__main__":
    main()
