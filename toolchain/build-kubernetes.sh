#!/usr/bin/env bash
# Build pulumi-resource-kubernetes, stamped K8S_PLUGIN_VERSION, from the one
# served source tree github.com/pulumi/pulumi-kubernetes/provider/v4@K8S_PROVIDER_MODULE_VERSION.
# Outside git, in the cache:
#   1. copy the module tree out of the read-only module cache to $OUT/src
#   2. go.mod: drop `replace .../sdk/v4 => ../sdk` (not in the zip) and require the
#      served sdk/v4 K8S_SDK_GO_VERSION instead; pulumi pkg/sdk -> K8S_PULUMI_VERSION
#   3. generate cmd/pulumi-resource-kubernetes/{schema,terraform-mapping}-embed.json
#      (what upstream's generate.go does: stamp .version into schema.json, minify)
#   4. go build ./cmd/pulumi-resource-kubernetes with pkg/version.Version stamped
# Prints the output dir (bin/pulumi-resource-kubernetes inside).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

v=$K8S_PLUGIN_VERSION
mod=github.com/pulumi/pulumi-kubernetes/provider/v4
tc_part_begin kubernetes "$v" "$TC_DIR/build-kubernetes.sh" \
  "src=$K8S_PROVIDER_MODULE_VERSION" "sdk=$K8S_SDK_GO_VERSION" "pulumi=${K8S_PULUMI_VERSION:-}" || { echo "$TC_OUT"; exit 0; }

tc_step "fetch $mod@$K8S_PROVIDER_MODULE_VERSION"
tc_fetch_src "$mod" "$K8S_PROVIDER_MODULE_VERSION" "$TC_OUT/src"
cd "$TC_OUT/src"
go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
  -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_GO_VERSION"
if [ -n "${K8S_PULUMI_VERSION:-}" ]; then
  # sdk/v4's requirement raises pulumi sdk/v3 above the provider's pkg/v3, which then
  # fails to compile; move both to one version (the CLI's: shared Go build cache).
  go mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$K8S_PULUMI_VERSION" \
    -require="github.com/pulumi/pulumi/sdk/v3@v$K8S_PULUMI_VERSION"
  # The one API change that matters between pkg v3.215 and v3.274: PackageSpec.Provider
  # became a *ResourceSpec. Adjust the single composite literal that sets it.
  if grep -q 'Provider \*ResourceSpec' "$(tc_mod_dir github.com/pulumi/pulumi/pkg/v3 "v$K8S_PULUMI_VERSION")/codegen/schema/schema.go"; then
    tc_step "patch pkg/gen/schema.go: Provider: pschema.ResourceSpec{ -> &pschema.ResourceSpec{"
    sed -i 's/^\t\tProvider: pschema\.ResourceSpec{/\t\tProvider: \&pschema.ResourceSpec{/' pkg/gen/schema.go
    grep -q 'Provider: &pschema.ResourceSpec{' pkg/gen/schema.go || tc_die "patch of pkg/gen/schema.go did not apply"
  fi
fi

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
# (this provider has no -version flag; the stamp is checked in the binary)
grep -aq "$v" "$TC_OUT/bin/pulumi-resource-kubernetes" || tc_die "version $v not found in the binary"
rm -rf "$TC_OUT/src"
tc_part_done
echo "$TC_OUT"
