"""Unit tests: the permission check before a cluster-mode preview (scripts/kube_access.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import kube_access
from kube_access import Need, cluster_context, main, missing, needed

from components.kube_api import KubeApiError, impersonation, kubeconfig_files


def entry(value: object) -> dict[str, object]:
    """A setting as `pulumi config --json` prints it: objects as JSON text and as `objectValue`."""
    if isinstance(value, (dict, list)):
        return {"value": json.dumps(value), "objectValue": value, "secret": False}
    return {"value": value, "secret": False}


def config(**settings: object) -> dict[str, object]:
    return {f"private-registry:{key}": entry(value) for key, value in settings.items()}


def test_only_cluster_mode_with_a_context_is_checked() -> None:
    assert cluster_context(config(kubernetes={"context": "prod"})) == "prod"
    assert cluster_context(config(kubernetes={"context": "prod", "mode": "cluster"})) == "prod"
    assert cluster_context(config(kubernetes={"context": "prod", "mode": "render"})) is None
    assert cluster_context(config()) is None
    # A secret setting comes without its value and changes nothing here.
    assert cluster_context({"private-registry:users": {"secret": True}, **config(kubernetes={"context": "c"})}) == "c"


def test_target_docker_needs_the_pull_secrets_namespaces() -> None:
    assert needed(config(kubernetes={"context": "c"}), "dev") == [Need("secrets", "default", "pull secret")]
    found = needed(config(pullSecret={"namespaces": ["apps", "ci"], "patchDefaultServiceAccount": True}), "dev")
    assert [(n.resource, n.namespace) for n in found] == [
        ("secrets", "apps"),
        ("secrets", "ci"),
        ("serviceaccounts", "apps"),
        ("serviceaccounts", "ci"),
    ]


def test_target_kubernetes_needs_every_kind_in_its_namespace_and_the_namespace() -> None:
    found = needed(
        config(target="kubernetes", metrics={"serviceMonitor": True}, nodeTrust={"mode": "daemonset"}, localRegistryHosting=True),
        "prod",
    )
    kinds = {(n.resource, n.namespace) for n in found}
    assert ("namespaces", None) in kinds and ("deployments.apps", "registry-prod") in kinds
    assert ("servicemonitors.monitoring.coreos.com", "registry-prod") in kinds
    assert ("daemonsets.apps", "kube-system") in kinds and ("configmaps", "kube-public") in kinds
    assert ("poddisruptionbudgets.policy", "registry-prod") in kinds


def test_a_missing_patch_names_itself() -> None:
    def can_i(verb: str, resource: str, namespace: str | None) -> bool:
        return not (verb == "patch" and resource == "secrets")

    lines = missing([Need("secrets", "apps", "pull secret"), Need("namespaces", None, "ns")], can_i)
    assert lines == ["missing: patch on secrets in namespace apps (pull secret)"]


def test_a_denied_verb_fails_the_check_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An identity that may do all but `patch secrets`: the check fails and names it."""
    monkeypatch.setattr(
        kube_access, "api_can_i", lambda context: lambda verb, resource, ns: (verb, resource) != ("patch", "secrets")
    )
    file = tmp_path / "config.json"
    file.write_text(json.dumps(config(kubernetes={"context": "c"})))
    assert main(["--stack", "dev", "--config", str(file)]) == 1
    assert "missing: patch on secrets in namespace default (pull secret)" in capsys.readouterr().out


def test_pods_exec_is_noted_for_a_preview_and_required_for_an_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Target kubernetes: the pull gate needs `create pods/exec`, which a PR check's identity may lack."""
    monkeypatch.setattr(kube_access, "api_can_i", lambda context: lambda verb, resource, ns: resource != "pods/exec")
    file = tmp_path / "config.json"
    file.write_text(json.dumps(config(kubernetes={"context": "c"}, target="kubernetes")))
    assert main(["--stack", "prod", "--config", str(file)]) == 0
    printed = capsys.readouterr().out
    assert "note, not needed by a preview but by `pulumi up`" in printed
    assert "missing: create on pods/exec in namespace registry-prod (the pull gate" in printed
    assert main(["--stack", "prod", "--config", str(file), "--for", "up"]) == 1
    assert "missing: create on pods/exec in namespace registry-prod (the pull gate" in capsys.readouterr().out
    # target docker has no gate: nothing to note
    file.write_text(json.dumps(config(kubernetes={"context": "c"})))
    assert main(["--stack", "prod", "--config", str(file), "--for", "up"]) == 0
    assert "pods/exec" not in capsys.readouterr().out


def test_the_kubeconfig_users_impersonation_becomes_headers() -> None:
    """kubectl and the provider honour `as`/`as-groups` of the kubeconfig user; the Python client does not,
    so the program's own steps send the headers themselves (first file naming a context or user wins)."""
    first = {
        "current-context": "a",
        "contexts": [{"name": "a", "context": {"user": "u"}}, {"name": "b", "context": {"user": "plain"}}],
        "users": [{"name": "u", "user": {"token": "x", "as": "reader", "as-groups": ["team"]}}],
    }
    second = {"current-context": "b", "users": [{"name": "u", "user": {"as": "other"}}, {"name": "plain", "user": {}}]}
    assert impersonation([first, second], None) == {"Impersonate-User": "reader", "Impersonate-Group": "team"}
    assert impersonation([first, second], "b") == {}
    assert impersonation([second, first], None) == {}  # the first current-context (b) wins
    many = {**first, "users": [{"name": "u", "user": {"as": "r", "as-groups": ["x", "y"]}}]}
    with pytest.raises(KubeApiError, match="impersonates several groups"):
        impersonation([many], "a")
    assert [str(p) for p in kubeconfig_files({"KUBECONFIG": "/a:/b"})] == ["/a", "/b"]
    assert kubeconfig_files({})[0].name == "config"
