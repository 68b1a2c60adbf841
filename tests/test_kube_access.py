"""Unit tests: the permission check before a cluster-mode preview (scripts/kube_access.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from kube_access import Need, cluster_context, main, missing, needed


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


def test_without_kubectl_it_says_so_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "config.json"
    file.write_text(json.dumps(config(kubernetes={"context": "c"})))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--stack", "dev", "--config", str(file)]) == 0
    assert "kubectl is not on PATH" in capsys.readouterr().out


def test_a_denied_verb_fails_the_check_through_kubectl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kubectl that allows all but `patch secrets`: the check fails and names it."""
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\n[ "$3" = patch ] && [ "$4" = secrets ] && exit 1\nexit 0\n')
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    file = tmp_path / "config.json"
    file.write_text(json.dumps(config(kubernetes={"context": "c"})))
    assert main(["--stack", "dev", "--config", str(file)]) == 1
    assert "missing: patch on secrets in namespace default (pull secret)" in capsys.readouterr().out
