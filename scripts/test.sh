#!/usr/bin/env bash
# The project's test command (README "Tests"; .ci/run runs exactly this).
#   lint -> unit and program tests (mocks) -> toolchain -> sandbox -> end-to-end tests -> stop sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh --dev

echo "== lint"
venv/bin/ruff check __main__.py components tests bench examples scripts
venv/bin/ruff format --check __main__.py components tests bench examples scripts
venv/bin/mypy __main__.py components scripts/pr_summary.py scripts/gc_job.py scripts/images.py scripts/status.py
bash scripts/lint-workflows.sh # actionlint and zizmor on .github/workflows (docs/pr-checks.md)

echo "== unit and program tests"
venv/bin/python -m pytest -q -m "not e2e" tests

echo "== toolchain (built once, then reused from ~/.cache/private-registry)"
bash toolchain/build.sh all

echo "== sandbox (dockerd, registry image, Kubernetes API server)"
bash sandbox/install-deps.sh
# What runs before this run (sandbox.sh parts: docker, s3, kms, kube, node) is what must run after it:
# this run starts what is missing and stops exactly that again, whatever the tests' outcome, so a
# dev sandbox of scripts/up.sh (dockerd and the API server, the dev stack's registry in it) is left
# running as it was. Then the machine must be as it was (processes, mounts, links, iptables rules
# and policy, sysctls, directories).
before=$(bash sandbox/sandbox.sh parts)
footprint=$(mktemp)
bash sandbox/node-footprint.sh > "$footprint"
added=()
for part in docker s3 kms kube node; do
  grep -qx "$part" <<<"$before" || added+=("$part")
done
finish() {
  local rc=$?
  if [ ${#added[@]} -gt 0 ]; then
    echo "== stopping what this run added to the sandbox: ${added[*]}"
    bash sandbox/sandbox.sh stop "${added[@]}" || rc=1
  fi
  local after; after=$(bash sandbox/sandbox.sh parts)
  if [ "$after" != "$before" ]; then
    echo "the sandbox runs other parts than before this run: before [$(echo $before)], after [$(echo $after)]" >&2
    rc=1
  fi
  echo "== the sandbox left the machine as it found it"
  bash sandbox/node-footprint.sh compare "$footprint" || rc=1
  rm -f "$footprint"
  exit $rc
}
trap finish EXIT
bash sandbox/sandbox.sh up
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
echo "== mutation sample (bench/mutations.py: one-line mistakes in components/, each followed by the unit and program tests; prints the share caught)"
venv/bin/python bench/mutations.py
