#!/usr/bin/env bash
# Builds Kubernetes from the Go module proxy (wrapper module sandbox/go/kube) into a cache
# outside the repository. Prints the bin directory on stdout. A second run is instant.
#   build-kube.sh        control plane: kube-apiserver, kube-controller-manager, etcd
#                        (cached by version)
#   build-kube.sh node   the node's kubelet, kube-scheduler and kube-proxy (cached by version
#                        and the contents of go.mod/go.sum; a command missing from the cached
#                        dir, e.g. one added later, is built into it)
# Both use the same flags (-trimpath, version ldflags), so they share the Go build cache and
# the version reads v$KUBE_VERSION, not v0.0.0.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
ldk="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION"
ldk+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
ldk+=" -X k8s.io/component-base/version.gitTreeState=clean"
ldk+=" -X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION"
ldk+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

# go build of k8s.io/kubernetes commands ($2...) into directory $1
kube_go_build() {
  local out=$1; shift
  (
    cd "$HERE/go/kube"
    export CGO_ENABLED=0 GOFLAGS=-mod=readonly
    sandbox_nice_go build -trimpath -ldflags "$ldk" -o "$out/" "$@"
  ) >&2
}

build_control_plane() {
  local out; out=$(kube_bin_dir)
  if [ -f "$out/.complete" ]; then echo "$out"; return 0; fi
  command -v go >/dev/null || die "go not found (needed to build kube-apiserver/etcd)"
  mkdir -p "$out"
  log "building kube-apiserver, kube-controller-manager, etcd v$KUBE_VERSION into $out (takes a while on a cold cache)"
  local start; start=$(date +%s)
  kube_go_build "$out" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  (
    cd "$HERE/go/kube"
    CGO_ENABLED=0 GOFLAGS=-mod=readonly \
      sandbox_nice_go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  ) >&2
  "$out/kube-apiserver" --version >&2
  "$out/etcd" --version >&2
  touch "$out/.complete"
  log "kube binaries built in $(( $(date +%s) - start ))s"
  echo "$out"
}

NODE_COMMANDS=(kubelet kube-scheduler kube-proxy)

build_node() {
  local out cmd missing=()
  out=$(kube_node_bin_dir)
  for cmd in "${NODE_COMMANDS[@]}"; do
    [ -f "$out/.complete" ] && [ -x "$out/$cmd" ] || missing+=("$cmd")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "$out"; return 0; fi
  command -v go >/dev/null || die "go not found (needed to build ${missing[*]})"
  mkdir -p "$out"
  log "building ${missing[*]} v$KUBE_VERSION into $out (takes a while on a cold cache)"
  local start; start=$(date +%s)
  rm -f "$out/.complete"
  kube_go_build "$out" "${missing[@]/#/k8s.io/kubernetes/cmd/}"
  for cmd in "${NODE_COMMANDS[@]}"; do "$out/$cmd" --version >&2; done
  touch "$out/.complete"
  log "${missing[*]} built in $(( $(date +%s) - start ))s"
  echo "$out"
}

case "${1:-}" in
  "") build_control_plane ;;
  node) build_node ;;
  *) die "usage: build-kube.sh [node]" ;;
esac
