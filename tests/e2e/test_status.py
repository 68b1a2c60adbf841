"""End to end on the sandbox: `scripts/status.sh` against a live stack of each target.

Target `docker` with a read-only instance: images pushed, a garbage collection run, then the
status in all three forms (human, `--json`, `--html` read back by a real headless Chromium from the
Debian packages) shows both instances healthy, the repositories with tags, sizes and push times,
the storage used and the collection's time, exit 0; with the read-only container stopped it exits
1 naming it. Target `kubernetes` with its claim: the Pods, repositories and push times. No password
appears in any output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.faults import RegistryClient, sandbox
from tests.e2e.helpers import REPO, Stack, free_port, record, run, throwaway_registry_stack
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_images import on_bridge, push_index
from tests.e2e.test_kube_target import init_kube_stack


def status(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "PROJECT_DIR": str(stack.project_dir)}
    return run(["bash", str(REPO / "scripts" / "status.sh"), stack.name, *args], env=env, check=False)


def browser_text(page: Path) -> str:
    """The page as a real browser renders it (its DOM after loading), offline."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: sandbox/install-deps.sh installs it"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()]
    return run(cmd, timeout=120).stdout


def no_secret(outputs: dict[str, Any], *texts: str) -> None:
    for password in outputs["passwords"].values():
        assert all(password not in text for text in texts)


def test_status_of_a_docker_stack_in_three_forms(workdir: Path) -> None:
    users = [{"name": "ci"}, {"name": "puller", "access": "pull"}]
    settings = on_bridge(free_port(), users=users, pullPort=free_port())
    with throwaway_registry_stack(workdir / "status", "e2e-status", settings) as s:
        s.up()
        out: dict[str, Any] = s.outputs()
        ci = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        ci.push_image("team/app", "1")
        ci.push_image("team/app", "2")
        push_index(ci, "team/multi", "1")
        env = {**s.env, "PROJECT_DIR": str(s.project_dir)}
        run(["bash", str(REPO / "scripts" / "gc.sh"), s.name], env=env)
        shown = status(s)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "nothing needs attention" in shown.stdout and "team/app: 2 tag(s)" in shown.stdout
        as_json = status(s, "--json")
        report = json.loads(as_json.stdout)
        assert [(i["role"], i["healthy"]) for i in report["instances"]] == [("registry", True), ("read-only", True)]
        tags = {(t["repository"], t["tag"]): t for t in report["tags"]}
        assert set(tags) >= {("team/app", "1"), ("team/app", "2"), ("team/multi", "1")}
        assert tags[("team/multi", "1")]["platforms"] == 2 and all(t["pushed"] for t in tags.values())
        assert report["storage_used_bytes"] > 0 and report["last_gc"] and report["certificate_days_left"] > 300
        page = workdir / "status.html"
        assert status(s, "--html", str(page)).returncode == 0
        rendered = browser_text(page)
        assert 'id="state">healthy<' in rendered and "team/multi" in rendered and report["last_gc"] in rendered
        run(["docker", "stop", out["pullContainerName"]])
        try:
            failing = status(s)
            assert failing.returncode == 1
            assert f"ATTENTION: container {out['pullContainerName']} (read-only) is exited" in failing.stdout, failing.stdout
            failing_page = workdir / "failing.html"
            status(s, "--html", str(failing_page))
            assert 'id="state">needs attention<' in browser_text(failing_page)
        finally:
            run(["docker", "start", out["pullContainerName"]])
        no_secret(out, shown.stdout, shown.stderr, as_json.stdout, page.read_text(), failing.stdout, failing.stderr)
        record(f"status.sh, target docker: {len(shown.stdout.splitlines())} lines; " + shown.stdout.splitlines()[0])
        record("status.sh, target docker: " + next(line for line in shown.stdout.splitlines() if line.startswith("storage:")))


NAMESPACE, NODE_PORT = "registry-e2e-status", 30546


def test_status_of_a_kubernetes_stack(workdir: Path) -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    bucket = f"e2e-status-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    kube = Stack(workdir / "kube-status", "e2e-kube-status")
    init_kube_stack(
        kube, NAMESPACE, NODE_PORT, bucket, {"replicas": 2, "users": [{"name": "ci"}], "pullSecret": {"namespaces": []}}
    )
    try:
        kube.up()
        out: dict[str, Any] = kube.outputs()
        ci = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        ci.push_image("team/app", "1")
        shown = status(kube)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        report = json.loads(status(kube, "--json").stdout)
        assert [(i["role"], i["healthy"]) for i in report["instances"]] == [("registry", True), ("registry", True)]
        assert [(t["repository"], t["tag"]) for t in report["tags"]] == [("team/app", "1")]
        no_secret(out, shown.stdout, shown.stderr)
        record("status.sh, target kubernetes: " + " | ".join(shown.stdout.splitlines()[:4]))
    finally:
        kube.pulumi("destroy", "--yes", check=False)
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
