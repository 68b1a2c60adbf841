#!/usr/bin/env bash
# The provider plugins the program needs, at exactly the versions of the pinned Python SDKs
# (toolchain/versions.env): tls, docker, kubernetes. Run after `. scripts/pulumi-env.sh`.
# - The offline toolchain (PRIVATE_REGISTRY_PULUMI=offline): installed from its build
#   (toolchain/install-plugins.sh).
# - A CLI of the user's own: plugins it already has are used; a missing one is installed by the CLI
#   from its plugin source; where that cannot be reached (no internet), from the offline toolchain's
#   build if one is in the cache (no Go needed then); otherwise the error says what to do.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=toolchain/versions.env
. "$HERE/../toolchain/versions.env"
if [ "${PRIVATE_REGISTRY_PULUMI:-}" = offline ]; then
  exec bash "$HERE/../toolchain/install-plugins.sh"
fi

installed=$(pulumi plugin ls --json 2>/dev/null || echo '[]')
has() {
  python3 -c 'import json,sys; sys.exit(0 if any(p.get("kind") == "resource" and p.get("name") == sys.argv[1] and p.get("version") == sys.argv[2] for p in json.loads(sys.stdin.read() or "[]")) else 1)' "$1" "$2" <<<"$installed"
}
cache=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain
for entry in "tls $TLS_PLUGIN_VERSION" "docker $DOCKER_PLUGIN_VERSION" "kubernetes $K8S_PLUGIN_VERSION"; do
  read -r name version <<<"$entry"
  if has "$name" "$version"; then
    echo "plugins: resource $name v$version: installed" >&2
    continue
  fi
  echo "plugins: resource $name v$version: missing; pulumi plugin install resource $name $version" >&2
  if timeout "${PLUGIN_INSTALL_TIMEOUT:-120}" pulumi plugin install resource "$name" "$version" >&2; then
    continue
  fi
  built=$(cat "$cache/current/$name" 2>/dev/null || true)/bin/pulumi-resource-$name
  case $built in
    "$cache/$name-$version-"*)
      if [ -x "$built" ]; then
        echo "plugins: resource $name v$version: from the offline toolchain's build $built" >&2
        pulumi plugin install resource "$name" "$version" --file "$built" >&2
        continue
      fi ;;
  esac
  echo "plugins: ERROR: resource plugin $name v$version is not installed and could not be installed." >&2
  echo "  Install it where your CLI can reach its plugin source: pulumi plugin install resource $name $version" >&2
  echo "  or build it here (Go and the Go module proxy): bash toolchain/build.sh $name, then run this again" >&2
  exit 1
done
