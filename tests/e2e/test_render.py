"""End to end: `kubernetes.mode: render` writes the pull secret manifests to a folder, no cluster needed."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import yaml

from tests.e2e.helpers import Stack, throwaway_registry_stack


def test_render_mode_writes_owner_only_manifests(workdir: Path) -> None:
    folder = workdir / "rendered"
    settings = {
        "pullSecret": {"namespaces": ["apps"], "allowPushUser": True},
        "kubernetes": {"mode": "render", "renderDirectory": str(folder)},
    }
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


def test_render_mode_renders_the_whole_kubernetes_target(workdir: Path) -> None:
    folder = workdir / "rendered-kube"
    stack = Stack(workdir / "kube", "e2e-render-kube")  # its own copy of the project: the module's is taken
    stack.init(
        {
            "target": "kubernetes",
            "storage": {"driver": "s3", "bucket": "images", "endpoint": "http://10.0.0.9:9000", "insecure": True},
            "pullSecret": {"namespaces": ["apps"], "allowPushUser": True},
            "kubernetes": {"mode": "render", "renderDirectory": str(folder)},
            "localRegistryHosting": False,
        }
    )
    stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")  # no cluster access at all
    try:
        stack.up()
        manifests = [m for m in (yaml.safe_load(p.read_text()) for p in folder.rglob("*.yaml")) if m]
        kinds = sorted(m["kind"] for m in manifests)
        assert kinds == ["Deployment", "Namespace", "PodDisruptionBudget", "Secret", "Secret", "Secret", "Secret", "Service"]
        deployment = next(m for m in manifests if m["kind"] == "Deployment")
        assert deployment["spec"]["replicas"] == 2 and deployment["metadata"]["namespace"] == "registry-e2e-render-kube"
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["REGISTRY_STORAGE"]["value"] == "s3"
        assert env["REGISTRY_HTTP_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "registry-env"
        stack.pulumi("preview", "--expect-no-changes")
    finally:
        stack.pulumi("destroy", "--yes", check=False)
