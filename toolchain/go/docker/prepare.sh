#!/usr/bin/env bash
# Run by build-bridged.sh inside the build copy of this glue module (outside git).
# Pulumi's terraform-plugin-sdk/v2 fork (upstream 2.38.1) predates
# terraform-plugin-go v0.31, which the docker provider requires: copy the fork
# out of the module cache, add our one-method compat file, and point the
# replace at the copy.
set -euo pipefail
fork=github.com/pulumi/terraform-plugin-sdk/v2
ver=$(go mod edit -json | python3 -c 'import json,sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["Old"]["Path"]=="github.com/hashicorp/terraform-plugin-sdk/v2": print(r["New"]["Version"])')
dir=$(go mod download -json "$fork@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
dest=$PWD/../sdkv2-fork
rm -rf "$dest"
cp -r "$dir" "$dest"
chmod -R u+w "$dest"
cp "$PWD/compat/sdkv2_generate_resource_config.go.in" "$dest/helper/schema/zz_generate_resource_config.go"
go mod edit -replace "github.com/hashicorp/terraform-plugin-sdk/v2=$dest"
