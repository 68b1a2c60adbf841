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
# The user's PULUMI_HOME stays: set, or ~/.pulumi when they logged in there (credentials.json; the
# folder alone says nothing: any pulumi command run without PULUMI_HOME creates ~/.pulumi/logs).
# Otherwise the project's own folder in the checkout.
if [ -z "${PULUMI_HOME:-}" ] && [ ! -f "$HOME/.pulumi/credentials.json" ]; then
  PULUMI_HOME=${PRIVATE_REGISTRY_PULUMI_HOME:-$_tc_repo/.pulumi-home}
fi
[ -z "${PULUMI_HOME:-}" ] || export PULUMI_HOME
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
unset _tc_dir _tc_repo
