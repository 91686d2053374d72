#!/usr/bin/env bash
# The tests: set up if needed, then pytest. Tests on real data run where
# SPECIALNETS_DATA names a data directory (CI: ../shared/data).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
