#!/usr/bin/env bash
# The main job: set up if needed, export every pretrained zoo model to runs/exports/,
# serve them, send each an example request over REST, print a table, stop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/specialnets demo "$@"
