#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the Go module proxy
# (wrapper module sandbox/go/kube) into a cache outside the repository.
# Prints the bin directory on stdout. Cached by version: a second run is instant.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

out=$(kube_bin_dir)
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || die "go not found (needed to build kube-apiserver/etcd)"
mkdir -p "$out"
minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
ldk="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION"
ldk+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
ldk+=" -X k8s.io/component-base/version.gitTreeState=clean"
ldk+=" -X k8s.io/client-go/pkg/version.gitVersion=v$KUBE_VERSION"
ldk+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
log "building kube-apiserver, kube-controller-manager, etcd v$KUBE_VERSION into $out (takes a while on a cold cache)"
start=$(date +%s)
(
  cd "$HERE/go/kube"
  export CGO_ENABLED=0 GOFLAGS=-mod=readonly
  nice -n "${SANDBOX_NICE:-10}" go build -trimpath -ldflags "$ldk" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  nice -n "${SANDBOX_NICE:-10}" go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
) >&2
"$out/kube-apiserver" --version >&2
"$out/etcd" --version >&2
touch "$out/.complete"
log "kube binaries built in $(( $(date +%s) - start ))s"
echo "$out"
