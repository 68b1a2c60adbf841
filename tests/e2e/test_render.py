"""End to end: `kubernetes.mode: render` writes the pull secret manifests to a folder, no cluster needed."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import yaml

from tests.e2e.conftest import throwaway_registry_stack


def test_render_mode_writes_owner_only_manifests(workdir: Path) -> None:
    folder = workdir / "rendered"
    settings = {"pullSecret": {"namespaces": ["apps"]}, "kubernetes": {"mode": "render", "renderDirectory": str(folder)}}
    with throwaway_registry_stack(workdir, "e2e-render", settings) as stack:
        stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")  # no cluster access at all
        stack.up()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        manifests = [yaml.safe_load(p.read_text()) for p in folder.rglob("*.yaml")]
        secrets = [m for m in manifests if m and m.get("kind") == "Secret"]
        assert len(secrets) == 1 and secrets[0]["metadata"]["namespace"] == "apps"
        assert secrets[0]["type"] == "kubernetes.io/dockerconfigjson"
        document = json.loads(base64.b64decode(secrets[0]["data"][".dockerconfigjson"]))
        out = stack.outputs()
        auth = base64.b64decode(document["auths"][out["endpoint"]]["auth"]).decode()
        matches = auth == f"admin:{out['passwords']['admin']}"
        assert matches, "the rendered pull secret's auth is not admin's user:password"  # no secret in the report
        stack.pulumi("preview", "--expect-no-changes")
