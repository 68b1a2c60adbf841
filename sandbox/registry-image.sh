#!/usr/bin/env bash
# Builds the registry image (Distribution v3 `registry` + plain busybox, as the official image has)
# and a busybox test image, and imports them into the Docker daemon DOCKER_HOST points at
# when they are missing there.
#   registry-image.sh           build (cached) and import if missing
#   registry-image.sh --tars    build (cached) and print the two image tar paths only
# Fallback when the Go build fails: SANDBOX_REGISTRY_FALLBACK=debian uses Debian's
# docker-registry (Distribution 2.8, dynamically linked) with its libc and loader.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: run sandbox/install-deps.sh (busybox-static)"

build_registry_binary() {
  local dir; dir=$(registry_bin_dir)
  if [ -f "$dir/.complete" ]; then return 0; fi
  command -v go >/dev/null || die "go not found (needed to build the registry)"
  mkdir -p "$dir"
  log "building Distribution registry v$REGISTRY_VERSION into $dir"
  local start; start=$(date +%s)
  (
    cd "$HERE/go/registry"
    CGO_ENABLED=0 GOFLAGS=-mod=readonly sandbox_nice_go build -trimpath \
      -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=v$REGISTRY_VERSION" \
      -o "$dir/registry" github.com/distribution/distribution/v3/cmd/registry
  ) >&2
  "$dir/registry" --version >&2
  touch "$dir/.complete"
  log "registry built in $(( $(date +%s) - start ))s"
}

# The official registry:3 image's default configuration (filesystem storage, :5000).
write_registry_config() {
  cat > "$1" <<'YAML'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
YAML
}

# Adds busybox with the applet links given (relative links, so they work inside the image).
add_busybox() {
  local root=$1; shift
  mkdir -p "$root/bin"
  cp "$BUSYBOX" "$root/bin/busybox"
  local a
  for a in "$@"; do ln -sf busybox "$root/bin/$a"; done
}

# Reproducible tar of a directory: fixed owner, mtime and order.
make_tar() {
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00' \
    -C "$1" -cf "$2" .
}

# Image tars are keyed by the content of what goes into them (this script).
build_key() { sha1sum <"$0" | cut -c1-10; }
registry_tar() { echo "$CACHE_ROOT/images/registry-$REGISTRY_VERSION${FALLBACK_SUFFIX:-}-$(build_key).tar"; }
busybox_tar() { echo "$CACHE_ROOT/images/busybox-$(build_key).tar"; }

build_tars() {
  mkdir -p "$CACHE_ROOT/images"
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  if [ ! -f "$(registry_tar)" ]; then
    local root=$tmp/registry
    mkdir -p "$root/etc/distribution" "$root/var/lib/registry" "$root/tmp"
    chmod 1777 "$root/tmp"
    if [ "${SANDBOX_REGISTRY_FALLBACK:-}" = debian ]; then
      [ -x /usr/bin/docker-registry ] || die "install docker-registry for the fallback"
      cp /usr/bin/docker-registry "$root/bin-registry"
      mkdir -p "$root/bin"; mv "$root/bin-registry" "$root/bin/registry"
      local lib
      for lib in $(ldd /usr/bin/docker-registry | grep -oE '/[^ ]+'); do
        mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
      done
    else
      build_registry_binary
      mkdir -p "$root/bin"
      cp "$(registry_bin_dir)/registry" "$root/bin/registry"
    fi
    write_registry_config "$root/etc/distribution/config.yml"
    # Registry 2.x images read /etc/docker/registry/config.yml: keep that path working too.
    mkdir -p "$root/etc/docker/registry"
    ln -s ../../distribution/config.yml "$root/etc/docker/registry/config.yml"
    # Plain busybox, as in the official image: the health check is plain HTTP on the debug listener.
    add_busybox "$root" sh ls cat wget
    make_tar "$root" "$(registry_tar).part" && mv "$(registry_tar).part" "$(registry_tar)"
  fi
  if [ ! -f "$(busybox_tar)" ]; then
    local root=$tmp/busybox
    mkdir -p "$root/tmp" "$root/etc"
    chmod 1777 "$root/tmp"
    # shellcheck disable=SC2046  # one word per applet
    add_busybox "$root" $("$BUSYBOX" --list | grep -vx busybox)
    echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
    echo 'root:x:0:' > "$root/etc/group"
    make_tar "$root" "$(busybox_tar).part" && mv "$(busybox_tar).part" "$(busybox_tar)"
  fi
}

import_if_missing() {
  local tag=$1 tar=$2; shift 2
  local key; key=$(build_key)
  if [ "$(docker image inspect -f '{{index .Config.Labels "org.private-registry.sandbox.build"}}' "$tag" 2>/dev/null)" = "$key" ]; then
    log "image $tag present"
    return 0
  fi
  local args=(--change "LABEL org.private-registry.sandbox.build=$key") c
  for c in "$@"; do args+=(--change "$c"); done
  docker import "${args[@]}" "$tar" "$tag" >/dev/null
  log "imported $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
}

[ "${SANDBOX_REGISTRY_FALLBACK:-}" = debian ] && FALLBACK_SUFFIX=-debian-2.8
build_tars
if [ "${1:-}" = --tars ]; then
  registry_tar; busybox_tar
  exit 0
fi
import_if_missing "$REGISTRY_IMAGE" "$(registry_tar)" \
  'ENV PATH=/bin' \
  'ENV OTEL_TRACES_EXPORTER=none' \
  'VOLUME ["/var/lib/registry"]' \
  'EXPOSE 5000' \
  'ENTRYPOINT ["/bin/registry","serve","/etc/distribution/config.yml"]'
import_if_missing "$TEST_IMAGE" "$(busybox_tar)" \
  'ENV PATH=/bin' \
  'CMD ["sh"]'
