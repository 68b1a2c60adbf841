#!/usr/bin/env bash
# Build one bridged Pulumi provider plugin from the glue module in
# toolchain/go/<name>/ (called by toolchain/build-tls.sh and build-docker.sh).
#
#   build-bridged.sh NAME VERSION [GO_BUILD_TAGS]
#
# Steps, all outside git (in the cache):
#   1. copy the glue module to $OUT/src; run its prepare.sh if it has one
#   2. build cmd/pulumi-tfgen-NAME and run `pulumi-tfgen-NAME schema` -> schema.json,
#      bridge-metadata.json
#   3. stamp "version": VERSION into the schema (minified -> schema-embed.json) and
#      copy both files next to cmd/pulumi-resource-NAME/main.go (//go:embed)
#   4. build $OUT/bin/pulumi-resource-NAME, write $OUT/.complete
# A rerun with the same inputs prints the cached binary path at once.
# Prints the binary path as the last line of stdout; logs go to stderr and $OUT/build.log.
set -euo pipefail

# Everything is inside main so that bash parses the whole file before running it.
main() {

  name=${1:?usage: build-bridged.sh NAME VERSION [TAGS]}
  version=${2:?usage: build-bridged.sh NAME VERSION [TAGS]}
  tags=${3:-}

  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  src=$here/$name
  [ -f "$src/go.mod" ] || { echo "no glue module at $src" >&2; exit 1; }
  command -v go >/dev/null || { echo "go not found on PATH" >&2; exit 1; }

  # BRIDGED_PINS (from versions.env via build-tls.sh / build-docker.sh): lines
  # "path@version" (a require) or "old=>new@version" (a replace) that go.mod must match.
  if [ -n "${BRIDGED_PINS:-}" ]; then
    (cd "$src" && go mod edit -json) | python3 -c '
import json, sys
mod = json.load(sys.stdin)
req = {r["Path"]: r["Version"] for r in mod.get("Require") or []}
rep = {r["Old"]["Path"]: (r["New"]["Path"], r["New"].get("Version", "")) for r in mod.get("Replace") or []}
bad = []
for pin in sys.argv[1].split():
    lhs, ver = pin.rsplit("@", 1)
    if not ver:
        continue  # not pinned in versions.env
    if "=>" in lhs:
        old, new = lhs.split("=>")
        ok = rep.get(old) == (new, ver)
    else:
        ok = req.get(lhs) == ver
    if not ok:
        bad.append(pin)
if bad:
    sys.exit("go.mod of %s does not match versions.env: %s" % (sys.argv[2], ", ".join(bad)))
' "$BRIDGED_PINS" "$src"
  fi

  # Cache key: every input that changes the binary.
  key=$(
    {
      echo "$name $version tags=$tags"
      go env GOVERSION GOOS GOARCH
      (cd "$src" && find . -type f \( -name '*.go' -o -name '*.go.in' -o -name '*.sh' -o -name 'go.mod' -o -name 'go.sum' \) | LC_ALL=C sort | xargs sha256sum)
      (cd "$here" && sha256sum build-bridged.sh compat/*)
    } | sha256sum | cut -c1-12
  )
  cache=${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain
  out=$cache/$name-$version-$key
  bin=$out/bin/pulumi-resource-$name

  # Another checkout building the same plugin at the same time would write into this folder too.
  mkdir -p "$cache"
  exec {lock_fd}>"$out.lock"
  flock "$lock_fd"
  if [ -f "$out/.complete" ] && [ -x "$bin" ]; then
    echo "pulumi-resource-$name $version: cached ($out)" >&2
    echo "$bin"
    exit 0
  fi

  rm -rf "$out"
  mkdir -p "$out/bin" "$out/gen"
  log=$out/build.log
  cp -r "$src" "$out/src"
  modpath=$(cd "$out/src" && go list -m)

  export GOFLAGS=-mod=mod CGO_ENABLED=0
  ldflags="-s -w -X $modpath.Version=$version"
  start=$(date +%s)
  step() { echo "[$name $(($(date +%s) - start))s] $*" | tee -a "$log" >&2; }

  cd "$out/src"
  export TOOLCHAIN_GO_DIR=$here
  if [ -x ./prepare.sh ]; then
    step "prepare.sh"
    ./prepare.sh >>"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
  fi
  step "go build pulumi-tfgen-$name"
  nice -n 5 go build -trimpath -tags "$tags" -ldflags "$ldflags" \
    -o "$out/bin/pulumi-tfgen-$name" "./cmd/pulumi-tfgen-$name" >>"$log" 2>&1 ||
    { tail -n 40 "$log" >&2; exit 1; }

  step "pulumi-tfgen-$name schema"
  "$out/bin/pulumi-tfgen-$name" schema --out "$out/gen" >>"$log" 2>&1 ||
    { tail -n 40 "$log" >&2; exit 1; }

  python3 - "$out/gen/schema.json" "$out/src/cmd/pulumi-resource-$name/schema-embed.json" "$version" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["version"] = sys.argv[3]
json.dump(spec, open(sys.argv[2], "w"), separators=(",", ":"))
PY
  cp "$out/gen/bridge-metadata.json" "$out/src/cmd/pulumi-resource-$name/bridge-metadata.json"

  step "go build pulumi-resource-$name"
  nice -n 5 go build -trimpath -tags "$tags" -ldflags "$ldflags" \
    -o "$bin" "./cmd/pulumi-resource-$name" >>"$log" 2>&1 ||
    { tail -n 40 "$log" >&2; exit 1; }

  got=$("$bin" -version)
  [ "$got" = "$version" ] || { echo "built plugin reports version '$got', want '$version'" >&2; exit 1; }
  rm -f "$out/bin/pulumi-tfgen-$name"
  step "done: $bin ($(du -h "$bin" | cut -f1)), reports version $got"
  touch "$out/.complete"
  echo "$bin"
}

main "$@"
