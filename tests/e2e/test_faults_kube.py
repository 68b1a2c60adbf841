"""Faults on the Kubernetes side, and a PR check from another machine.

- The API server down during `up`: the error names the Kubernetes step, the registry keeps serving,
  nothing created is lost, and once the API server is back the next `up` converges.
- `pulumi preview --expect-no-changes` from a second clone at another path, with the kubeconfig at
  another path, shows no changes (the provider's inputs hold no kubeconfig path).

The API server is started again whatever happens: the other end-to-end tests share the sandbox.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.faults import (
    Deployed,
    OutageProbe,
    container_id,
    deployed_registry,
    ensure_apiserver_running,
    pending_operations,
    sandbox,
    state_container_id,
)
from tests.e2e.helpers import SANDBOX_CLUSTER, Stack, copy_project, record, run

NAMESPACE = "default"


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], check=check, timeout=60)


@pytest.fixture(scope="module")
def registry(workdir: Path) -> Iterator[Deployed]:
    # A secret name of its own: the dev stack owns the default one on this cluster.
    pull_secret = {"name": f"faults-pull-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True}
    settings = {"pullSecret": pull_secret, **SANDBOX_CLUSTER}
    with deployed_registry(workdir, "e2e-faults-kube", settings) as deployed:
        yield deployed


def pull_secret_credential(registry: Deployed) -> tuple[str, str]:
    """The user and password in the Secret the API server holds (never printed)."""
    name = registry.stack.outputs()["pullSecretName"]
    secret = json.loads(kubectl("get", "secret", name, "-n", NAMESPACE, "-o", "json").stdout)
    document = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    auth = next(iter(document["auths"].values()))
    return str(auth["username"]), str(auth["password"])


def assert_names_the_kubernetes_step(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"kubernetes:core/v1:Secret (registry-pull-secrets-{NAMESPACE})" in output, output
    assert "configured Kubernetes cluster is unreachable" in output, output


def test_apiserver_down_during_up_fails_on_the_kubernetes_step_only(registry: Deployed) -> None:
    stack = registry.stack
    old = pull_secret_credential(registry)
    image = registry.client.push_image("faults/apiserver", "1")
    old_container = container_id(registry.container)
    # A new pull-user password: the Docker side (the htpasswd file, rewritten in place) and the pull secret.
    new_password = "admin-" + os.urandom(8).hex()
    stack.set_secret("users[0].password", new_password)
    try:
        sandbox("stop-apiserver")
        assert kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0, "the API server must be down"
        with OutageProbe(registry.client) as probe:
            # The pull secret fails; the registry got the new credential beside the old one, and restarted nothing.
            started = time.perf_counter()
            failed = stack.pulumi("up", "--yes", "--skip-preview", check=False)
            failed_after = time.perf_counter() - started
            assert_names_the_kubernetes_step(failed)
            time.sleep(0.5)
        assert probe.longest == 0, "the registry must go on serving the old password"
        assert registry.client.with_user("admin~rotated", new_password).authenticated(), "the new credential is in place"
        assert container_id(registry.container) == old_container == state_container_id(stack)
        assert pending_operations(stack) == []
    finally:
        ensure_apiserver_running()
    unchanged = pull_secret_credential(registry) == old  # a bool: a failing assert must not print passwords
    assert unchanged, "the Secret cannot have changed without an API server"
    # Once the API server is back: the pull secret switches, and the old password (kept by the failed run) goes.
    steps = stack.preview_steps()
    assert {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps} == {
        ("update", f"registry-pull-secrets-{NAMESPACE}"),
        ("update", "registry-users-file"),
        ("update", "registry-registry-config-files"),
    }, steps
    started = time.perf_counter()
    stack.up()
    converged_after = time.perf_counter() - started
    record(f"API server down: `pulumi up` failed on the pull secret after {failed_after:.1f} s (registry serving, "
           f"0 s down, nothing restarted); API server back: `pulumi up` converged in {converged_after:.1f} s")  # fmt: skip
    updated = pull_secret_credential(registry) == ("admin~rotated", new_password)
    assert updated, "the pull secret must carry the new password once the API server is back"
    assert not registry.client.authenticated(), "the old password is gone"
    registry.client.with_password(new_password).assert_image("faults/apiserver", "1", image)
    assert container_id(registry.container) == old_container
    stack.pulumi("preview", "--expect-no-changes")


def test_preview_from_another_clone_and_kubeconfig_path_shows_no_changes(registry: Deployed, tmp_path: Path) -> None:
    stack = registry.stack
    # Another machine: the project at another path, the same backend and passphrase, the kubeconfig elsewhere.
    clone = copy_project(tmp_path / "elsewhere" / "private-registry")
    shutil.copy2(stack.project_dir / f"Pulumi.{stack.name}.yaml", clone / f"Pulumi.{stack.name}.yaml")
    kubeconfig = tmp_path / "home" / ".kube" / "config"
    kubeconfig.parent.mkdir(parents=True)
    shutil.copy2(os.environ["KUBECONFIG"], kubeconfig)
    other = Stack(stack.workdir, stack.name, project_dir=clone)
    other.env["KUBECONFIG"] = str(kubeconfig)
    assert other.state_dir == stack.state_dir
    other.pulumi("preview", "--expect-no-changes")
    steps = [s for s in json.loads(other.pulumi("preview", "--json").stdout).get("steps", []) if s.get("op") != "same"]
    assert steps == [], steps
    # The provider's inputs in state hold no kubeconfig path (nothing machine-specific to diff against).
    provider = next(
        r for r in json.loads(stack.pulumi("stack", "export").stdout)["deployment"]["resources"]
        if r["type"] == "pulumi:providers:kubernetes"
    )  # fmt: skip
    assert provider["inputs"].get("kubeconfig", "") == "", provider["inputs"]
    # The original checkout stays clean too, with a plain preview.
    plain = stack.pulumi("preview")
    assert "no changes" in plain.stdout.lower() or "unchanged" in plain.stdout.lower(), plain.stdout
    stack.pulumi("preview", "--expect-no-changes")
    record("PR check from a second clone with the kubeconfig at another path: no changes")
