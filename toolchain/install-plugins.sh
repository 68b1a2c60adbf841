#!/usr/bin/env bash
# Install the locally built provider plugins into $PULUMI_HOME/plugins at exactly
# the versions the pinned Python SDKs ask for (versions.env), e.g.
#   $PULUMI_HOME/plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes
#
#   bash toolchain/install-plugins.sh [kubernetes|tls|docker]...   (default: all three)
#
# Needs `bash toolchain/build.sh` first (the pulumi CLI and the plugin binaries).
# Uses `pulumi plugin install resource NAME VERSION --file BIN`, which with env.sh's
# settings touches no network. A project run whose plugin is missing fails with:
#   error: no resource plugin 'pulumi-resource-kubernetes' found in the workspace at version v4.25.0
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TC_DIR/env.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(kubernetes tls docker)

for part in "${parts[@]}"; do
  case $part in
    kubernetes) v=$K8S_PLUGIN_VERSION ;;
    tls) v=$TLS_PLUGIN_VERSION ;;
    docker) v=$DOCKER_PLUGIN_VERSION ;;
    *) tc_die "unknown plugin '$part' (kubernetes|tls|docker)" ;;
  esac
  out=$(tc_current "$part")
  bin=$out/bin/pulumi-resource-$part
  [ -n "$out" ] && [ -x "$bin" ] ||
    tc_die "pulumi-resource-$part is not built; run: bash toolchain/build.sh $part"
  # build dirs are named <part>-<version>-<key> (the version the binary is stamped with)
  case $(basename "$out") in
    "$part-$v-"*) ;;
    *) tc_die "last $part build ($out) is not version $v; run: bash toolchain/build.sh $part" ;;
  esac
  dir=${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$part-v$v
  if [ -x "$dir/pulumi-resource-$part" ] && [ ! -e "$dir.partial" ] && cmp -s "$bin" "$dir/pulumi-resource-$part"; then
    tc_log "resource $part v$v: already installed ($dir)"
    continue
  fi
  # Verified offline with env.sh's settings (PULUMI_DISABLE_REGISTRY_RESOLVE=true):
  # --file installs the binary as-is into $PULUMI_HOME/plugins/resource-NAME-vVERSION/.
  pulumi plugin install resource "$part" "$v" --file "$bin" --reinstall >&2 ||
    tc_die "pulumi plugin install resource $part $v --file $bin failed"
  [ -x "$dir/pulumi-resource-$part" ] && [ ! -e "$dir.partial" ] || tc_die "resource $part v$v: not found in $dir after install"
  tc_log "resource $part v$v: installed $dir"
done
