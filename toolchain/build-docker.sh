#!/usr/bin/env bash
# Build pulumi-resource-docker (serves the pulumi-docker Python SDK; bridged resources
# only, no native buildx Image) from our bridge glue (toolchain/go/docker) over
# kreuzwerker/terraform-provider-docker. Prints the binary path (cached).
# no_compose: upstream's build tag that leaves out the docker_compose resource.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$here/versions.env" ] && . "$here/versions.env"
export BRIDGED_PINS="github.com/terraform-providers/terraform-provider-docker=>github.com/kreuzwerker/terraform-provider-docker@${DOCKER_UPSTREAM_VERSION:-}
github.com/pulumi/pulumi-terraform-bridge/v3@${TF_BRIDGE_VERSION:-}
github.com/hashicorp/terraform-plugin-sdk/v2=>github.com/pulumi/terraform-plugin-sdk/v2@${TF_PLUGIN_SDK_FORK_VERSION:-}"
exec "$here/go/build-bridged.sh" docker "${PULUMI_DOCKER_VERSION:-5.2.0}" no_compose
