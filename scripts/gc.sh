#!/usr/bin/env bash
# Garbage collection of a stack's registry: frees the blobs no manifest references any more
# (after deletes through the API, which need `deleteEnabled: true`, or overwritten tags).
#   bash scripts/gc.sh [stack] [--delete-untagged] [--dry-run] [--no-lock-check]
#     --delete-untagged  also delete manifests no tag points at (an image pushed by digest only
#                        goes too), then their blobs
#     --dry-run          report what would be freed, change nothing (the registry still stops)
#     --no-lock-check    on a backend whose locks cannot be read here (gs://, azblob://, postgres://),
#                        collect anyway: you make sure no pulumi up runs
# Refuses (exit 1, nothing changed) while a pulumi up, refresh or destroy holds the stack, and holds
# the stack's lock itself meanwhile, so an up started during the collection is refused by the CLI
# (file:// and s3:// backends; Pulumi Cloud: checked only): scripts/stack_lock.py.
# docker and kubectl run with only the environment they read (components/child_env.py): never the
# stack's passphrase, the backend's token or keys.
# Distribution's garbage-collect must not run while the registry accepts writes (an upload that
# lands during the mark phase would lose its blobs), so the container is stopped for the
# collection and started again afterwards; pulls through it are unavailable meanwhile, and the
# script prints for how long. A stack with `pullPort` keeps serving pulls through its read-only
# instance the whole time (it has no cache to go stale, so it needs no restart afterwards). The
# container's restart policy is set to `no` while it runs (a dockerd restart must not bring the
# registry back mid-collection) and restored afterwards, whatever happens.
# Target kubernetes: the read-write Deployment is scaled to 0, a Job made from its own Pod template
# (scripts/gc_job.py: same image, storage, Secrets) collects, and the Deployment is scaled back to
# its replicas (also on failure or Ctrl-C). With `pullPort` the read-only Deployment serves pulls
# throughout. Uses kubectl with the stack's `kubernetes.context` (else the current context).
# Uses DOCKER_HOST as `pulumi up` does; PROJECT_DIR (default: this repository) holds the stack.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=dev
gc_args=()
lock_check=1
for arg in "$@"; do
  case $arg in
    --delete-untagged) gc_args+=(--delete-untagged) ;;
    --dry-run) gc_args+=(--dry-run) ;;
    --no-lock-check) lock_check=0 ;;
    -*) echo "usage: $0 [stack] [--delete-untagged] [--dry-run] [--no-lock-check]" >&2; exit 2 ;;
    *) stack=$arg ;;
  esac
done
log() { echo "gc: $*" >&2; }
die() { echo "gc: ERROR: $*" >&2; exit 1; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

# shellcheck source=scripts/pulumi-env.sh
. "$repo/scripts/pulumi-env.sh"
project=${PROJECT_DIR:-$repo}
output() { pulumi stack output "$1" --stack "$stack" --cwd "$project" --non-interactive; }
target=$(output target 2>/dev/null) || target=docker  # stacks from before 2026-12 have no target output

# The stack's lock, before anything changes (scripts/stack_lock.py); released when gc.sh ends.
python=python3
[ -x "$repo/venv/bin/python" ] && python=$repo/venv/bin/python  # boto3 for an s3:// backend
lock_key="" backend=""
release_lock() { [ -z "$lock_key" ] || "$python" "$repo/scripts/stack_lock.py" release "$backend" "$lock_key" || log "WARNING: could not remove gc's lock $lock_key: pulumi cancel --stack $stack"; }
if [ "$lock_check" = 1 ]; then
  backend=$(cd "$project" && pulumi whoami --json --non-interactive | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])') ||
    die "could not tell the backend of stack '$stack' (pulumi whoami)"
  stacks=""
  case $backend in http://* | https://*) stacks=$(pulumi stack ls --json --cwd "$project" --non-interactive) ;; esac
  set +e
  lock_key=$("$python" "$repo/scripts/stack_lock.py" take "$backend" "$project" "$stack" <<<"$stacks")
  taken=$?
  set -e
  case $taken in
    0) trap release_lock EXIT ;;
    3) exit 1 ;;  # held: stack_lock.py said by whom
    *) die "could not tell whether a pulumi operation holds stack '$stack'; nothing was changed (--no-lock-check collects anyway, when you know none runs)" ;;
  esac
fi

# From here on docker and kubectl get only what they read (components/child_env.py).
only_for() {
  local names
  names=$(python3 "$repo/components/child_env.py" drop "$1") || die "could not make the environment for $1"
  (
    for name in $names; do unset "$name" 2>/dev/null || :; done
    exec "${@:2}"
  )
}
docker() { only_for docker docker "$@"; }
kubectl() { only_for kubectl kubectl "$@"; }

if [ "$target" = kubernetes ]; then
  # shellcheck source=scripts/gc-kubernetes.sh
  . "$repo/scripts/gc-kubernetes.sh"
  exit 0
fi
container=$(output containerName) || die "no outputs for stack '$stack': run pulumi up first"
volume=$(output dataVolume)
pull_container=$(output pullContainerName 2>/dev/null) || pull_container=""

info=$(docker inspect -f '{{.Image}} {{.HostConfig.RestartPolicy.Name}} {{.State.Status}} {{.HostConfig.Memory}} {{.Config.User}}' "$container" 2>/dev/null) ||
  die "container $container (stack $stack) not found on ${DOCKER_HOST:-the local Docker daemon}: run pulumi up"
read -r image restart status memory user <<<"$info"
[ "$status" = running ] || die "container $container is $status, not running: run pulumi up --refresh first"

# The registry's own image runs the collection: its busybox, its registry binary, its config file;
# locked down as the registry itself (components/registry.py) and more: the registry's user (1000),
# a read-only root file system, no capabilities, no privilege gained through exec, the registry's
# memory limit, no network at all (the data volume is all it reads).
lockdown=(--network none --read-only --tmpfs /tmp:rw,noexec,nosuid,size=64m
  --cap-drop ALL --security-opt no-new-privileges:true --pids-limit 256)
[ -n "${user:-}" ] && lockdown+=(--user "$user")  # a registry container of an older version runs as the image's user
[ "${memory:-0}" -gt 0 ] && lockdown+=(--memory "$memory" --memory-swap "$memory")
in_image() { docker run --rm "${lockdown[@]}" -v "$volume:/var/lib/registry" --entrypoint /bin/busybox "$image" "$@"; }
used_kb() { in_image du -sk /var/lib/registry | cut -f1; }

restore() {
  docker update --restart "$restart" "$container" >/dev/null || log "WARNING: could not restore the restart policy ($restart)"
  docker start "$container" >/dev/null || log "WARNING: could not start $container: run pulumi up --refresh"
}

t_stop=$(now)
docker update --restart no "$container" >/dev/null
trap 'restore; release_lock' EXIT
docker stop "$container" >/dev/null
t_stopped=$(now)
before=$(used_kb)
log "collecting on volume $volume with $image${gc_args[*]:+ (${gc_args[*]})}"
t_gc=$(now)
# A registry nothing was ever pushed to has no repositories folder, and garbage-collect fails on it.
in_image sh -c 'c=/etc/distribution/config.yml; [ -f "$c" ] || c=/etc/docker/registry/config.yml
  [ -d /var/lib/registry/docker/registry/v2/repositories ] || { echo "nothing to collect: no repository yet"; exit 0; }
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry OTEL_TRACES_EXPORTER=none exec registry garbage-collect "$@" "$c"' \
  gc "${gc_args[@]}" | tail -n 5 >&2
t_gc_done=$(now)
case " ${gc_args[*]:-} " in
  *" --dry-run "*) ;;
  *) # for scripts/status.sh; renamed into place: a file an earlier collection wrote as root is replaced
    in_image sh -c 'f=/var/lib/registry/.private-registry-last-gc; date -u +%Y-%m-%dT%H:%M:%SZ > "$f.next" && mv -f "$f.next" "$f"' ;;
esac
after=$(used_kb)
trap release_lock EXIT
restore

# Unavailable until the health check passes again (it includes the storage driver's health).
health=starting
for _ in $(seq 600); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$container" 2>/dev/null || echo unknown)
  [ "$health" = healthy ] && break
  sleep 0.2
done
t_healthy=$(now)
[ "$health" = healthy ] || die "$container did not turn healthy after the collection ($health)"
echo "gc: freed $(((before - after) / 1024)) MiB (data ${before} KiB -> ${after} KiB)"
echo "gc: collection $(secs "$t_gc" "$t_gc_done") s; registry unavailable $(secs "$t_stop" "$t_healthy") s (stop $(secs "$t_stop" "$t_stopped") s, until healthy again)"
if [ -n "$pull_container" ]; then
  pull_health=$(docker inspect -f '{{.State.Health.Status}}' "$pull_container" 2>/dev/null || echo missing)
  echo "gc: pulls through the read-only instance $pull_container went on during the collection (now $pull_health)"
fi
