"""Unit tests: the PR-check summary of a `pulumi preview --json` (scripts/pr_summary.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from pr_summary import Change, changes, main, markdown, notices

PREFIX = "urn:pulumi:dev::private-registry::pulumi:pulumi:Stack$private-registry:index:PrivateRegistry"
CONTAINER = f"{PREFIX}$private-registry:index:RegistryContainer$docker:index/container:Container::registry-registry-container"
FILE = f"{PREFIX}$private-registry:index:Htpasswd$pulumi-python:dynamic:Resource::registry-users-file"
CERT = f"{PREFIX}$private-registry:index:RegistryTls$tls:index/locallySignedCert:LocallySignedCert::registry-tls-server-cert"
PULL = f"{PREFIX}$private-registry:index:PullSecrets$kubernetes:core/v1:Secret::registry-pull-secrets-apps"


def step(op: str, urn: str, **extra: Any) -> dict[str, Any]:
    kind = urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1]
    return {"op": op, "urn": urn, "newState": {"type": kind, "inputs": {"password": "[secret]"}}, **extra}


def password_change() -> dict[str, Any]:
    return {
        "steps": [
            step("same", f"{PREFIX}$pulumi-python:dynamic:Resource::registry-target"),
            step("update", FILE, diffReasons=["users"]),
            step("replace", CONTAINER, replaceReasons=["uploads"]),
            step("create-replacement", CONTAINER),
            step("delete-replaced", CONTAINER),
            step("update", PULL),
        ],
        "changeSummary": {"same": 17, "update": 2, "replace": 1},
    }


def test_a_replacement_is_one_change_and_same_steps_are_none() -> None:
    assert changes(password_change()) == [
        Change("update", "registry-users-file", "pulumi-python:dynamic:Resource"),
        Change("replace", "registry-registry-container", "docker:index/container:Container"),
        Change("update", "registry-pull-secrets-apps", "kubernetes:core/v1:Secret"),
    ]
    assert changes({"steps": [step("same", CONTAINER)]}) == []


def test_a_password_change_says_the_container_is_replaced_and_the_pull_secret_changes() -> None:
    plan = changes(password_change())
    text = markdown("dev", plan, notices(plan, ["admin"], ["admin"]))
    assert text.startswith("### Registry stack `dev`: 2 to update, 1 to replace\n")
    assert "| +- replace | `registry-registry-container` | docker Container |" in text
    assert "**The registry container is replaced**: pulls and pushes fail for about 2 s" in text
    assert "A password changes" in text and "The pull secret in namespace `apps` gets new credentials" in text
    assert "[secret]" not in text


def test_a_rotation_of_the_pull_credential_and_the_run_that_drops_the_old_one_say_so() -> None:
    gate = "pulumi-python:dynamic/private-registry:PullGate"
    credential = "pulumi-python:dynamic/private-registry:PullCredential"
    file = Change("update", "registry-users-file", "pulumi-python:dynamic:Resource")
    rotating = notices([file, Change("update", "registry-users-pull-credential", credential),
                        Change("update", "registry-pull-gate", gate)], ["admin"], ["admin"])  # fmt: skip
    docker = notices([file, Change("update", "registry-users-pull-credential", credential)], ["admin"], ["admin"])
    assert any("credential rotates" in line for line in docker)  # target docker: no gate, the same rotation
    assert any("credential rotates" in line and "at the next `pulumi up`" in line for line in rotating)
    assert not any("A password changes" in line for line in rotating)
    dropping = notices([file], ["admin"], ["admin"])
    assert any("the pull password the last rotation kept valid is dropped" in line for line in dropping)


def test_users_added_and_removed_are_named() -> None:
    plan = [Change("update", "registry-users-file", "pulumi-python:dynamic:Resource")]
    found = notices(plan, ["admin", "ci"], ["admin", "dave"])
    assert "User(s) added: `dave`." in found
    assert "User(s) removed: `ci`: their logins stop working." in found
    assert not any("A password changes" in line for line in found)


def test_certificates_say_whether_nodes_must_trust_something_new() -> None:
    server = notices([Change("replace", "registry-tls-server-cert", "tls:index/locallySignedCert:LocallySignedCert")], [], [])
    assert server == ["A new server certificate is issued: clients and nodes keep trusting the same CA (`caCertificate` stays)."]
    ca = notices(
        [
            Change("replace", "registry-tls-ca-cert", "tls:index/selfSignedCert:SelfSignedCert"),
            Change("replace", "registry-tls-server-cert", "tls:index/locallySignedCert:LocallySignedCert"),
        ],
        [],
        [],
    )
    assert len(ca) == 1 and ca[0].startswith("**The CA changes**")


def test_no_change_and_failure_summaries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps({"steps": [step("same", CONTAINER), step("same", CERT)]}))
    assert main(["--stack", "dev", "--preview", str(clean), "--deployed-users", "admin", "--planned-users", "admin"]) == 0
    assert capsys.readouterr().out.startswith("### Registry stack `dev`: no changes")
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(password_change()))
    assert main(["--stack", "dev", "--preview", str(changed)]) == 2
    capsys.readouterr()
    errors = tmp_path / "errors.txt"
    errors.write_text("error: private-registry:port = 0: must be an integer in 1..65535\n")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert main(["--stack", "dev", "--preview", str(empty), "--errors", str(errors), "--failed"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### Registry stack `dev`: the preview failed") and "port = 0" in out


def test_declared_images_are_listed_by_what_happens_to_them() -> None:
    image = "pulumi-python:dynamic/private-registry:Image"
    plan = [
        Change("create", "registry-images-team/app:1", image),
        Change("update", "registry-images-base/busybox:1.37", image),
        Change("delete", "registry-images-old/tool:2", image),
    ]
    assert notices(plan, ["admin"], ["admin"]) == [
        "Image(s) copied into the registry: `team/app:1`.",
        "Image(s) copied again (the source's digest moved, or the name changed): `base/busybox:1.37`.",
        "Image(s) no longer declared (they stay in the registry): `old/tool:2`.",
    ]


def test_files_rewritten_in_place_say_nothing_restarts() -> None:
    files = Change("update", "registry-registry-config-files", "pulumi-python:dynamic/private-registry:ConfigFiles")
    found = notices([files], ["admin"], ["admin"])
    assert any("rewritten in place" in line and "restarts nothing" in line for line in found)
