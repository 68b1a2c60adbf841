#!/usr/bin/env bash
# Build the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) at
# PULUMI_CLI_VERSION from the wrapper module toolchain/go/cli.
# If a `pulumi` already on PATH (outside our cache) reports exactly that version,
# it is copied instead of building. Prints the output dir (bin/pulumi inside).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

v=$PULUMI_CLI_VERSION
tc_part_begin cli "$v" "$TC_DIR/go/cli" "$TC_DIR/build-cli.sh" || { echo "$TC_OUT"; exit 0; }

existing=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vxF "$TC_BIN" | paste -sd:) command -v pulumi || true)
if [ -n "$existing" ] && [ "$("$existing" version 2>/dev/null)" = "v$v" ]; then
  tc_step "using installed $existing (reports v$v)"
  cp "$(readlink -f "$existing")" "$TC_OUT/bin/pulumi"
else
  cd "$TC_DIR/go/cli"
  tc_go_build "$TC_OUT/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v"
fi
got=$("$TC_OUT/bin/pulumi" version)
[ "$got" = "v$v" ] || tc_die "built pulumi reports '$got', want v$v"
tc_part_done
echo "$TC_OUT"
