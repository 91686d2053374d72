#!/usr/bin/env bash
# Creates .venv and installs the project into it, again only when pyproject.toml changes.
# Needs Python 3.10-3.12 with pip and venv (set PYTHON to choose one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  # tensorflow-serving-api requires the full `tensorflow` wheel; its protos (PredictionLog
  # for warmup records) and gRPC stubs need only the TensorFlow installed above and grpcio
  # (pinned in pyproject.toml), hence --no-deps.
  .venv/bin/python -m pip install -q --no-deps "tensorflow-serving-api==2.21.0"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
