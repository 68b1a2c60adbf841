"""End to end: a stack deployed by the previous layout of the program upgrades to this one in place.

Two resources moved: the registry's HTTP secret from `PrivateRegistry` into `RegistryContainer`
(commit 0c61830), and the Kubernetes provider from `PullSecrets` up to `PrivateRegistry` (a6af4c5).
Aliases keep both: without them the upgrade would generate a new HTTP secret and replace the
registry container, and replace every Kubernetes resource. Only the new `NodeTrust` component (no
cloud resource of its own here) and the target guard (which records the stack's target) are added.
The old program comes from the repository's history, so this test needs a clone with history (not
`--depth`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.e2e.conftest import PROJECT_FILES, REGISTRY_IMAGE, REPO, Stack, copy_project, free_port, run

BEFORE_THE_MOVE = "7c059acfa8d86bc9136071ccb1bab05c185fbe4a"  # the last commit with the HTTP secret as a child of PrivateRegistry


def old_program(target: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", BEFORE_THE_MOVE, *PROJECT_FILES], capture_output=True, check=False
    )
    assert archive.returncode == 0, (
        f"git archive {BEFORE_THE_MOVE} failed ({archive.stderr.decode().strip()}): this test needs the repository's "
        "history (a clone without --depth)"
    )
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    (target / "venv").symlink_to(REPO / "venv")
    return target


def test_upgrade_from_the_previous_layout_changes_nothing(workdir: Path) -> None:
    project = old_program(workdir / "upgrade-project")
    stack = Stack(workdir / "upgrade", "e2e-upgrade", project_dir=project)
    suffix = workdir.name[-6:].replace("_", "")
    container, volume = f"registry-upgrade-{suffix}", f"registry-data-upgrade-{suffix}"
    stack.init(
        {
            "image": REGISTRY_IMAGE,
            "pullImage": False,
            "port": free_port(),
            "containerName": container,
            "dataVolume": volume,
            "retainData": False,
            "pullSecret": {"namespaces": ["apps"]},
            "kubernetes": {"mode": "render", "renderDirectory": str(workdir / "upgrade-rendered")},
            "users": [{"name": "admin"}],
        }
    )
    stack.set_secret("users[0].password", "upgrade-" + os.urandom(8).hex())
    stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")  # render mode: no cluster at all
    try:
        stack.up()
        before = run(["docker", "inspect", "-f", "{{.Id}}", container]).stdout.strip()
        # The new program over the old one, as a `git pull` would do it.
        for name in PROJECT_FILES:
            path = project / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        copy_project(project, link_venv=False)
        steps = stack.preview_steps()
        planned = {(step["op"], step["urn"].rsplit("::", 2)[-2].rsplit("$", 1)[-1]) for step in steps}
        # The target guard (2026-12) records the target; it touches nothing.
        expected = {("create", "private-registry:index:NodeTrust"), ("create", "pulumi-python:dynamic:Resource")}
        assert planned == expected, json.dumps(steps, indent=1)[:3000]
        stack.up()
        stack.pulumi("preview", "--expect-no-changes")
        assert run(["docker", "inspect", "-f", "{{.Id}}", container]).stdout.strip() == before
        state = json.loads(stack.pulumi("stack", "export").stdout)
        urns = [r["urn"] for r in state["deployment"]["resources"]]
        assert any(u.endswith("RegistryContainer$pulumi-python:dynamic:Resource::registry-registry-http-secret") for u in urns)
        assert not any(u.endswith("::registry-http-secret") for u in urns)
        assert any(u.endswith("PrivateRegistry$pulumi:providers:kubernetes::registry-k8s") for u in urns)
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)
