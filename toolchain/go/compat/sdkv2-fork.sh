#!/usr/bin/env bash
# Run (via a glue module's prepare.sh) inside the build copy of that glue module,
# outside git. Pulumi's terraform-plugin-sdk/v2 fork, which the bridge's SDKv2
# shim needs, is based on upstream 2.38.1 and predates terraform-plugin-go v0.31,
# which the current upstream providers require: its GRPCProviderServer lacks
# GenerateResourceConfig. Copy the fork out of the module cache next to the build
# copy, add our one-method compat file, and point the replace at the copy.
set -euo pipefail
compat=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fork=github.com/pulumi/terraform-plugin-sdk/v2
ver=$(go mod edit -json | python3 -c 'import json,sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["Old"]["Path"]=="github.com/hashicorp/terraform-plugin-sdk/v2": print(r["New"]["Version"])')
[ -n "$ver" ] || { echo "no versioned replace of terraform-plugin-sdk/v2 in go.mod" >&2; exit 1; }
dir=$(go mod download -json "$fork@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
dest=$(cd .. && pwd)/sdkv2-fork
rm -rf "$dest"
cp -r "$dir" "$dest"
chmod -R u+w "$dest"
cp "$compat/sdkv2_generate_resource_config.go.in" "$dest/helper/schema/zz_generate_resource_config.go"
go mod edit -replace "github.com/hashicorp/terraform-plugin-sdk/v2=$dest"
echo "terraform-plugin-sdk/v2 => $dest ($fork@$ver + compat)"
