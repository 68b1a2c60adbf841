#!/usr/bin/env bash
# Build pulumi-resource-tls (serves the pulumi-tls Python SDK) from our bridge glue
# (toolchain/go/tls) over the upstream hashicorp/terraform-provider-tls.
# Prints the binary path (cached: a rerun with the same inputs takes a second).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$here/versions.env" ] && . "$here/versions.env"
export BRIDGED_PINS="github.com/hashicorp/terraform-provider-tls@${TLS_UPSTREAM_VERSION:-}
github.com/pulumi/pulumi-terraform-bridge/v3@${TF_BRIDGE_VERSION:-}
github.com/hashicorp/terraform-plugin-sdk/v2=>github.com/pulumi/terraform-plugin-sdk/v2@${TF_PLUGIN_SDK_FORK_VERSION:-}"
exec "$here/go/build-bridged.sh" tls "${PULUMI_TLS_VERSION:-5.6.2}"
