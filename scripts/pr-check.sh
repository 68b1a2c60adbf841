#!/usr/bin/env bash
# PR check: a plain `pulumi preview` of a stack, summarized in Markdown for a pull-request comment
# (what will be created, updated, replaced or deleted, and in plain words what users will notice).
#   bash scripts/pr-check.sh [stack] [--output FILE]     (default stack: dev; summary on stdout)
# Exit code: 0 the plan changes nothing, 2 it changes something, 1 the preview failed (the summary
# says why). The stack's backend and secrets provider are the user's (PULUMI_BACKEND_URL or `pulumi
# login`, PULUMI_CONFIG_PASSPHRASE or a KMS provider: scripts/pulumi-env.sh); with
# `kubernetes.mode: cluster` the kubeconfig needs read access to the named context, with `render`
# none. PROJECT_DIR points at a project elsewhere (default: this checkout). No secret reaches the
# summary, the preview's output or this script's output: the preview runs without --show-secrets
# and only user names, operations and resource names are summarized.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
project=${PROJECT_DIR:-$repo}
stack=dev output=
while [ $# -gt 0 ]; do
  case $1 in
    --output) output=${2:?--output needs a file}; shift 2 ;;
    -*) echo "usage: $0 [stack] [--output FILE]" >&2; exit 1 ;;
    *) stack=$1; shift ;;
  esac
done
# shellcheck source=scripts/pulumi-env.sh
. "$repo/scripts/pulumi-env.sh" || exit 1
python=$repo/venv/bin/python
[ -x "$python" ] || { bash "$repo/scripts/setup-python.sh" >&2 || exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# User names only, one index at a time (`pulumi config get --json` of the whole list would print
# the passwords in it); an unset list is the default user.
planned=() i=0
while name=$(pulumi config get --path "private-registry:users[$i].name" --stack "$stack" --cwd "$project" 2>/dev/null); do
  planned+=("$name"); i=$((i + 1))
done
[ ${#planned[@]} -gt 0 ] || planned=(admin)
deployed=$(pulumi stack output usernames --json --stack "$stack" --cwd "$project" 2>/dev/null |
  "$python" -c 'import json,sys; print(",".join(json.load(sys.stdin)))' 2>/dev/null || true)

failed=()
pulumi preview --json --stack "$stack" --cwd "$project" --non-interactive >"$work/preview.json" 2>"$work/errors.txt" ||
  failed=(--failed)
"$python" "$repo/scripts/pr_summary.py" --stack "$stack" --preview "$work/preview.json" --errors "$work/errors.txt" \
  "${failed[@]}" --deployed-users "$deployed" --planned-users "$(IFS=,; echo "${planned[*]}")" >"$work/summary.md"
rc=$?
if [ -n "$output" ]; then cp "$work/summary.md" "$output"; else cat "$work/summary.md"; fi
exit $rc
