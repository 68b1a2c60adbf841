# Shared helpers for the toolchain build scripts (sourced, not executed).
# shellcheck shell=bash
#
# Contract for a per-part script toolchain/build-<part>.sh:
#   - logs to stderr, prints the path of what it built (a dir or binary) as the
#     LAST line of stdout;
#   - builds into $TC_CACHE/<part>-<version>-<key>/ (outside git) and writes a
#     .complete marker there last, so a rerun with the same inputs is instant.
# Typical use:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   tc_part_begin cli "$PULUMI_CLI_VERSION" "$TC_DIR/go/cli" "$0" "other-pin=$X" || { echo "$TC_OUT"; exit 0; }
#   ... build into "$TC_OUT/bin" ...
#   tc_part_done; echo "$TC_OUT"

TC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TC_DIR/.." && pwd)
# shellcheck source=versions.env
. "$TC_DIR/versions.env"
TC_CACHE=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain
# Assembled directory that env.sh puts first on PATH: pulumi, the Python language
# host and its exec script must sit side by side (the CLI looks for bundled
# language hosts next to its own executable, the host for the exec script next to
# itself; both resolve symlinks, so files are copied, not linked).
TC_BIN=$TC_CACHE/bin

# -buildvcs=false: no git stamp from this repo in the binaries (reproducible builds)
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local

tc_log() { echo "toolchain: $*" >&2; }
tc_die() { echo "toolchain: ERROR: $*" >&2; exit 1; }
tc_now() { date +%s; }

# tc_key INPUT... -> 12 hex chars over the Go version and the inputs: a directory
# (its Go glue files), a file (its contents) or any other string (taken literally,
# e.g. "sdk=v4.29.0"). Pass every pinned version the part depends on, so that
# editing an unrelated line of versions.env does not rebuild the part.
tc_key() {
  {
    go env GOVERSION GOOS GOARCH GOFLAGS
    local p
    for p in "$@"; do
      if [ -d "$p" ]; then
        (cd "$p" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) |
          LC_ALL=C sort | xargs -r sha256sum)
      elif [ -f "$p" ]; then
        sha256sum <"$p" # contents only: the key must not depend on where the checkout is
      else
        echo "$p"
      fi
    done
  } | sha256sum | cut -c1-12
}

# tc_part_begin PART VERSION INPUT... : sets TC_PART, TC_OUT, TC_LOG, TC_START.
# Returns 1 (after logging "reused") when a complete build with these inputs exists.
tc_part_begin() {
  TC_PART=$1 TC_VERSION=$2; shift 2
  TC_OUT=$TC_CACHE/$TC_PART-$TC_VERSION-$(tc_key "$@")
  TC_LOG=$TC_OUT/build.log
  TC_START=$(tc_now)
  # Two checkouts building the same part at once would write into one folder: the second waits
  # (the lock goes with the build script's process) and then reuses the first one's build.
  mkdir -p "$TC_CACHE"
  exec {TC_LOCK_FD}>"$TC_OUT.lock"
  flock "$TC_LOCK_FD"
  if [ -f "$TC_OUT/.complete" ]; then
    tc_log "$TC_PART $TC_VERSION: reused $TC_OUT"
    tc_record
    return 1
  fi
  rm -rf "$TC_OUT"
  mkdir -p "$TC_OUT/bin"
  : >"$TC_LOG"
  tc_log "$TC_PART $TC_VERSION: building into $TC_OUT (log: $TC_LOG)"
  return 0
}

# tc_step MESSAGE : timestamped progress line (stderr + log)
tc_step() { echo "[$TC_PART +$(($(tc_now) - TC_START))s] $*" | tee -a "$TC_LOG" >&2; }

# tc_run CMD... : run a command with its output in the log; on failure show the tail.
tc_run() {
  "$@" >>"$TC_LOG" 2>&1 || { tail -n 40 "$TC_LOG" >&2; tc_die "$TC_PART: failed: $*"; }
}

# tc_go_build OUT PKG [extra go build args...] : the one way we call go build.
tc_go_build() {
  local out=$1 pkg=$2; shift 2
  tc_step "go build $pkg"
  tc_run nice -n "${TC_NICE:-0}" go build -trimpath "$@" -o "$out" "$pkg"
}

# tc_record : remember the current build of this part for env.sh/install-plugins.sh
tc_record() {
  mkdir -p "$TC_CACHE/current"
  echo "$TC_OUT" >"$TC_CACHE/current/$TC_PART"
}

# tc_part_done : write the completion marker (binary list, sizes, build seconds).
tc_part_done() {
  local secs=$(($(tc_now) - TC_START))
  (cd "$TC_OUT/bin" && ls -l) >>"$TC_LOG"
  {
    echo "part=$TC_PART version=$TC_VERSION seconds=$secs built=$(date -u +%FT%TZ)"
    (cd "$TC_OUT/bin" && sha256sum -- *)
  } >"$TC_OUT/.complete"
  tc_record
  tc_step "done: $(cd "$TC_OUT/bin" && du -h -- * | tr '\t' ' ' | paste -sd, -)"
}

# tc_mod_dir MODULE VERSION : download a module (read-only cache) and print its dir.
tc_mod_dir() {
  go mod download -json "$1@$2" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit("go mod download: %s" % d.get("Error")))'
}

# tc_fetch_src MODULE VERSION DEST : writable copy of a module tree (outside git).
tc_fetch_src() {
  local dir
  dir=$(tc_mod_dir "$1" "$2") || tc_die "cannot download $1@$2"
  rm -rf "$3"
  cp -r "$dir" "$3"
  chmod -R u+w "$3"
}

# tc_current PART : output dir of the last successful build of PART (empty if none)
tc_current() { cat "$TC_CACHE/current/$1" 2>/dev/null || true; }
