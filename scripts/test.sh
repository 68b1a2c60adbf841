#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run runs exactly this).
#   lint -> unit and program tests (mocks) -> toolchain -> sandbox -> end-to-end tests -> stop sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh

echo "== lint"
venv/bin/ruff check __main__.py components tests bench
venv/bin/ruff format --check __main__.py components tests bench

echo "== unit and program tests"
venv/bin/python -m pytest -q -m "not e2e" tests
