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


# the last commit where a stack without `kubernetes` wrote into the kubeconfig's current context
BEFORE_NAMED_CLUSTERS = "7e2b621d40bcb90441e5ceac9389a0d66f0a1669"


def old_program(target: Path, commit: str = BEFORE_THE_MOVE) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, *PROJECT_FILES], capture_output=True, check=False
    )
    assert archive.returncode == 0, (
        f"git archive {commit} failed ({archive.stderr.decode().strip()}): this test needs the repository's "
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


def test_a_stack_from_before_named_clusters_is_stopped_until_it_names_one_and_then_keeps_its_pull_secret(
    workdir: Path,
) -> None:
    project = old_program(workdir / "unnamed-project", BEFORE_NAMED_CLUSTERS)
    stack = Stack(workdir / "unnamed", "e2e-unnamed", project_dir=project)
    suffix = os.urandom(3).hex()
    container, volume, namespace = f"registry-unnamed-{suffix}", f"registry-data-unnamed-{suffix}", "default"
    # No `kubernetes` setting and the default namespaces: the old program wrote the pull secret into
    # `default` of the kubeconfig's current context; the new one's default is no cluster at all.
    stack.init(
        {
            "image": REGISTRY_IMAGE,
            "pullImage": False,
            "port": free_port(),
            "containerName": container,
            "dataVolume": volume,
            "retainData": False,
            "localRegistryHosting": False,
            "pullSecret": {"name": f"pull-{suffix}"},
        }
    )
    try:
        stack.up()
        uid = run(["kubectl", "get", "secret", f"pull-{suffix}", "-n", namespace, "-o", "jsonpath={.metadata.uid}"]).stdout
        for name in PROJECT_FILES:
            path = project / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        copy_project(project, link_venv=False)
        # The new program names no cluster for it: the preview stops before anything, saying what to set.
        refused = stack.pulumi("preview", check=False)
        assert refused.returncode != 0
        out = refused.stdout + refused.stderr
        assert "private-registry:kubernetes is not set. This stack was deployed before 2026-12-02" in out, out
        stack.configure({"kubernetes": {"context": "sandbox"}})
        steps = stack.preview_steps()
        planned = {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in steps}
        # the guard records the named cluster in place (and the provider its context, if it shows one);
        # nothing is replaced or deleted, the pull secret stays as it is
        assert ("update", "registry-target") in planned, json.dumps(steps, indent=1)[:3000]
        assert planned <= {("update", "registry-target"), ("update", "registry-k8s")}, json.dumps(steps, indent=1)[:3000]
        stack.up()
        stack.pulumi("preview", "--expect-no-changes")
        after = run(["kubectl", "get", "secret", f"pull-{suffix}", "-n", namespace, "-o", "jsonpath={.metadata.uid}"]).stdout
        assert after == uid
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)
        run(["kubectl", "delete", "secret", f"pull-{suffix}", "-n", namespace, "--ignore-not-found"], check=False)
