#!/usr/bin/env bash
# PR check: a plain `pulumi preview` of a stack, summarized in Markdown for a pull-request comment
# (scripts/pr_summary.py: what changes per role and rollout, why, what users and clusters notice,
# the program's warnings, the CLI's full `--diff` collapsed).
#   bash scripts/pr-check.sh [stack] [--output FILE] [--keep DIR]   (default stack: dev; summary on stdout)
# --keep DIR keeps the preview's JSON, diff and stderr there (for a bug report or a test fixture).
# Exit code: 0 the plan changes nothing, 2 it changes something, 1 the preview failed (the summary
# says why). The stack's backend and secrets provider are the user's (scripts/pulumi-env.sh). With
# `kubernetes.mode: cluster` the kubeconfig's identity needs get, list and patch on every kind the
# stack applies (server-side apply previews are dry-run patches): scripts/kube_access.py asks the
# API server first and names what is missing (docs/pr-checks.md). PROJECT_DIR points at a project
# elsewhere (default: this checkout). No secret reaches the summary or this script's output: the
# previews run without --show-secrets (the CLI masks secrets in its diff) and the summary takes
# operations, resource and user names and changed input keys, never values.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
project=${PROJECT_DIR:-$repo}
stack=dev output= keep=
while [ $# -gt 0 ]; do
  case $1 in
    --output) output=${2:?--output needs a file}; shift 2 ;;
    --keep) keep=${2:?--keep needs a folder}; shift 2 ;;
    -*) echo "usage: $0 [stack] [--output FILE] [--keep DIR]" >&2; exit 1 ;;
    *) stack=$1; shift ;;
  esac
done
# shellcheck source=scripts/pulumi-env.sh
. "$repo/scripts/pulumi-env.sh" || exit 1
python=$repo/venv/bin/python
[ -x "$python" ] || { bash "$repo/scripts/setup-python.sh" >&2 || exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
summarize() { "$python" "$repo/scripts/pr_summary.py" --stack "$stack" --preview "$work/preview.json" --errors "$work/errors.txt" "$@" >"$work/summary.md"; }
finish() {
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$work"/*.json "$work"/*.txt "$keep/" 2>/dev/null; fi
  if [ -n "$output" ]; then cp "$work/summary.md" "$output"; else cat "$work/summary.md"; fi
  exit "$1"
}
: >"$work/preview.json"

# First, before the preview: may the kubeconfig do what the preview's server-side apply needs?
# (`pulumi config --json` leaves secret values out.)
pulumi config --json --stack "$stack" --cwd "$project" >"$work/config.json" 2>"$work/errors.txt" || {
  summarize --failed; finish 1
}
if ! "$python" "$repo/scripts/kube_access.py" --stack "$stack" --config "$work/config.json" >"$work/access.txt" 2>&1; then
  cat "$work/access.txt" >&2
  cp "$work/access.txt" "$work/errors.txt"
  summarize --failed; finish 1
fi
cat "$work/access.txt" >&2

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
# The reviewer's full view: the CLI's own diff (secrets masked as [secret]), without colours.
pulumi preview --diff --color never --stack "$stack" --cwd "$project" --non-interactive >"$work/diff.txt" 2>&1 || true
summarize "${failed[@]}" --diff "$work/diff.txt" --deployed-users "$deployed" --planned-users "$(IFS=,; echo "${planned[*]}")"
finish $?
