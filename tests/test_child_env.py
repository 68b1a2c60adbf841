"""Child processes get only what their tool reads (components/child_env.py): never the stack's
passphrase, the backend's token or keys, a CI's token; docker no cloud key at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.child_env import child_env, dropped

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import status  # noqa: E402

SECRETS = {
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-value",
    "PULUMI_CONFIG_PASSPHRASE_FILE": "/secret/passphrase",
    "PULUMI_ACCESS_TOKEN": "pul-token",
    "GITHUB_TOKEN": "ghs-token",
    "ARM_CLIENT_SECRET": "arm-secret",
}
CLOUD = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "aws-secret", "AWS_PROFILE": "team"}
NEEDED = {"PATH": "/usr/bin", "HOME": "/home/u", "KUBECONFIG": "/home/u/kube", "DOCKER_HOST": "tcp://d:2376", "LC_ALL": "C.UTF-8"}
ENVIRON = {**SECRETS, **CLOUD, **NEEDED}


def test_docker_gets_its_own_variables_and_no_secret_or_cloud_key() -> None:
    env = child_env("docker", ENVIRON)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "DOCKER_HOST": "tcp://d:2376", "LC_ALL": "C.UTF-8"}


def test_kubectl_keeps_what_a_credential_plugin_reads_but_no_pulumi_or_ci_secret() -> None:
    env = child_env("kubectl", ENVIRON)
    assert not set(SECRETS) & set(env)
    assert env["KUBECONFIG"] == "/home/u/kube" and env["AWS_PROFILE"] == "team"  # aws eks get-token reads them
    assert "DOCKER_HOST" not in env


def test_no_pattern_lets_a_pulumi_variable_through() -> None:
    sneaky = {"AWS_PULUMI_CONFIG_PASSPHRASE": "x", "KUBECTL_PASSPHRASE": "x", "LC_PULUMI": "ok"}
    assert child_env("kubectl", sneaky) == {"LC_PULUMI": "ok"}
    with pytest.raises(ValueError, match="unknown tool 'skopeo'; known: docker, kubectl, plain"):
        child_env("skopeo", {})


def test_the_shell_form_lists_the_names_to_unset() -> None:
    env = {**ENVIRON, "BASH_FUNC_f%%": "() { :; }"}
    done = subprocess.run(
        [sys.executable, str(REPO / "components" / "child_env.py"), "drop", "docker"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == sorted({*SECRETS, *CLOUD, "KUBECONFIG"})  # a function is no value to unset
    assert dropped("plain", {"PATH": "/bin"}) == []


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every subprocess.run, its keyword arguments recorded, in an environment holding the secrets."""
    seen: list[dict[str, Any]] = []

    def fake_run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append({"args": args, **kwargs})
        return subprocess.CompletedProcess(args, 0, '{"items": []}', "")

    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    yield seen


def assert_scrubbed(call: dict[str, Any]) -> None:
    env = call.get("env")
    assert env is not None, f"{call['args'][:2]} inherits the whole environment"
    assert not set(SECRETS) & set(env), call["args"][:2]
    assert env["PATH"] == os.environ["PATH"]


# The program itself starts no kubectl: the pull gate and the node-trust cleanup use the Kubernetes API
# (components/kube_api.py), whose credential plugins get the kubectl environment (tests/test_kube_api.py).


def test_the_scripts_docker_and_kubectl_calls_are_scrubbed_and_docker_gets_no_cloud_key(calls: list[dict[str, Any]]) -> None:
    status.run_command(["docker", "inspect", "registry"])
    status.run_command(["/usr/local/bin/kubectl", "get", "pods"])
    docker, kubectl = calls
    for call in calls:
        assert_scrubbed(call)
    assert not set(CLOUD) & set(docker["env"]) and docker["env"]["DOCKER_HOST"] == "tcp://d:2376"
    assert kubectl["env"]["KUBECONFIG"] == "/home/u/kube"
