#!/usr/bin/env bash
# Builds the OCI distribution-spec conformance suite (a Ginkgo test package) with `go test -c`
# from the Go module proxy (wrapper module sandbox/go/conformance) into a cache outside the
# repository. Prints the binary's path on stdout. Cached by version: a second run is instant.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

module=github.com/opencontainers/distribution-spec/conformance
out=$(conformance_bin_dir)
if [ -f "$out/.complete" ]; then
  echo "$out/conformance.test"
  exit 0
fi
command -v go >/dev/null || die "go not found (needed to build the conformance suite)"
grep -q "^	$module $CONFORMANCE_VERSION\$" "$HERE/go/conformance/go.mod" ||
  die "sandbox/go/conformance/go.mod does not pin $module $CONFORMANCE_VERSION (lib.sh CONFORMANCE_VERSION)"
mkdir -p "$out"
log "building the OCI conformance suite $CONFORMANCE_VERSION into $out"
start=$(date +%s)
(
  cd "$HERE/go/conformance"
  export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
  sandbox_nice_go test -c -trimpath \
    -ldflags "-s -w -X $module.Version=$CONFORMANCE_VERSION" \
    -o "$out/conformance.test" "$module"
) >&2
touch "$out/.complete"
log "conformance suite built in $(( $(date +%s) - start ))s"
echo "$out/conformance.test"
