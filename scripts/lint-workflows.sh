#!/usr/bin/env bash
# Lint the GitHub workflows (.github/workflows/*.yml) with actionlint and zizmor; fails on any finding.
#   bash scripts/lint-workflows.sh
# actionlint: built once from the Go module proxy into ~/.cache/private-registry/tools/actionlint-<version>
# (keyed by version, so a new pin builds anew). zizmor: the venv's, pinned in requirements-dev.txt. zizmor runs
# at its default persona; offline (no GitHub API here) unless GH_TOKEN is set, when its online audits
# (impostor commits, known-vulnerable actions) run too. A false positive is suppressed inline in the
# workflow (`# zizmor: ignore[<audit>]`) with the reason beside it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ACTIONLINT_VERSION=1.7.12
tools=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/tools
actionlint=$tools/actionlint-$ACTIONLINT_VERSION/actionlint
if [ ! -x "$actionlint" ]; then
  command -v go >/dev/null || { echo "lint-workflows.sh: go is needed once to build actionlint $ACTIONLINT_VERSION" >&2; exit 1; }
  echo "lint-workflows.sh: building actionlint $ACTIONLINT_VERSION (once)" >&2
  mkdir -p "${actionlint%/*}"
  GOBIN=${actionlint%/*} GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" >&2
fi
zizmor=$repo/venv/bin/zizmor
[ -x "$zizmor" ] || bash "$repo/scripts/setup-python.sh" --dev >&2
cd "$repo"
workflows=(.github/workflows/*.yml)
rc=0
"$actionlint" -no-color "${workflows[@]}" || rc=1
online=(--offline)
[ -z "${GH_TOKEN:-}" ] || online=()
"$zizmor" --no-progress "${online[@]}" "${workflows[@]}" || rc=1
[ $rc = 0 ] && echo "workflows: actionlint $ACTIONLINT_VERSION and $("$zizmor" --version) found nothing in ${#workflows[@]} file(s)"
exit $rc
