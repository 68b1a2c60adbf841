#!/usr/bin/env bash
# Build the offline Pulumi toolchain from the Go module proxy (entry point).
#
#   bash toolchain/build.sh [cli|langhost|kubernetes|tls|docker|all]...   (default: all)
#
# Each part is built by toolchain/build-<part>.sh into
#   ${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain/<part>-<version>-<key>/
# with a .complete marker, so a rerun with the same pins reuses it in seconds.
# pulumi + the Python language host files are then copied side by side into
# .../toolchain/bin (what toolchain/env.sh puts on PATH). Provider plugins are put
# into $PULUMI_HOME by toolchain/install-plugins.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v go >/dev/null || tc_die "go not found on PATH"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(all)
if [ "${parts[0]}" = all ]; then parts=(cli langhost kubernetes tls docker); fi

summary=()
# A cold part builds for minutes without a word: a line every 30 s says it still runs (a cached one
# ends at once and prints nothing more).
beat() { local part=$1; shift; "$REPO_ROOT/scripts/with-heartbeat.sh" "toolchain: building $part" "$@"; }
build_part() {
  local part=$1 start out line
  start=$(tc_now)
  case $part in
    cli | langhost | kubernetes) out=$(beat "$part" bash "$TC_DIR/build-$part.sh" | tail -n 1) ;;
    tls | docker)
      # build-tls.sh / build-docker.sh print the plugin binary path (.../<dir>/bin/<file>)
      [ -f "$TC_DIR/build-$part.sh" ] || tc_die "toolchain/build-$part.sh is missing"
      line=$(beat "$part" bash "$TC_DIR/build-$part.sh" | tail -n 1)
      out=${line%/bin/*}
      mkdir -p "$TC_CACHE/current" && echo "$out" >"$TC_CACHE/current/$part" ;;
    *) tc_die "unknown part '$part' (cli|langhost|kubernetes|tls|docker|all)" ;;
  esac
  [ -d "$out/bin" ] || tc_die "$part: no output at '$out'"
  summary+=("$(printf '%-11s %4ss  %s' "$part" "$(($(tc_now) - start))" "$out")")
}

total=$(tc_now)
for p in "${parts[@]}"; do build_part "$p"; done

# Assemble the PATH dir: pulumi and the language host files side by side (copies:
# the CLI and the host resolve symlinks when looking next to themselves).
cli=$(tc_current cli) lh=$(tc_current langhost)
if [ -n "$cli" ] && [ -n "$lh" ] && [ -f "$cli/.complete" ] && [ -f "$lh/.complete" ]; then
  tmp=$TC_CACHE/bin.tmp.$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp -p "$cli/bin/pulumi" "$lh/bin/"* "$tmp/"
  rm -rf "$TC_BIN.old" && { [ ! -e "$TC_BIN" ] || mv "$TC_BIN" "$TC_BIN.old"; }
  mv "$tmp" "$TC_BIN" && rm -rf "$TC_BIN.old"
  summary+=("$(printf '%-11s %4s   %s' "bin" "" "$TC_BIN ($(ls "$TC_BIN" | paste -sd' '))")")
fi

echo "toolchain: done in $(($(tc_now) - total))s" >&2
printf '%s\n' "${summary[@]}" >&2
