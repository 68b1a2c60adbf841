"""End to end: a stack deployed by the previous layout of the program upgrades to this one in place.

Two resources moved: the registry's HTTP secret from `PrivateRegistry` into `RegistryContainer`
(commit 0c61830), and the Kubernetes provider from `PullSecrets` up to `PrivateRegistry` (a6af4c5).
Aliases keep both: without them the upgrade would generate a new HTTP secret, and replace every
Kubernetes resource. (The container itself is replaced once by the hardening of 2026-12.) Only the new `NodeTrust` component (no
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from components.names import registry_slug
from tests.e2e.helpers import PROJECT_FILES, REGISTRY_HOST, REGISTRY_IMAGE, REPO, Stack, copy_project, free_port, run

BEFORE_THE_MOVE = "7c059acfa8d86bc9136071ccb1bab05c185fbe4a"  # the last commit with the HTTP secret as a child of PrivateRegistry


# the last commit where a stack without `kubernetes` wrote into the kubeconfig's current context
BEFORE_NAMED_CLUSTERS = "7e2b621d40bcb90441e5ceac9389a0d66f0a1669"

# the last commit with target docker's containers as children of PrivateRegistry (no RegistryHost)
BEFORE_THE_DOCKER_COMPONENT = "8ac4eb2db2399958f2b4d2a933a5ead007df93ea"


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


@contextmanager
def stack_of_old_program(workdir: Path, name: str, commit: str, settings: dict[str, Any]) -> Iterator[tuple[Stack, str]]:
    """A stack deployed by the program of `commit` (its own container and volume); destroyed after.
    Yields the stack and its container's name.
    """
    project = old_program(workdir / f"{name}-project", commit)
    stack = Stack(workdir / name, f"e2e-{name}", project_dir=project)
    suffix = os.urandom(3).hex()
    container, volume = f"registry-{name}-{suffix}", f"registry-data-{name}-{suffix}"
    base = {"image": REGISTRY_IMAGE, "pullImage": False, "port": free_port(), "retainData": False}
    stack.init({**base, "containerName": container, "dataVolume": volume, **settings})
    try:
        yield stack, container
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume, f"{container}-config"], check=False)


def http_secret(container: str) -> str:
    """The registry's HTTP secret, from the container's environment (compared, never printed)."""
    env = json.loads(run(["docker", "inspect", "-f", "{{json .Config.Env}}", container]).stdout)
    return next(e.split("=", 1)[1] for e in env if e.startswith("REGISTRY_HTTP_SECRET="))


def upgrade(stack: Stack) -> None:
    """The new program over the old one, as a `git pull` would do it."""
    for name in PROJECT_FILES:
        path = stack.project_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    copy_project(stack.project_dir, link_venv=False)


def test_upgrade_from_the_previous_layout_changes_nothing(workdir: Path) -> None:
    settings = {
        "pullSecret": {"namespaces": ["apps"]},
        "kubernetes": {"mode": "render", "renderDirectory": str(workdir / "upgrade-rendered")},
        "users": [{"name": "admin"}],
    }
    with stack_of_old_program(workdir, "upgrade", BEFORE_THE_MOVE, settings) as (stack, container):
        stack.set_secret("users[0].password", "upgrade-" + os.urandom(8).hex())
        stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")  # render mode: no cluster at all
        stack.up()
        before = http_secret(container)
        upgrade(stack)
        # Deployed before the target guard (2026-12-01), the stack has no record of its pull secret
        # namespaces: like a new stack, it is stopped before anything until it allows the push user.
        refused = stack.pulumi("preview", check=False)
        out = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "the pull secret in apps would carry a user who can push" in out, out
        stack.configure({"pullSecret": {"namespaces": ["apps"], "allowPushUser": True}})  # docs/upgrading.md
        steps = stack.preview_steps()
        planned = {(step["op"], step["urn"].rsplit("::", 2)[-2].rsplit("$", 1)[-1]) for step in steps}
        # The target guard (2026-12) records the target; it touches nothing. The container is replaced
        # once for the hardening of 2026-12 (non-root, read-only root, no capabilities, its files in a
        # config volume written by a one-shot step, memory and log limits).
        expected = {
            ("create", "private-registry:index:RegistryHost"),  # target docker's component (2026-12-07)
            ("create", "private-registry:index:NodeTrust"),
            ("create", "pulumi-python:dynamic:Resource"),
            ("replace", "docker:index/container:Container"),
            ("create", "pulumi-python:dynamic/private-registry:ConfigFiles"),
        }
        assert planned == expected, json.dumps(steps, indent=1)[:3000]
        stack.up()
        stack.pulumi("preview", "--expect-no-changes")
        assert http_secret(container) == before  # kept through the alias: uploads in progress survive
        state = json.loads(stack.pulumi("stack", "export").stdout)
        urns = [r["urn"] for r in state["deployment"]["resources"]]
        assert any(u.endswith("RegistryContainer$pulumi-python:dynamic:Resource::registry-registry-http-secret") for u in urns)
        assert not any(u.endswith("::registry-http-secret") for u in urns)
        assert any(u.endswith("PrivateRegistry$pulumi:providers:kubernetes::registry-k8s") for u in urns)


def test_a_stack_from_before_named_clusters_is_stopped_until_it_names_one_and_then_keeps_its_pull_secret(
    workdir: Path,
) -> None:
    # No `kubernetes` setting and the default namespaces: the old program wrote the pull secret into
    # `default` of the kubeconfig's current context; the new one's default is no cluster at all.
    secret = f"pull-{os.urandom(3).hex()}"
    settings = {"localRegistryHosting": False, "pullSecret": {"name": secret}}
    uid_of_secret = [
        "kubectl", "get", "secret", secret, "-n", "default", "-o", "jsonpath={.metadata.uid} {.metadata.resourceVersion}"
    ]  # fmt: skip
    try:
        with stack_of_old_program(workdir, "unnamed", BEFORE_NAMED_CLUSTERS, settings) as (stack, _):
            stack.up()
            uid = run(uid_of_secret).stdout
            upgrade(stack)
            # The new program names no cluster for it: the preview stops before anything, saying what to set.
            refused = stack.pulumi("preview", check=False)
            out = refused.stdout + refused.stderr
            assert refused.returncode != 0
            assert "private-registry:kubernetes is not set. This stack was deployed before 2026-12-02" in out, out
            stack.configure({"kubernetes": {"context": "sandbox"}})
            steps = stack.preview_steps()
            planned = {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in steps}
            # the guard records the named cluster in place (and the provider its context, if it shows
            # one); no Kubernetes object is replaced or deleted, the pull secret stays as it is (the
            # container is replaced once for the hardening of 2026-12, its files go into a config
            # volume, and the pull credential of rotations is recorded)
            assert ("update", "registry-target") in planned, json.dumps(steps, indent=1)[:3000]
            allowed = {
                ("create", "registry"),  # RegistryHost, target docker's component (2026-12-07): its containers move in
                ("update", "registry-target"),
                ("update", "registry-k8s"),
                ("replace", "registry-registry-container"),
                ("create", "registry-registry-config-files"),
                ("create", "registry-users-pull-credential"),
                # A preview cannot know the new pull credential's outputs before its create, so it
                # shows the users file and the pull secret as possibly changing; the `up` changes
                # neither (the Secret keeps its uid and resourceVersion, the preview after it is clean).
                ("update", "registry-users-file"),
                ("update", "registry-pull-secrets-default"),
            }
            assert planned <= allowed, json.dumps(steps, indent=1)[:3000]
            stack.up()
            stack.pulumi("preview", "--expect-no-changes")
            assert run(uid_of_secret).stdout == uid
    finally:
        run(["kubectl", "delete", "secret", secret, "-n", "default", "--ignore-not-found"], check=False)


def container_ids(*names: str) -> list[str]:
    return [run(["docker", "inspect", "-f", "{{.Id}}", name]).stdout.strip() for name in names]


def test_a_read_only_instance_and_a_mirror_move_under_the_docker_component_in_place(workdir: Path) -> None:
    """Target docker's containers became children of `RegistryHost` (2026-12-07). A stack with a
    read-only instance and a mirror, deployed before, plans only that component: no replace, no
    delete, every container and the HTTP secret kept. The mirror's upstream is a plain registry
    container on the sandbox bridge (a mirror checks its upstream when it starts).
    """
    upstream, upstream_port = f"upstream-{os.urandom(3).hex()}", free_port()
    run(["docker", "run", "-d", "--name", upstream, "-p", f"{REGISTRY_HOST}:{upstream_port}:5000", REGISTRY_IMAGE])
    address = f"{REGISTRY_HOST}:{upstream_port}"
    settings = {
        "users": [{"name": "admin"}, {"name": "puller", "access": "pull"}],
        "pullPort": free_port(),
        "mirrors": {address: {"port": free_port(), "remoteUrl": f"http://{address}", "insecure": True}},
        "localRegistryHosting": False,
    }
    slug = registry_slug(address)
    try:
        with stack_of_old_program(workdir, "hostmove", BEFORE_THE_DOCKER_COMPONENT, settings) as (stack, container):
            names = (container, f"{container}-pull", f"{container}-mirror-{slug}")
            try:
                stack.up()
                before, secret = container_ids(*names), http_secret(container)
                upgrade(stack)
                steps = stack.preview_steps()
                planned = {(step["op"], step["urn"].rsplit("::", 2)[-2].rsplit("$", 1)[-1]) for step in steps}
                assert planned == {("create", "private-registry:index:RegistryHost")}, json.dumps(steps, indent=1)[:3000]
                stack.up()
                stack.pulumi("preview", "--expect-no-changes")
                assert container_ids(*names) == before and http_secret(container) == secret
                state = json.loads(stack.pulumi("stack", "export").stdout)
                urns = [r["urn"] for r in state["deployment"]["resources"]]
                moved = sorted(
                    u.rsplit("::", 1)[1] for u in urns if "RegistryHost$private-registry:index:RegistryContainer::" in u
                )
                assert moved == [f"registry-mirror-{slug}", "registry-pull", "registry-registry"], urns
                assert not any("PrivateRegistry$private-registry:index:RegistryContainer::" in u for u in urns), urns
            finally:
                run(["docker", "rm", "-f", *names[1:]], check=False)
                volumes = [f"{names[1]}-config", f"{names[2]}-config", f"{stack_volume(container)}-mirror-{slug}"]
                run(["docker", "volume", "rm", *volumes], check=False)
    finally:
        run(["docker", "rm", "-f", upstream], check=False)


def stack_volume(container: str) -> str:
    """The data volume `stack_of_old_program` names beside its container."""
    return container.replace("registry-", "registry-data-", 1)
