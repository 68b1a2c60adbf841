#!/usr/bin/env bash
# Build pulumi-resource-docker (serves the pulumi-docker Python SDK, bridged resources
# only) from our bridge glue over kreuzwerker/terraform-provider-docker. Prints the
# binary path. no_compose: upstream's build tag that leaves out docker_compose.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$here/versions.env" ] && . "$here/versions.env"
exec "$here/go/build-bridged.sh" docker "${PULUMI_DOCKER_VERSION:-5.2.0}" no_compose
