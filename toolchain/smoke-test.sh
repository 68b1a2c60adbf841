#!/usr/bin/env bash
# Smoke test of the offline toolchain: a throwaway Python project (config, a
# secret, a pulumi.dynamic resource) goes through `pulumi up`, `preview` and
# `destroy` on a file backend in a temp dir, with the CLI kept offline (env.sh).
#
#   bash toolchain/smoke-test.sh [VENV]      (default VENV: <repo>/venv)
#
# The venv must hold the pinned `pulumi` SDK; every Pulumi package in it needs
# its plugin installed (bash toolchain/install-plugins.sh), as in a real run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$TC_DIR/env.sh"
venv=$(cd "${1:-$REPO_ROOT/venv}" && pwd)
[ -x "$venv/bin/python" ] || tc_die "no virtualenv at $venv"
command -v pulumi >/dev/null || tc_die "pulumi not on PATH; run: bash toolchain/build.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proj" "$work/state"
cat >"$work/proj/Pulumi.yaml" <<YAML
name: toolchain-smoke
runtime:
  name: python
  options:
    virtualenv: $venv
YAML
cat >"$work/proj/__main__.py" <<'PY'
import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

class Doubler(ResourceProvider):
    def create(self, props):
        return CreateResult(id_="d1", outs={"v": props["v"] * 2})

class Doubled(Resource):
    v: pulumi.Output[int]
    def __init__(self, name, v, opts=None):
        super().__init__(Doubler(), name, {"v": v}, opts)

cfg = pulumi.Config()
pulumi.export("greeting", "hello " + cfg.require("who"))
pulumi.export("secret_len", cfg.require_secret("pw").apply(len))
pulumi.export("doubled", Doubled("d", 21).v)
PY
export PULUMI_BACKEND_URL=file://$work/state PULUMI_CONFIG_PASSPHRASE=smoke
cd "$work/proj"
pulumi version
pulumi stack init smoke --non-interactive
pulumi config set who world
pulumi config set --secret pw hunter2
pulumi up --yes --non-interactive --skip-preview
out=$(pulumi stack output --json --show-secrets)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o == {"greeting": "hello world", "secret_len": 7, "doubled": 42}, o
PY
pulumi preview --non-interactive --expect-no-changes
pulumi destroy --yes --non-interactive
echo "toolchain smoke test: OK"
