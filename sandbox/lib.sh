# Shared settings and helpers for the sandbox scripts (sourced, not executed).
# shellcheck shell=bash disable=SC2034  # variables used by the sourcing scripts

SANDBOX_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SANDBOX_SRC/.." && pwd)
SANDBOX_DIR=${SANDBOX_DIR:-$REPO_ROOT/.sandbox}
CACHE_ROOT=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/sandbox

REGISTRY_VERSION=3.1.2
KUBE_VERSION=1.36.3
# OCI distribution-spec conformance suite (Ginkgo, the v1.1 line): the pseudo-version that
# sandbox/go/conformance/go.mod pins. The v1.1.1 release commit (a139cc42) is refused by the Go
# module proxy here; see README.md "OCI conformance".
CONFORMANCE_VERSION=v0.0.0-20231101194043-f2182352d4cc

if [ "${SANDBOX_REGISTRY_FALLBACK:-}" = debian ]; then
  REGISTRY_IMAGE=${SANDBOX_REGISTRY_IMAGE:-private-registry/registry:2.8-debian-local}
else
  REGISTRY_IMAGE=${SANDBOX_REGISTRY_IMAGE:-private-registry/registry:$REGISTRY_VERSION-local}
fi
TEST_IMAGE=${SANDBOX_TEST_IMAGE:-private-registry/busybox:local}

# The node (kubelet + containerd + CNI, README "Node"): kubelet and kube-scheduler are built at
# KUBE_VERSION; kubelet 1.36 needs containerd 2.x. Cache keys: version + contents of the inputs.
CONTAINERD_VERSION=2.4.2
PAUSE_IMAGE=${SANDBOX_PAUSE_IMAGE:-private-registry/pause:local}
NODE_TEST_IMAGE=${SANDBOX_NODE_TEST_IMAGE:-private-registry/busybox:node-local}
# The registry image in the node's containerd under the exact name the program uses
# (registry:$REGISTRY_VERSION, i.e. docker.io/library/registry:$REGISTRY_VERSION).
NODE_REGISTRY_IMAGE=library/registry:$REGISTRY_VERSION
inputs_key() { cat "$@" | sha1sum | cut -c1-12; }  # contents, never paths
kube_node_bin_dir() {
  echo "$CACHE_ROOT/kube-node-$KUBE_VERSION-$(inputs_key "$SANDBOX_SRC/go/kube/go.mod" "$SANDBOX_SRC/go/kube/go.sum")"
}
containerd_bin_dir() {
  echo "$CACHE_ROOT/containerd-$CONTAINERD_VERSION-$(inputs_key "$SANDBOX_SRC/go/containerd/go.mod" "$SANDBOX_SRC/go/containerd/go.sum")"
}

log() { echo "sandbox: $*" >&2; }
die() { echo "sandbox: ERROR: $*" >&2; exit 1; }

registry_bin_dir() { echo "$CACHE_ROOT/registry-$REGISTRY_VERSION"; }
kube_bin_dir() { echo "$CACHE_ROOT/kube-$KUBE_VERSION"; }
# The S3-compatible object store (README "S3 object store"): versitygw, posix backend.
VERSITYGW_VERSION=1.8.0
s3_bin_dir() {
  echo "$CACHE_ROOT/versitygw-$VERSITYGW_VERSION-$(inputs_key "$SANDBOX_SRC/go/versitygw/go.mod" "$SANDBOX_SRC/go/versitygw/go.sum")"
}
conformance_bin_dir() { echo "$CACHE_ROOT/conformance-$CONFORMANCE_VERSION"; }

# The machine's iptables FORWARD policy (ACCEPT, DROP), and whether bridged traffic meets iptables
# (br_netfilter's sysctl; "not loaded" without the module): what decides if Pod-to-Pod traffic on
# the node's bridge is forwarded (node.sh node_forward_up), recorded and restored around dockerd.
forward_policy() { iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}'; }
bridge_nf_call_iptables() { sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo 'not loaded'; }

# `nice go ARGS...` with a line every 30 s on stderr while it runs (a cold build takes minutes).
sandbox_nice_go() {
  "$REPO_ROOT/scripts/with-heartbeat.sh" "sandbox: go $1 ${*: -1}" nice -n "${SANDBOX_NICE:-10}" go "$@"
}
