"""Nothing committed may tie the repository to the machine it was built on.

A stack file with an `encryptionsalt` (or an encrypted key, or `secure:` values) only works with
the passphrase or key it was made with; a fresh clone generates its own passphrase and then fails
with `incorrect passphrase` after the whole cold build. `pulumi stack init` writes the salt into
the working tree, so what is checked is the committed (staged) content, not the file on disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MACHINE_BOUND_KEYS = ("encryptionsalt", "encryptedkey", "secretsprovider")


def machine_bound(document: dict) -> list[str]:
    """What in a stack file only works on the machine (passphrase, key) that wrote it."""
    found = [key for key in MACHINE_BOUND_KEYS if key in document]

    def secure_values(node: object, where: str) -> None:
        if isinstance(node, dict):
            if set(node) == {"secure"}:
                found.append(f"secure value at {where}")
                return
            for key, value in node.items():
                secure_values(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                secure_values(value, f"{where}[{index}]")

    secure_values(document.get("config") or {}, "config")
    return found


def committed_stack_files() -> dict[str, str]:
    """Each tracked Pulumi.<stack>.yaml as the index holds it."""
    names = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "Pulumi.*.yaml"], capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        name: subprocess.run(["git", "-C", str(REPO), "show", f":{name}"], capture_output=True, text=True, check=True).stdout
        for name in names
    }


def test_committed_stack_files_carry_no_salt_key_or_encrypted_value() -> None:
    files = committed_stack_files()
    assert "Pulumi.dev.yaml" in files
    bound = {name: machine_bound(yaml.safe_load(text) or {}) for name, text in files.items()}
    assert not any(bound.values()), (
        f"committed stack files bound to one machine's passphrase: {bound}; remove those lines "
        "(`git checkout` them out of the commit) and set secrets per machine"
    )


def test_the_check_sees_a_salt_and_a_secure_value() -> None:
    document = {
        "encryptionsalt": "v1:abc",
        "config": {"private-registry:users": [{"name": "a", "password": {"secure": "v1:xyz"}}]},
    }
    assert machine_bound(document) == ["encryptionsalt", "secure value at config.private-registry:users[0].password"]
    assert machine_bound({"config": {"private-registry:port": "5000"}}) == []
