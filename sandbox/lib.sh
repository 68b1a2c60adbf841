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

log() { echo "sandbox: $*" >&2; }
die() { echo "sandbox: ERROR: $*" >&2; exit 1; }

registry_bin_dir() { echo "$CACHE_ROOT/registry-$REGISTRY_VERSION"; }
kube_bin_dir() { echo "$CACHE_ROOT/kube-$KUBE_VERSION"; }
conformance_bin_dir() { echo "$CACHE_ROOT/conformance-$CONFORMANCE_VERSION"; }
