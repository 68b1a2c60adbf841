#!/usr/bin/env bash
# How a stack's registry is doing: health of each instance (containers, or Pods), the endpoint's
# answer, certificate expiry (attention inside the early-renewal window), storage used, repositories
# and tags, the last garbage collection, the nodes' trust DaemonSet. Exit 1 when something needs
# attention (2 when the stack has no outputs). No secret is printed: the stack's passwords are read
# with its outputs and used in memory to ask the registry.
#   bash scripts/status.sh [stack] [--json] [--html FILE]
# Uses DOCKER_HOST as `pulumi up` does (target docker) and kubectl with the stack's
# `kubernetes.context` (target kubernetes, node trust); PROJECT_DIR (default: this repository).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=dev
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --json) extra+=(--json) ;;
    --html) [ $# -ge 2 ] || { echo "usage: $0 [stack] [--json] [--html FILE]" >&2; exit 2; }; extra+=(--html "$(realpath -m "$2")"); shift ;;
    -*) echo "usage: $0 [stack] [--json] [--html FILE]" >&2; exit 2 ;;
    *) stack=$1 ;;
  esac
  shift
done
python=$repo/venv/bin/python
[ -x "$python" ] || { bash "$repo/scripts/setup-python.sh" >&2 || exit 1; }
# shellcheck source=scripts/pulumi-env.sh
. "$repo/scripts/pulumi-env.sh"
project=${PROJECT_DIR:-$repo}
config() { pulumi config get "$1" --stack "$stack" --cwd "$project" 2>/dev/null || true; }
outputs=$(pulumi stack output --json --show-secrets --stack "$stack" --cwd "$project" --non-interactive) ||
  { echo "status.sh: could not read the outputs of stack '$stack'" >&2; exit 2; }
renewal=$(config earlyRenewalDays)
context=$(python3 -c 'import json,sys; k=json.loads(sys.argv[1] or "{}"); print(k.get("context","") if k.get("mode","cluster")=="cluster" else "")' "$(config kubernetes)")
"$python" "$repo/scripts/status.py" --stack "$stack" ${renewal:+--early-renewal-days "$renewal"} ${context:+--context "$context"} \
  "${extra[@]}" <<<"$outputs"
