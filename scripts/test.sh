#!/usr/bin/env bash
# The tests: set up if needed, then pytest. Tests on real data run where
# SPECIALNETS_DATA names a data directory (CI: ../shared/data). Two workers:
# most of a test's time is single-threaded tracing, so 2 cores run two at once
# (a module's tests on one: its fixtures are built once; tests/conftest.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
