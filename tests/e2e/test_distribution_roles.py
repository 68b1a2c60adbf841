"""End to end on the sandbox's dockerd: the contract's two roles on the real registry image.

A read-write and a read-only instance, configured only by `components/distribution.py`
(`instance_variables`), share one data volume (the read-only one mounts it `:ro`), with TLS and
htpasswd auth, as the planned pull endpoint will. What the contract claims is checked on the
image itself: a push is served by the read-only side at once; writes there are refused (405 with
credentials, 401 without); deletes too, although `deleteEnabled` is on for the pair; and only the
read-write side schedules the upload purge that would delete uploads in progress on shared storage.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest

from components.distribution import AUTH_DIR, CERTS_DIR, PORT, STORAGE_ROOT, Role, instance_variables, plain_instance
from components.model import StorageSettings
from tests.e2e.faults import RegistryClient, wait_until
from tests.e2e.helpers import REGISTRY_IMAGE, free_port, record, run

USER, PASSWORD = "pusher", os.urandom(12).hex()


@dataclass
class Pair:
    writer: RegistryClient
    reader: RegistryClient
    containers: dict[str, str]


def tls_and_auth(directory: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1 and an htpasswd file with one user."""
    certs, auth = directory / "certs", directory / "auth"
    certs.mkdir()
    auth.mkdir()
    run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=roles", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(certs / "tls.key"), "-out", str(certs / "tls.crt")]
    )  # fmt: skip
    (certs / "tls.key").chmod(0o644)  # read by the registry's own user inside the container
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    (auth / "htpasswd").write_text(f"{USER}:{hashed}\n")
    return certs, auth, (certs / "tls.crt").read_text()


def start(name: str, role: Role, volume: str, certs: Path, auth: Path, port: int) -> None:
    variables = instance_variables(
        plain_instance(role, "roles", True), StorageSettings(driver="filesystem"), os.urandom(16).hex()
    )
    mode = ":ro" if role == "read-only" else ""
    command = ["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{PORT}", "-v", f"{volume}:{STORAGE_ROOT}{mode}",
               "-v", f"{certs}:{CERTS_DIR}:ro", "-v", f"{auth}:{AUTH_DIR}:ro"]  # fmt: skip
    for key, value in variables.items():
        command += ["-e", f"{key}={value}"]
    run([*command, REGISTRY_IMAGE])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    suffix = os.urandom(3).hex()
    certs, auth, ca = tls_and_auth(tmp_path_factory.mktemp("roles"))
    volume = f"roles-data-{suffix}"
    containers = {"read-write": f"roles-rw-{suffix}", "read-only": f"roles-ro-{suffix}"}
    ports = {"read-write": free_port(), "read-only": free_port()}
    run(["docker", "volume", "create", volume])
    try:
        for role, name in containers.items():
            start(name, role, volume, certs, auth, ports[role])  # type: ignore[arg-type]
        clients = {role: RegistryClient(f"127.0.0.1:{port}", ca, USER, PASSWORD) for role, port in ports.items()}
        for client in clients.values():
            wait_until(client.authenticated, 30, f"the instance at {client.endpoint}", 0.2)
        yield Pair(clients["read-write"], clients["read-only"], containers)
    finally:
        for name in containers.values():
            run(["docker", "rm", "-f", name], check=False)
        run(["docker", "volume", "rm", volume], check=False)


def anonymous(client: RegistryClient, method: str, path: str) -> int:
    request = urllib.request.Request(client.base + path, method=method)
    try:
        with urllib.request.urlopen(request, context=client.context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_push_is_served_by_the_read_only_instance_at_once(pair: Pair) -> None:
    image = pair.writer.push_image("roles/app", "1")
    pair.reader.assert_image("roles/app", "1", image)


def test_writes_and_deletes_are_refused_on_the_read_only_instance(pair: Pair) -> None:
    status, _, body = pair.reader.request("POST", "/v2/roles/app/blobs/uploads/")
    assert status == 405, (status, body)
    assert anonymous(pair.reader, "POST", "/v2/roles/app/blobs/uploads/") == 401
    digest = pair.writer.push_image("roles/app", "2")[0]
    assert pair.reader.request("DELETE", f"/v2/roles/app/manifests/{digest}")[0] == 405
    record(f"read-only instance: authenticated push HTTP {status} ({body.decode(errors='replace').strip()[:80]})")
    # The same delete is allowed on the read-write side (deleteEnabled is on for the pair).
    assert pair.writer.request("DELETE", f"/v2/roles/app/manifests/{digest}")[0] == 202


def test_only_the_read_write_instance_purges_uploads(pair: Pair) -> None:
    logs = {}
    for role, name in pair.containers.items():
        result = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        logs[role] = result.stdout + result.stderr
    assert "Starting upload purge" in logs["read-write"], logs["read-write"][-2000:]
    assert "upload purge" not in logs["read-only"].lower(), logs["read-only"][-2000:]
    assert "panic" not in logs["read-only"]
