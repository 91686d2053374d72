"""`specialnets train --distribute multi-worker`: two worker processes on
127.0.0.1 train as one process does, the chief alone writes, and a killed
cluster resumes from the chief's backup."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from training import distribute, train
from training.tasks.mnist import idx as mnist

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 240  # seconds for one launch of the cluster; a run takes ~30 s on 2 cores


@pytest.fixture(scope="module")
def cache_dir(tiny_data_dir, tmp_path_factory):
    """The tfds cache, prepared once: two workers preparing it at once would race."""
    path = tmp_path_factory.mktemp("tfds")
    mnist.builder(tiny_data_dir, path)
    return path


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Cluster:
    """Two `specialnets train --distribute multi-worker` processes; worker 0
    is the chief. Each worker has its own TMPDIR (`tmp[i]`) and log file."""

    def __init__(self, tmp_path, run_dir, data_dir, cache_dir, *flags):
        self.tmp = [tmp_path / f"tmp{i}" for i in range(2)]
        addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
        self.logs, self.processes = [], []
        for i in range(2):
            self.tmp[i].mkdir(exist_ok=True)
            config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}
            env = {**os.environ, "TF_CONFIG": json.dumps(config), "TMPDIR": str(self.tmp[i])}
            log = tmp_path / f"worker{i}-{len(list(tmp_path.glob(f'worker{i}-*')))}.log"
            self.logs.append(log)
            command = [sys.executable, "-m", "specialnets", "train", "highway_mnist",
                       "--preset", "smoke", "--seed", "3", "--run-dir", str(run_dir),
                       "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
                       "--verbose", "2", "--distribute", "multi-worker", *flags]
            with open(log, "w") as out:
                self.processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=out,
                                                       stderr=subprocess.STDOUT))

    def tails(self):
        return "\n".join(f"--- worker {i} ({log}):\n{log.read_text()[-3000:]}"
                         for i, log in enumerate(self.logs))

    def wait(self):
        """Waits for both workers; fails unless both exit 0."""
        try:
            codes = [p.wait(timeout=TIMEOUT) for p in self.processes]
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the workers did not finish within {TIMEOUT} s\n{self.tails()}")
        assert codes == [0, 0], f"exit statuses {codes}\n{self.tails()}"

    def kill(self):
        for p in self.processes:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def scenario(tiny_data_dir, cache_dir, tmp_path_factory):
    """Two workers train highway_mnist's smoke preset (global batches of 64
    and 36: 32 + 32 and 18 + 18 on the workers) until the chief has backed
    up an epoch; worker 1 is killed, the chief stopped, and both restarted
    for one more epoch. Returns what it saw: the clusters, the epochs logged
    before the kill, the epoch the run resumed at, a copy of that backup."""
    seen = types.SimpleNamespace()
    tmp_path = tmp_path_factory.mktemp("cluster")
    seen.run_dir = run_dir = tmp_path / "run"
    seen.epochs_log = epochs_log = run_dir / "epochs.log"
    seen.first = Cluster(tmp_path, run_dir, tiny_data_dir, cache_dir, "--epochs", "400")
    deadline = time.monotonic() + TIMEOUT
    while train.resumed_epoch(run_dir) < 1 or not epochs_log.exists():
        exited = [p.poll() for p in seen.first.processes]
        if any(code is not None for code in exited) or time.monotonic() > deadline:
            seen.first.kill()
            pytest.fail(f"no backup of epoch 1 within {TIMEOUT} s (exit statuses {exited})\n"
                        f"{seen.first.tails()}")
        time.sleep(0.05)
    os.kill(seen.first.processes[1].pid, signal.SIGKILL)
    # The chief stops by itself once it misses the worker's heartbeats (~20 s); a
    # scheduler restarts the whole cluster, as here at once.
    seen.first.kill()
    seen.epochs_done = epochs_log.read_text().split()
    seen.resume_at = train.resumed_epoch(run_dir)
    seen.worker_temp_dirs = list(seen.first.tmp[1].glob("specialnets-worker1-*"))
    seen.backup = tmp_path / "backup-copy"
    shutil.copytree(run_dir / "backup", seen.backup)
    seen.restarted = Cluster(tmp_path, run_dir, tiny_data_dir, cache_dir, "--epochs",
                             str(seen.resume_at + 1))
    seen.restarted.wait()
    return seen


def test_a_restarted_cluster_resumes_from_the_chiefs_last_backup(scenario):
    done, resume_at = scenario.epochs_done, scenario.resume_at
    # (A kill between the backup and the epoch's log line leaves that epoch unlogged.)
    assert resume_at >= 1 and done == [str(e) for e in range(len(done))]
    assert len(done) in (resume_at - 1, resume_at), (done, resume_at)
    # It trained the one epoch left, from the backup, on both workers: the worker restored
    # the chief's backup too (else they would disagree on the epochs to run).
    assert scenario.epochs_log.read_text().split() == done + [str(resume_at)]
    for log in scenario.restarted.logs:
        assert f"Epoch {resume_at + 1}/{resume_at + 1}" in log.read_text()
        assert "Epoch 1/" not in log.read_text()
    info = json.loads((scenario.run_dir / "metrics.json").read_text())
    assert info["epochs"] == resume_at + 1
    assert info["distribute"] == {"strategy": "multi-worker", "workers": 2, "replicas": 2}
    assert not (scenario.run_dir / "backup").exists()


def test_only_the_chief_writes(scenario):
    run_dir = scenario.run_dir
    # One events file per launch of the chief; the worker's went to its TMPDIR.
    for part in ("train", "validation"):
        assert len(list((run_dir / "logs" / part).glob("events.out.tfevents.*"))) == 2
    assert (run_dir / "final.weights.h5").exists() and (run_dir / "best.weights.h5").exists()
    # The worker wrote to a temporary directory; killed, it left it behind, and its
    # restart removed it, and its own at the end.
    assert scenario.worker_temp_dirs, "the worker wrote no temporary directory"
    assert not list(scenario.restarted.tmp[1].glob("specialnets-worker*"))


def test_two_workers_train_as_one_process(scenario, tiny_data_dir, cache_dir, tmp_path):
    single = tmp_path / "single"
    single.mkdir()
    shutil.copytree(scenario.backup, single / "backup")
    train.train("highway_mnist", "smoke", tiny_data_dir, single, seed=3,
                epochs=scenario.resume_at + 1, cache_dir=cache_dir, verbose=0)
    weights = [train.load_run_model(run).get_weights() for run in (single, scenario.run_dir)]
    # Each worker averages the gradient of its half batch, and the all-reduce sums the two:
    # the whole batch's gradient up to float32 rounding (~1e-7 relative). One step of Adam
    # moves a weight by up to the learning rate (1e-3), so training on other examples, or
    # on half of them, differs by ~1e-4 or more; the measured difference is ~6e-8.
    assert max(float(np.abs(a - b).max()) for a, b in zip(*weights)) < 1e-5
    metrics = [json.loads((run / "metrics.json").read_text())["metrics"]["validation"]
               for run in (single, scenario.run_dir)]
    assert metrics[1] == pytest.approx(metrics[0], rel=1e-5)


def test_mirrored_trains_as_one_device(tiny_data_dir, cache_dir, tmp_path):
    # This machine's devices (one CPU here): the same training as without a strategy.
    infos = [train.train("highway_mnist", "smoke", tiny_data_dir, tmp_path / kind, seed=3,
                         epochs=1, cache_dir=cache_dir, verbose=0, distribute=kind)
             for kind in ("none", "mirrored")]
    assert "distribute" not in infos[0]
    assert infos[1]["distribute"]["strategy"] == "mirrored"
    weights = [train.load_run_model(tmp_path / kind).get_weights() for kind in ("none", "mirrored")]
    assert max(float(np.abs(a - b).max()) for a, b in zip(*weights)) < 1e-5


TF_CONFIGS = [
    (None, "TF_CONFIG environment variable, which is not set"),
    ("{not json", "TF_CONFIG is not valid JSON"),
    ('["worker"]', "TF_CONFIG must be a JSON object"),
    ('{"cluster": {"chief": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     'must map "worker" to a non-empty list'),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}',
     r"has jobs \['ps'\]; multi-worker training takes only"),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}',
     "address 'a' is not \"host:port\""),
    ('{"cluster": {"worker": ["a:1"]}}', "`task` must be"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     r"type 'chief' is not a job of the cluster \(\['worker'\]\)"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     r"index 2 is not a task of job 'worker', which has 2 \(0 to 1\)"),
]


@pytest.mark.parametrize("text, message", TF_CONFIGS)
def test_tf_config_errors_name_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        distribute.tf_config({} if text is None else {"TF_CONFIG": text})


def test_the_chief_is_the_chief_task_else_worker_0():
    workers = {"worker": ["a:1", "b:1"]}
    assert distribute.is_chief(workers, "worker", 0)
    assert not distribute.is_chief(workers, "worker", 1)
    with_chief = {"chief": ["c:1"], **workers}
    assert distribute.is_chief(with_chief, "chief", 0)
    assert not distribute.is_chief(with_chief, "worker", 0)


def test_the_command_reports_a_bad_tf_config(monkeypatch, capsys, tiny_data_dir):
    from specialnets import cli

    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, '
                                    '"task": {"type": "worker", "index": 1}}')
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "highway_mnist", "--preset", "smoke", "--distribute", "multi-worker",
                  "--data-dir", str(tiny_data_dir)])
    assert exit_.value.code == 2
    assert "error: TF_CONFIG `task` index 1 is not a task of job 'worker'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"`distribute` must be one of \['none', 'mirrored'"):
        train.train("highway_mnist", "smoke", tiny_data_dir, distribute="horovod")
