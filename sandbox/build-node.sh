#!/usr/bin/env bash
# Builds the sandbox node's own binaries into the cache outside the repository:
#   build-node.sh containerd   containerd, containerd-shim-runc-v2, ctr v$CONTAINERD_VERSION from
#                              the Go module proxy (wrapper module go/containerd); prints the dir
#   build-node.sh pause        the pod sandbox image: a static Go program of our own (go/pause) in
#                              an OCI image layout tar; prints the tar path
#   build-node.sh test-image   the node's own busybox image (OCI layout tar); prints the tar path
#   build-node.sh registry-image  the registry image under the name the program uses
#                              (docker.io/library/registry:$REGISTRY_VERSION, OCI layout tar); prints the tar path
#   build-node.sh kube         kubelet + kube-scheduler (build-kube.sh node); prints the dir
# Cached by version and the contents of the inputs (never their paths): a second run is instant.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

build_containerd() {
  local out; out=$(containerd_bin_dir)
  if [ -f "$out/.complete" ]; then echo "$out"; return 0; fi
  command -v go >/dev/null || die "go not found (needed to build containerd)"
  mkdir -p "$out"
  log "building containerd v$CONTAINERD_VERSION into $out"
  local start pkg=github.com/containerd/containerd/v2
  start=$(date +%s)
  (
    cd "$HERE/go/containerd"
    # CGO off: static binaries; the btrfs snapshotter (cgo only) is left out, overlayfs is used.
    export CGO_ENABLED=0 GOFLAGS=-mod=readonly
    sandbox_nice_go build -trimpath \
      -ldflags "-s -w -X $pkg/version.Version=v$CONTAINERD_VERSION -X $pkg/version.Package=$pkg" \
      -o "$out/" $pkg/cmd/containerd $pkg/cmd/containerd-shim-runc-v2 $pkg/cmd/ctr
  ) >&2
  "$out/containerd" --version >&2
  touch "$out/.complete"
  log "containerd built in $(( $(date +%s) - start ))s"
  echo "$out"
}

# sha256 digest and size of file $1 as "sha256:<hex> <size>"
digest_size() { echo "sha256:$(sha256sum < "$1" | cut -d' ' -f1) $(stat -c %s "$1")"; }

# An OCI image layout tar $4 named docker.io/$3, of one uncompressed layer $1 and the image
# config $2 (JSON of the "config" object), for `ctr images import`.
oci_image_tar() {
  local layer=$1 config=$2 name=$3 out=$4 dir f blob ld ls cd cs md ms
  dir=$(mktemp -d)
  mkdir -p "$dir/oci/blobs/sha256"
  cp "$layer" "$dir/layer.tar"
  read -r ld ls < <(digest_size "$dir/layer.tar")
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$config" "$ld" > "$dir/config.json"
  read -r cd cs < <(digest_size "$dir/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$cd" "$cs" "$ld" "$ls" > "$dir/manifest.json"
  read -r md ms < <(digest_size "$dir/manifest.json")
  for f in layer.tar config.json manifest.json; do
    blob=$(sha256sum < "$dir/$f" | cut -d' ' -f1)
    mv "$dir/$f" "$dir/oci/blobs/sha256/$blob"
  done
  echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"docker.io/%s"}}]}' \
    "$md" "$ms" "$name" > "$dir/oci/index.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00' \
    -C "$dir/oci" -cf "$out.part" . && mv "$out.part" "$out"
  rm -rf "$dir"
  log "image $name built: $out ($(stat -c %s "$out") bytes)"
}

build_pause() {
  local key tar
  key=$(inputs_key "$HERE/go/pause/go.mod" "$HERE/go/pause/main.go" "$0")
  tar=$CACHE_ROOT/images/pause-$key.oci.tar
  if [ -f "$tar" ]; then echo "$tar"; return 0; fi
  command -v go >/dev/null || die "go not found (needed to build the pause program)"
  mkdir -p "$CACHE_ROOT/images"
  local tmp; tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: the trap runs after $tmp is out of scope
  trap "rm -rf '$tmp'" RETURN
  mkdir -p "$tmp/root"
  (cd "$HERE/go/pause" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" -o "$tmp/root/pause" .) >&2
  tar --sort=name --owner=65535 --group=65535 --numeric-owner --mtime='2024-01-01 00:00:00' \
    -C "$tmp/root" -cf "$tmp/layer.tar" pause
  oci_image_tar "$tmp/layer.tar" '{"Entrypoint":["/pause"],"User":"65535:65535"}' "$PAUSE_IMAGE" "$tar"
  echo "$tar"
}

# An image of one of registry-image.sh's root filesystems ($1: 1 the registry, 2 busybox) for the
# node's containerd, named docker.io/$3, with image config $4 (JSON, "Labels" added), cached as
# images/$2-<key>.oci.tar; prints the tar path. The label gives it an image ID of its own, apart
# from the Docker image tests push to registries: kubelet 1.36 re-checks pull credentials for an
# image ID it once pulled from a registry, even when the Pod names a local image, and that check
# would try to pull docker.io/<name> (KubeletEnsureSecretPulledImages).
node_local_image() {
  local rootfs key tar
  rootfs=$("$HERE/registry-image.sh" --tars | sed -n "$1p")  # sed reads all: no SIGPIPE under pipefail
  key=$(inputs_key "$rootfs" "$0")
  tar=$CACHE_ROOT/images/$2-$key.oci.tar
  if [ -f "$tar" ]; then echo "$tar"; return 0; fi
  oci_image_tar "$rootfs" "${4%\}},\"Labels\":{\"org.private-registry.sandbox.node-local\":\"true\"}}" "$3" "$tar"
  echo "$tar"
}

# The node's own copy of the test image (busybox), imported into its containerd without a pull.
build_test_image() {
  node_local_image 2 node-test-image "$NODE_TEST_IMAGE" '{"Env":["PATH=/bin"],"Cmd":["sh"]}'
}

# The sandbox's registry image (Distribution v$REGISTRY_VERSION + busybox, same root filesystem and
# settings as the Docker image) named as the program names it (registry:$REGISTRY_VERSION), so
# Pods of the registry Deployment start with imagePullPolicy IfNotPresent and no pull.
build_registry_image() {
  node_local_image 1 node-registry-image "$NODE_REGISTRY_IMAGE" \
    '{"Env":["PATH=/bin","OTEL_TRACES_EXPORTER=none"],"Entrypoint":["/bin/registry","serve","/etc/distribution/config.yml"],"ExposedPorts":{"5000/tcp":{}},"Volumes":{"/var/lib/registry":{}}}'
}

case "${1:-}" in
  containerd) build_containerd ;;
  pause) build_pause ;;
  test-image) build_test_image ;;
  registry-image) build_registry_image ;;
  kube) "$HERE/build-kube.sh" node ;;
  *) die "usage: build-node.sh containerd|pause|test-image|registry-image|kube" ;;
esac
