#!/usr/bin/env bash
# Build pulumi-resource-tls (serves the pulumi-tls Python SDK) from our bridge glue
# over the upstream hashicorp/terraform-provider-tls. Prints the binary path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$here/versions.env" ] && . "$here/versions.env"
exec "$here/go/build-bridged.sh" tls "${PULUMI_TLS_VERSION:-5.6.2}"
