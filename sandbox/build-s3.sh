#!/usr/bin/env bash
# Builds the sandbox's S3-compatible object store, versitygw v$VERSITYGW_VERSION (an S3 gateway
# over a POSIX folder; README "S3 object store"), from the Go module proxy (wrapper module
# go/versitygw) into the cache outside the repository. Prints the bin directory on stdout.
# Cached by version and the contents of go.mod/go.sum: a second run is instant.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

out=$(s3_bin_dir)
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || die "go not found (needed to build versitygw)"
mkdir -p "$out"
log "building versitygw v$VERSITYGW_VERSION into $out"
start=$(date +%s)
(
  cd "$HERE/go/versitygw"
  export CGO_ENABLED=0 GOFLAGS=-mod=readonly
  sandbox_nice_go build -trimpath \
    -ldflags "-s -w -X main.Version=v$VERSITYGW_VERSION -X main.Build=module-proxy -X main.BuildTime=none" \
    -o "$out/" github.com/versity/versitygw/cmd/versitygw
) >&2
"$out/versitygw" --version >&2
touch "$out/.complete"
log "versitygw built in $(( $(date +%s) - start ))s"
echo "$out"
