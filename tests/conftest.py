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
