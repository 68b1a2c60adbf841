#!/usr/bin/env bash
# Run by toolchain/go/build-bridged.sh in the build copy of this module (outside git).
set -euo pipefail
exec "${TOOLCHAIN_GO_DIR:?}/compat/sdkv2-fork.sh"
