"""Unit tests: the program's own Kubernetes API client (components/kube_api.py) reads a kubeconfig as
kubectl does, and a credential plugin gets kubectl's environment, not the stack's secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from components.kube_api import KubeApi

PLUGIN = """import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump(dict(os.environ), f)
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": "from-the-plugin"}}))
"""


def test_a_credential_plugin_gets_kubectls_environment_and_its_token_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin, seen = tmp_path / "plugin.py", tmp_path / "seen.json"
    plugin.write_text(PLUGIN)
    exec_config = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(plugin), str(seen)],
        "env": [{"name": "FROM_KUBECONFIG", "value": "1"}],
        "interactiveMode": "Never",
    }
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": exec_config}}],
        "contexts": [{"name": "eks", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "eks",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "stack-secret")
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-secret")
    monkeypatch.setenv("AWS_PROFILE", "platform")  # what `aws eks get-token` reads
    api = KubeApi("eks")
    env = json.loads(seen.read_text())
    assert env["AWS_PROFILE"] == "platform" and env["FROM_KUBECONFIG"] == "1"
    assert not [name for name in env if name.startswith("PULUMI_")], sorted(env)
    assert api._client.configuration.api_key["authorization"] == "Bearer from-the-plugin"
