#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run runs exactly this).
#   lint -> unit and program tests (mocks) -> toolchain -> sandbox -> end-to-end tests -> stop sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh

echo "== lint"
venv/bin/ruff check __main__.py components tests bench examples scripts
venv/bin/ruff format --check __main__.py components tests bench examples scripts
venv/bin/mypy __main__.py components scripts/pr_summary.py scripts/gc_job.py scripts/images.py scripts/status.py

echo "== unit and program tests"
venv/bin/python -m pytest -q -m "not e2e" tests

echo "== toolchain (built once, then reused from ~/.cache/private-registry)"
bash toolchain/build.sh all

echo "== sandbox (dockerd, registry image, Kubernetes API server)"
bash sandbox/install-deps.sh
# started: none (it was up), all (this run starts it and stops it again), or node (the dev stack's
# sandbox of scripts/up.sh runs: this run adds the node and the S3 store, and stops the node again).
started=none
footprint=$(mktemp)
if ! bash sandbox/sandbox.sh status >/dev/null 2>&1; then
  started=all
  if bash sandbox/sandbox.sh status 2>/dev/null | grep -q '^dockerd: *up'; then started=node; fi
  bash sandbox/node-footprint.sh > "$footprint"  # the machine before the node starts
  bash sandbox/sandbox.sh up
fi
# Stop what this run started, whatever the tests' outcome; then the machine must be as it was
# (processes, mounts, links, iptables rules and policy, sysctls, directories).
finish() {
  local rc=$?
  case $started in
    all) bash sandbox/sandbox.sh down || rc=1 ;;
    node) bash sandbox/sandbox.sh node down || rc=1 ;;
  esac
  if [ "$started" != none ]; then
    echo "== the sandbox left the machine as it found it"
    bash sandbox/node-footprint.sh compare "$footprint" || rc=1
  fi
  rm -f "$footprint"
  exit $rc
}
trap finish EXIT
eval "$(bash sandbox/sandbox.sh env)"
# The tests' own plugin folder, whatever the user's PULUMI_HOME (their backends are the tests' own too).
export PULUMI_HOME=${PRIVATE_REGISTRY_PULUMI_HOME:-$PWD/.pulumi-home}
# shellcheck source=toolchain/env.sh
. toolchain/env.sh
bash toolchain/install-plugins.sh

bash sandbox/build-conformance.sh >/dev/null # OCI conformance suite binary for tests/e2e/test_conformance.py (cached)
echo "== end-to-end tests (real pulumi, dockerd, kube-apiserver, docker/skopeo/kubectl)"
venv/bin/python -m pytest -q -m e2e -p no:cacheprovider tests/e2e

echo "== benchmarks (bench/: ratios measured side by side while the sandbox is up; a miss prints, a crash fails)"
venv/bin/python bench/run_all.py
