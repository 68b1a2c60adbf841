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

from tests.e2e.conftest import Stack, copy_project, record, run
from tests.e2e.faults import (
    Deployed,
    OutageProbe,
    container_id,
    deployed_registry,
    ensure_apiserver_running,
    pending_operations,
    sandbox,
    state_container_id,
    wait_until,
)

NAMESPACE = "default"


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], check=check, timeout=60)


@pytest.fixture(scope="module")
def registry(workdir: Path) -> Iterator[Deployed]:
    secret_name = f"faults-pull-{os.urandom(3).hex()}"  # the dev stack owns the default name on this cluster
    with deployed_registry(workdir, "e2e-faults-kube", {"pullSecret": {"name": secret_name, "namespaces": [NAMESPACE]}}) as deployed:
        yield deployed


def pull_secret_password(registry: Deployed) -> str:
    """The pull user's password in the Secret the API server holds (never printed)."""
    name = registry.stack.outputs()["pullSecretName"]
    secret = json.loads(kubectl("get", "secret", name, "-n", NAMESPACE, "-o", "json").stdout)
    document = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    auth = next(iter(document["auths"].values()))
    return str(auth["password"])


def test_apiserver_down_during_up_fails_on_the_kubernetes_step_only(registry: Deployed) -> None:
    stack = registry.stack
    old_password = pull_secret_password(registry)
    image = registry.client.push_image("faults/apiserver", "1")
    # A new pull-user password changes both sides: the container (htpasswd) and the pull secret.
    stack.set_secret("users[0].password", "admin-" + os.urandom(8).hex())
    try:
        sandbox("stop-apiserver")
        assert kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0, "the API server must be down"
        with OutageProbe(registry.client) as probe:
            started = time.perf_counter()
            failed = stack.pulumi("up", "--yes", "--skip-preview", check=False)
            failed_after = time.perf_counter() - started
            time.sleep(0.5)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output
        # The error names the Kubernetes step: the pull secret's resource and the unreachable cluster.
        assert f"registry-pull-secrets-{NAMESPACE}" in output and "kubernetes:core/v1:Secret" in output, output
        assert "unreachable" in output.lower() or "connection refused" in output.lower(), output
        # The registry keeps serving, with the new password: the Docker side completed and was recorded.
        client = registry.reconnect()
        assert client.authenticated(), "the registry must serve the new password while the API server is down"
        client.assert_image("faults/apiserver", "1", image)
        assert state_container_id(stack) == container_id(registry.container)
        assert pending_operations(stack) == []
    finally:
        ensure_apiserver_running()
    record(f"API server down: `pulumi up` failed on the pull secret after {failed_after:.1f} s; "
           f"registry unavailable {probe.longest:.1f} s (its own replacement)")  # fmt: skip
    assert pull_secret_password(registry) == old_password, "the Secret cannot have changed without an API server"
    started = time.perf_counter()
    stack.up()
    record(f"API server back: the next `pulumi up` converged in {time.perf_counter() - started:.1f} s")
    assert pull_secret_password(registry) == stack.outputs()["passwords"]["admin"] != old_password
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
