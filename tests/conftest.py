import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def data_dir():
    """The real data directory of $SPECIALNETS_DATA; tests needing it skip without it."""
    path = os.environ.get("SPECIALNETS_DATA")
    if not path:
        pytest.skip("SPECIALNETS_DATA is not set (CI sets it to ../shared/data)")
    return Path(path)


@pytest.fixture(scope="session")
def tiny_data_dir():
    """1,100 MNIST digits committed under tests/fixtures (1,000 go to validation)."""
    return FIXTURES


class ZooExports:
    """Pretrained zoo models exported (and verified without project code) on
    demand, each once per test session; `get(name)` is its export,
    `outputs[name]` the export's outputs on `inputs[name]` (the entry's
    example inputs), from that check.

    The xdist workers of a session share `base`: the first worker to ask
    for a model claims it (a file under `.claims/`), exports it there and
    leaves its outputs under `.outputs/`; a worker that later asks reuses
    them. One that asks while another is still exporting it exports its own
    copy under `private`, rather than wait idle."""

    def __init__(self, base, private):
        self.base, self.private = base, private
        self.inputs, self.outputs, self.paths = {}, {}, {}
        for folder in (".claims", ".outputs"):
            (base / folder).mkdir(parents=True, exist_ok=True)

    def get(self, name):
        self.prefetch([name])
        return self.paths[name]

    def _claim(self, name):
        try:
            os.close(os.open(self.base / ".claims" / name, os.O_CREAT | os.O_EXCL))
            return True
        except FileExistsError:
            return False

    def _done(self, name):
        return self.base / ".outputs" / f"{name}.npz"

    def prefetch(self, names):
        """Exports those of `names` not yet exported, verified together in one fresh process."""
        import numpy as np

        import zoo
        from exports import export, verify

        names = [n for n in dict.fromkeys(names) if n not in self.outputs]
        for name in names:
            self.inputs[name] = zoo.get(name).example_inputs()
        for name in [n for n in names if self._done(n).exists()]:  # another worker's
            with np.load(self._done(name)) as data:
                self.outputs[name] = {k: data[k] for k in data.files}
            self.paths[name] = self.base / name / "1"
        todo = [n for n in names if n not in self.outputs]
        shared = [n for n in todo if self._claim(n)]

        def check(staged):
            results = verify.run_isolated_many([(path, n, self.inputs[n]) for path, n in staged])
            for (_, n), (_, outputs) in zip(staged, results):
                self.outputs[n] = outputs

        for base, batch in ((self.base, shared), (self.private, [n for n in todo if n not in shared])):
            for name, path in zip(batch, export.export_many(batch, base=base, check_many=check)):
                self.paths[name] = path
                if base == self.base:  # written whole, then renamed: a reader never sees a part
                    tmp = self._done(name).with_suffix(f".{os.getpid()}.tmp.npz")
                    np.savez(tmp, **self.outputs[name])
                    os.replace(tmp, self._done(name))


@pytest.fixture(scope="session")
def zoo_exports(tmp_path_factory, worker_id):
    # The workers' base temporary directories share a parent, unique to the session.
    shared = (tmp_path_factory.getbasetemp().parent / "zoo_exports" if worker_id != "master"
              else tmp_path_factory.mktemp("zoo_exports"))
    return ZooExports(shared, tmp_path_factory.mktemp("zoo_exports_private"))


def pytest_collection_modifyitems(items):
    """`pytest -n 2 --dist loadfile` (scripts/test.sh) runs a module's tests
    on one worker (its fixtures are built once). The whole zoo's module, the
    longest, starts first, so that the other worker takes the rest meanwhile."""
    items.sort(key=lambda item: item.path.name != "test_whole_zoo.py")  # stable: order kept otherwise
