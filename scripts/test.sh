#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run runs exactly this).
#   lint -> unit and program tests (mocks) -> toolchain -> sandbox -> end-to-end tests -> stop sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh

echo "== lint"
venv/bin/ruff check __main__.py components tests bench examples
venv/bin/ruff format --check __main__.py components tests bench examples
venv/bin/mypy __main__.py components

echo "== unit and program tests"
venv/bin/python -m pytest -q -m "not e2e" tests

echo "== toolchain (built once, then reused from ~/.cache/private-registry)"
bash toolchain/build.sh all

echo "== sandbox (dockerd, registry image, Kubernetes API server)"
bash sandbox/install-deps.sh
started_sandbox=0
if ! bash sandbox/sandbox.sh status >/dev/null 2>&1; then
  bash sandbox/sandbox.sh up
  started_sandbox=1
fi
# Stop the sandbox again if this run started it, whatever the tests' outcome.
trap '[ "$started_sandbox" = 1 ] && bash sandbox/sandbox.sh down' EXIT
eval "$(bash sandbox/sandbox.sh env)"
# shellcheck source=toolchain/env.sh
. toolchain/env.sh
bash toolchain/install-plugins.sh

bash sandbox/build-conformance.sh >/dev/null # OCI conformance suite binary for tests/e2e/test_conformance.py (cached)
echo "== end-to-end tests (real pulumi, dockerd, kube-apiserver, docker/skopeo/kubectl)"
venv/bin/python -m pytest -q -m e2e -p no:cacheprovider tests/e2e
