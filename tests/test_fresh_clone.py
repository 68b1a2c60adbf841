"""Nothing committed may tie the repository to the machine it was built on, and a team's KMS stack
files may be committed (docs/team.md).

- The dev stack (Pulumi.dev.yaml) is what every fresh clone creates on the checkout's file backend
  with a passphrase it generates itself: an `encryptionsalt`, `secure:` value, encrypted key or
  secrets provider in it only works with the passphrase or key of the machine that wrote it, and a
  fresh clone then fails with `incorrect passphrase` after the whole cold build.
- Any other stack file with the passphrase provider (an `encryptionsalt`, or `secretsprovider:
  passphrase`) is one machine's generated passphrase committed by mistake, unless the stack is listed
  in TEAM_PASSPHRASE_STACKS (a team that shares its passphrase as a CI secret).
- A stack file with a key-management provider (`secretsprovider: awskms://...`, its `encryptedkey`
  and `secure:` values) is the team norm: anyone the KMS key allows decrypts it, on any machine.

`pulumi stack init` writes the salt into the working tree, so what is checked is the committed
(staged) content, not the file on disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEV_STACK_FILE = "Pulumi.dev.yaml"
PASSPHRASE_PROVIDERS = ("", "passphrase")
# Stacks whose salt belongs to a passphrase a team shares (a CI secret), not to one machine: none here.
TEAM_PASSPHRASE_STACKS: frozenset[str] = frozenset()


def secure_values(node: object, where: str = "config") -> list[str]:
    """Where a stack file's config holds `secure:` (encrypted) values."""
    if isinstance(node, dict):
        if set(node) == {"secure"}:
            return [where]
        return [found for key, value in node.items() for found in secure_values(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in secure_values(value, f"{where}[{index}]")]
    return []


def machine_bound(name: str, document: dict[str, Any]) -> list[str]:
    """What in stack file `name` only works with one machine's passphrase (module docstring)."""
    provider = str(document.get("secretsprovider") or "")
    secure = [f"secure value at {where}" for where in secure_values(document.get("config") or {})]
    if name == DEV_STACK_FILE:
        keys = [key for key in ("encryptionsalt", "encryptedkey", "secretsprovider") if key in document]
        return keys + secure
    stack = name.removeprefix("Pulumi.").removesuffix(".yaml")
    passphrase = "encryptionsalt" in document or ("secretsprovider" in document and provider in PASSPHRASE_PROVIDERS)
    if not passphrase or stack in TEAM_PASSPHRASE_STACKS:
        return []
    how = "encryptionsalt" if "encryptionsalt" in document else "secretsprovider: passphrase"
    return [f"passphrase provider ({how})", *secure]


def committed_stack_files() -> dict[str, str]:
    """Each tracked Pulumi.<stack>.yaml as the index holds it."""
    names = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "Pulumi.*.yaml"], capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        name: subprocess.run(["git", "-C", str(REPO), "show", f":{name}"], capture_output=True, text=True, check=True).stdout
        for name in names
    }


def test_committed_stack_files_carry_no_machines_salt_or_encrypted_value() -> None:
    files = committed_stack_files()
    assert DEV_STACK_FILE in files
    bound = {name: found for name, text in files.items() if (found := machine_bound(name, yaml.safe_load(text) or {}))}
    assert not bound, (
        f"committed stack files bound to one machine's passphrase: {bound}; remove those lines "
        "(`git checkout` them out of the commit) and set secrets per machine, or use a KMS secrets provider "
        "(docs/team.md)"
    )


USERS_SECRET = {"private-registry:users": [{"name": "a", "password": {"secure": "v1:xyz"}}]}
SECURE_AT = "secure value at config.private-registry:users[0].password"


def test_the_dev_stack_may_carry_no_salt_key_provider_or_secure_value() -> None:
    document = {"encryptionsalt": "v1:abc", "config": USERS_SECRET}
    assert machine_bound(DEV_STACK_FILE, document) == ["encryptionsalt", SECURE_AT]
    kms = {"secretsprovider": "awskms://alias/team?region=us-east-1", "encryptedkey": "AQIC", "config": USERS_SECRET}
    assert machine_bound(DEV_STACK_FILE, kms) == ["encryptedkey", "secretsprovider", SECURE_AT]
    assert machine_bound(DEV_STACK_FILE, {"config": {"private-registry:port": "5000"}}) == []


def test_a_passphrase_stack_file_committed_by_mistake_is_caught() -> None:
    salted = {"encryptionsalt": "v1:abc", "config": USERS_SECRET}
    assert machine_bound("Pulumi.staging.yaml", salted) == ["passphrase provider (encryptionsalt)", SECURE_AT]
    assert machine_bound("Pulumi.staging.yaml", {"encryptionsalt": "v1:abc"}) == ["passphrase provider (encryptionsalt)"]
    named = {"secretsprovider": "passphrase", "config": {}}
    assert machine_bound("Pulumi.staging.yaml", named) == ["passphrase provider (secretsprovider: passphrase)"]


def test_a_teams_kms_stack_file_and_plain_settings_are_allowed() -> None:
    kms = {
        "secretsprovider": "awskms://alias/team-registry?region=us-east-1",
        "encryptedkey": "AQICAHh...",
        "config": {"private-registry:port": "5000", **USERS_SECRET},
    }
    assert machine_bound("Pulumi.team.yaml", kms) == []
    gcp = {**kms, "secretsprovider": "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}
    assert machine_bound("Pulumi.team.yaml", gcp) == []
    assert machine_bound("Pulumi.prod.yaml", {"config": {"private-registry:port": "5000"}}) == []


def test_a_team_that_shares_its_passphrase_names_its_stack(monkeypatch: Any) -> None:
    salted = {"encryptionsalt": "v1:abc", "config": USERS_SECRET}
    monkeypatch.setattr(f"{__name__}.TEAM_PASSPHRASE_STACKS", frozenset({"team"}))
    assert machine_bound("Pulumi.team.yaml", salted) == []
    assert machine_bound("Pulumi.other.yaml", salted) != []
