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
        import zoo
        from exports import export, verify

        if name not in self.outputs:
            examples = self.inputs[name] = zoo.get(name).example_inputs()

            def check(path, name):
                self.outputs[name] = verify.run_isolated(path, name, inputs=examples)[1]

            export.export(name, base=self.base, check=check)
        return self.base / name / "1"


@pytest.fixture(scope="session")
def zoo_exports(tmp_path_factory):
    return ZooExports(tmp_path_factory.mktemp("zoo_exports"))


def pytest_collection_modifyitems(items):
    """Groups for `pytest -n 2 --dist loadgroup` (scripts/test.sh): the tests
    of a module stay on one worker (its module fixtures are built once), and
    so do all tests of the pretrained exports (built once a session)."""
    for item in items:
        group = "zoo_exports" if "zoo_exports" in item.fixturenames else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
