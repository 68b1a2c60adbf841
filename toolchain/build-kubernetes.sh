#!/usr/bin/env bash
# Build pulumi-resource-kubernetes, stamped K8S_PLUGIN_VERSION, from the one
# served source tree github.com/pulumi/pulumi-kubernetes/provider/v4@K8S_PROVIDER_MODULE_VERSION.
# Outside git, in the cache:
#   1. copy the module tree out of the read-only module cache to $OUT/src
#   2. go.mod: drop `replace .../sdk/v4 => ../sdk` (not in the zip) and require the
#      served sdk/v4 K8S_SDK_GO_VERSION instead
#   3. generate cmd/pulumi-resource-kubernetes/{schema,terraform-mapping}-embed.json
#      (what upstream's generate.go does: stamp .version into schema.json, minify)
#   4. go build ./cmd/pulumi-resource-kubernetes with pkg/version.Version stamped
# Prints the output dir (bin/pulumi-resource-kubernetes inside).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

v=$K8S_PLUGIN_VERSION
mod=github.com/pulumi/pulumi-kubernetes/provider/v4
tc_part_begin kubernetes "$v" "$TC_DIR/build-kubernetes.sh" \
  "src=$K8S_PROVIDER_MODULE_VERSION" "sdk=$K8S_SDK_GO_VERSION" || { echo "$TC_OUT"; exit 0; }

tc_step "fetch $mod@$K8S_PROVIDER_MODULE_VERSION"
tc_fetch_src "$mod" "$K8S_PROVIDER_MODULE_VERSION" "$TC_OUT/src"
cd "$TC_OUT/src"
go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
  -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_GO_VERSION"

tc_step "generate schema-embed.json (version $v) and terraform-mapping-embed.json"
python3 - cmd/pulumi-resource-kubernetes "$v" <<'PY'
import json, os, sys
d, version = sys.argv[1], sys.argv[2]
spec = json.load(open(os.path.join(d, "schema.json")))
spec["version"] = version
json.dump(spec, open(os.path.join(d, "schema-embed.json"), "w"), separators=(",", ":"))
mapping = json.load(open(os.path.join(d, "terraform-mapping.json")))
json.dump(mapping, open(os.path.join(d, "terraform-mapping-embed.json"), "w"), separators=(",", ":"))
PY

TC_NICE=5 tc_go_build "$TC_OUT/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes \
  -ldflags "-s -w -X $mod/pkg/version.Version=$v"
got=$("$TC_OUT/bin/pulumi-resource-kubernetes" -version 2>&1 || true)
[ "$got" = "$v" ] || tc_log "warning: plugin -version printed '$got' (want $v)"
rm -rf "$TC_OUT/src"
tc_part_done
echo "$TC_OUT"
