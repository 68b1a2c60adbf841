#!/usr/bin/env bash
# Is there a usable Pulumi CLI of the user's own on PATH? Exit 0 and print `<path> <version>` when
# there is one of a supported version (3.x, at least PULUMI_CLI_MIN_VERSION of toolchain/versions.env);
# exit 1 with the reason on stderr when there is none. scripts/up.sh builds the offline toolchain
# only then (or when PRIVATE_REGISTRY_PULUMI=offline asks for it).
set -euo pipefail
# shellcheck source=toolchain/versions.env
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/toolchain/versions.env"

cli=$(command -v pulumi || true)
if [ -z "$cli" ]; then
  echo "no pulumi CLI on PATH" >&2
  exit 1
fi
if [ "$(dirname "$cli")" = "${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain/bin" ]; then
  echo "the pulumi on PATH ($cli) is this project's offline toolchain, not a CLI of your own" >&2
  exit 1
fi
# `pulumi version` prints v3.274.1
version=$(PULUMI_SKIP_UPDATE_CHECK=true "$cli" version 2>/dev/null | head -n 1 | tr -d '[:space:]') || true
version=${version#v}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  echo "$cli: could not read its version ('pulumi version' printed '${version}')" >&2
  exit 1
fi
lowest=$(printf '%s\n%s\n' "$PULUMI_CLI_MIN_VERSION" "${version%%[-+]*}" | sort -V | head -n 1)
if [ "${version%%.*}" != 3 ] || [ "$lowest" != "$PULUMI_CLI_MIN_VERSION" ]; then
  echo "$cli is pulumi $version: supported are 3.x from $PULUMI_CLI_MIN_VERSION (tested: $PULUMI_CLI_VERSION)" >&2
  exit 1
fi
echo "$cli $version"
