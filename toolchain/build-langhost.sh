#!/usr/bin/env bash
# Build the Python language host and collect its Python-side files:
#   bin/pulumi-language-python          LANGHOST_SOURCE=own: toolchain/go/langhost (ours)
#                                       LANGHOST_SOURCE=legacy: sdk/v3@LANGHOST_LEGACY_SDK_VERSION
#   bin/pulumi-language-python-exec     from sdk/v3@PULUMI_SDK_EXEC_VERSION (python/cmd/)
#   bin/pulumi-resource-pulumi-python   same module (python/dist/), launcher for pulumi.dynamic
# build.sh copies all three next to `pulumi`. Prints the output dir.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case $LANGHOST_SOURCE in
  own) glue=$TC_DIR/go/langhost pkg=. stamp=v$PULUMI_CLI_VERSION ;;
  legacy) glue=$TC_DIR/go/langhost-legacy stamp=v$LANGHOST_LEGACY_SDK_VERSION
    pkg=github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python ;;
  *) tc_die "LANGHOST_SOURCE must be own or legacy, not '$LANGHOST_SOURCE'" ;;
esac
tc_part_begin langhost "$LANGHOST_SOURCE-exec$PULUMI_SDK_EXEC_VERSION" "$glue" "$TC_DIR/build-langhost.sh" "stamp=$stamp" ||
  { echo "$TC_OUT"; exit 0; }

cd "$glue"
tc_go_build "$TC_OUT/bin/pulumi-language-python" "$pkg" -tags osusergo,grpcnotrace \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$stamp"

tc_step "exec script + dynamic provider launcher from github.com/pulumi/pulumi/sdk/v3@v$PULUMI_SDK_EXEC_VERSION"
sdk=$(tc_mod_dir github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_SDK_EXEC_VERSION")
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$TC_OUT/bin/"
install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$TC_OUT/bin/"
tc_part_done
echo "$TC_OUT"
