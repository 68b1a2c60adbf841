#!/usr/bin/env bash
# Garbage collection of a stack's registry: frees the blobs no manifest references any more
# (after deletes through the API, which need `deleteEnabled: true`, or overwritten tags).
#   bash scripts/gc.sh [stack] [--delete-untagged] [--dry-run]
#     --delete-untagged  also delete manifests no tag points at (an image pushed by digest only
#                        goes too), then their blobs
#     --dry-run          report what would be freed, change nothing (the registry still stops)
# Distribution's garbage-collect must not run while the registry accepts writes (an upload that
# lands during the mark phase would lose its blobs). So the container is stopped, and while the
# collector runs a read-only twin of it (same image, configuration, files, volume and port, with
# `storage.maintenance.readonly` on) serves pulls; pushes are refused (405) meanwhile. Pulls are
# unavailable only while the two switch over; the script prints both durations. The container's
# restart policy is `no` until it is back (a dockerd restart must not start it mid-collection);
# whatever happens, the twin is removed and the container started again with its policy restored.
# Uses DOCKER_HOST as `pulumi up` does; PROJECT_DIR (default: this repository) holds the stack.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=dev
gc_args=()
for arg in "$@"; do
  case $arg in
    --delete-untagged) gc_args+=(--delete-untagged) ;;
    --dry-run) gc_args+=(--dry-run) ;;
    -*) echo "usage: $0 [stack] [--delete-untagged] [--dry-run]" >&2; exit 2 ;;
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
container=$(output containerName) || die "no outputs for stack '$stack': run pulumi up first"
volume=$(output dataVolume)

info=$(docker inspect -f '{{.Image}} {{.HostConfig.RestartPolicy.Name}} {{.State.Status}}' "$container" 2>/dev/null) ||
  die "container $container (stack $stack) not found on ${DOCKER_HOST:-the local Docker daemon}: run pulumi up"
read -r image restart status <<<"$info"
[ "$status" = running ] || die "container $container is $status, not running: run pulumi up --refresh first"

# The registry's own image runs the collection: its busybox, its registry binary, its config file.
in_image() { docker run --rm --network none -v "$volume:/var/lib/registry" --entrypoint /bin/busybox "$image" "$@"; }
used_kb() { in_image du -sk /var/lib/registry | cut -f1; }

# The read-only twin: created (not started) beside the running registry, with its environment
# (the HTTP secret among it) passed through a pipe, never a file, and its files (certificate, key,
# htpasswd) copied container to container.
twin=$container-gc-readonly
twin_label=io.private-registry.gc-readonly-twin-of
remove_twin() {
  if [ "$(docker inspect -f "{{index .Config.Labels \"$twin_label\"}}" "$twin" 2>/dev/null)" = "$container" ]; then
    docker rm -f "$twin" >/dev/null
  fi
}
remove_twin  # a leftover of an interrupted run
docker inspect "$twin" >/dev/null 2>&1 && die "a container named $twin exists and is not our read-only twin: remove it"
binding=$(docker inspect -f '{{range $p, $b := .HostConfig.PortBindings}}{{(index $b 0).HostIp}} {{(index $b 0).HostPort}}{{end}}' "$container")
read -r host_ip host_port <<<"$binding"
[ -n "$host_port" ] || die "container $container publishes no port"
docker create --name "$twin" --label "$twin_label=$container" -p "${host_ip:+$host_ip:}$host_port:5000" \
  -v "$volume:/var/lib/registry" \
  --env-file <(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$container") \
  -e 'REGISTRY_STORAGE_MAINTENANCE_READONLY={"enabled": true}' "$image" >/dev/null
docker cp "$container:/etc/distribution" - | docker cp - "$twin:/etc"
twin_ready() { docker exec "$twin" wget -q -O /dev/null http://127.0.0.1:5001/debug/health 2>/dev/null; }

restore() {
  remove_twin
  docker update --restart "$restart" "$container" >/dev/null || log "WARNING: could not restore the restart policy ($restart)"
  docker start "$container" >/dev/null || log "WARNING: could not start $container: run pulumi up --refresh"
}

t_stop=$(now)
docker update --restart no "$container" >/dev/null
trap restore EXIT
docker stop "$container" >/dev/null
docker start "$twin" >/dev/null
for _ in $(seq 300); do twin_ready && break; sleep 0.1; done
twin_ready || die "the read-only twin $twin did not come up"
t_twin=$(now)
before=$(used_kb)
log "collecting on volume $volume with $image${gc_args[*]:+ (${gc_args[*]})}; pulls served read-only meanwhile"
t_gc=$(now)
# shellcheck disable=SC2016  # expanded by the sh inside the image
in_image sh -c 'c=/etc/distribution/config.yml; [ -f "$c" ] || c=/etc/docker/registry/config.yml
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry OTEL_TRACES_EXPORTER=none exec registry garbage-collect "$@" "$c"' \
  gc "${gc_args[@]}" | tail -n 5 >&2
t_gc_done=$(now)
after=$(used_kb)
t_back=$(now)
trap - EXIT
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
unavailable=$(awk -v a="$(secs "$t_stop" "$t_twin")" -v b="$(secs "$t_back" "$t_healthy")" 'BEGIN { printf "%.1f", a + b }')
echo "gc: collection $(secs "$t_gc" "$t_gc_done") s; read-only $(secs "$t_twin" "$t_back") s; registry unavailable $unavailable s (switching to the read-only twin $(secs "$t_stop" "$t_twin") s, back until healthy $(secs "$t_back" "$t_healthy") s)"
