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
    demand into one base, each once per test session; `outputs[name]` are
    the export's outputs on `inputs[name]` (the entry's example inputs), from
    that check."""

    def __init__(self, base):
        self.base, self.inputs, self.outputs = base, {}, {}

    def get(self, name):
        self.prefetch([name])
        return self.base / name / "1"

    def prefetch(self, names):
        """Exports those of `names` not yet exported, verified together in one fresh process."""
        import zoo
        from exports import export, verify

        names = [n for n in names if n not in self.outputs]
        for name in names:
            self.inputs[name] = zoo.get(name).example_inputs()

        def check(staged):
            results = verify.run_isolated_many([(path, n, self.inputs[n]) for path, n in staged])
            for (_, n), (_, outputs) in zip(staged, results):
                self.outputs[n] = outputs

        export.export_many(names, base=self.base, check_many=check)


@pytest.fixture(scope="session")
def zoo_exports(tmp_path_factory):
    return ZooExports(tmp_path_factory.mktemp("zoo_exports"))


def pytest_collection_modifyitems(items):
    """Groups for `pytest -n 2 --dist loadgroup` (scripts/test.sh): the tests
    of a module stay on one worker (its module fixtures are built once), and
    so do the tests that export the whole pretrained zoo (marked `whole_zoo`:
    each worker's `zoo_exports` exports a model once, so these share one).
    Other tests of pretrained exports export only their models, on either
    worker."""
    for item in items:
        whole_zoo = "zoo_exports" in item.fixturenames and item.get_closest_marker("whole_zoo")
        item.add_marker(pytest.mark.xdist_group("whole_zoo" if whole_zoo else item.nodeid.split("::")[0]))
