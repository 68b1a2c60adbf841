# Source this file: puts the offline Pulumi toolchain first on PATH and keeps the
# CLI off the network (no update checks, no plugin downloads, no registry lookups,
# no plugins picked up from PATH). Build it first: bash toolchain/build.sh
# shellcheck shell=bash
_tc_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_tc_repo=$(cd "$_tc_dir/.." && pwd)
TOOLCHAIN_BIN=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain/bin
case ":$PATH:" in
  *":$TOOLCHAIN_BIN:"*) ;;
  *) PATH=$TOOLCHAIN_BIN:$PATH ;;
esac
export PATH TOOLCHAIN_BIN
# The user's PULUMI_HOME (set, or ~/.pulumi when it exists: their login and plugins) stays; only a
# machine with neither gets the project's own folder in the checkout.
if [ -z "${PULUMI_HOME:-}" ] && [ ! -d "$HOME/.pulumi" ]; then
  PULUMI_HOME=${PRIVATE_REGISTRY_PULUMI_HOME:-$_tc_repo/.pulumi-home}
fi
[ -z "${PULUMI_HOME:-}" ] || export PULUMI_HOME
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
unset _tc_dir _tc_repo
