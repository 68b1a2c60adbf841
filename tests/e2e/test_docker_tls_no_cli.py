"""End to end: target `docker` from a machine path without the `docker` CLI, against a Docker host reached
over TCP with TLS (client certificates), set only through the docker provider's own stack settings.

The sandbox's dockerd listens on a unix socket only and is shared, so the test brings its own TCP
listener: a small TLS forwarder (`forward`, a process of its own, stopped by pid) that requires a
client certificate of the test's CA and passes the bytes on to dockerd's socket, logging each HTTP
request line it forwards. `pulumi up` runs with DOCKER_HOST unset and a PATH on which no `docker`
exists, the stack naming `docker:host: tcp://127.0.0.1:<port>` and `docker:caMaterial`,
`docker:certMaterial` and (secret) `docker:keyMaterial`. The stack has a users file (written into the
config volume by the one-shot step), an image of the Docker host to copy (`dockerImage`, the export
through the Engine API) and a leftover container holding its name (the before_create hook removes it);
the forwarder's log shows each of those calls went through it, and a client without a certificate is
refused there. The registry then serves a login, a push and a pull, and the stack is destroyed (the
config volume gone with it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.oci import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tests.certs import issue
from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import (
    REGISTRY_HOST,
    REGISTRY_IMAGE,
    REPO,
    TEST_IMAGE,
    free_port,
    path_without,
    record,
    run,
    throwaway_registry_stack,
)

REQUEST_LINE = re.compile(rb"(GET|HEAD|POST|PUT|DELETE) (/\S*) HTTP/1\.[01]\r\n")


def forward(port: int, socket_path: str, certs: str, log_path: str) -> None:
    """Serve TLS on 127.0.0.1:`port` (client certificates of `certs`/ca.pem only), forwarding to `socket_path`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=f"{certs}/ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(f"{certs}/server.pem", f"{certs}/server-key.pem")
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
    lock = threading.Lock()

    def note(line: str) -> None:
        with lock:
            log.write(line + "\n")

    def pump(src: socket.socket, dst: socket.socket, requests: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if requests:
                    for found in REQUEST_LINE.finditer(data):
                        note(f"request {found.group(1).decode()} {found.group(2).decode(errors='replace')}")
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                with contextlib.suppress(OSError):
                    end.close()

    def serve(raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as err:
            note(f"refused: {type(err).__name__}")
            raw.close()
            return
        subject: Any = (client.getpeercert() or {}).get("subject", ())
        note(f"client {dict(pair[0] for pair in subject).get('commonName')}")
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(socket_path)
        threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()
        pump(client, upstream, True)

    server = socket.create_server(("127.0.0.1", port))
    note("listening")
    while True:
        raw, _ = server.accept()
        threading.Thread(target=serve, args=(raw,), daemon=True).start()


class TlsDockerHost:
    """The forwarder's port, the client's PEMs and its log of forwarded request lines."""

    def __init__(self, port: int, ca_pem: str, cert_pem: str, key_pem: str, log: Path) -> None:
        self.port, self.ca_pem, self.cert_pem, self.key_pem, self.log = port, ca_pem, cert_pem, key_pem, log

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def requests(self) -> list[str]:
        return [line.removeprefix("request ") for line in self.lines() if line.startswith("request ")]


@pytest.fixture(scope="module")
def tls_docker(workdir: Path) -> Iterator[TlsDockerHost]:
    socket_path = os.environ["DOCKER_HOST"].removeprefix("unix://")
    assert os.environ["DOCKER_HOST"].startswith("unix://") and Path(socket_path).is_socket()
    ca = issue("docker-tls-e2e-ca", ca=True)
    server = issue("docker-host", issuer=ca, ips=("127.0.0.1",))
    client = issue("pulumi-up", issuer=ca, dns=("pulumi-up",), usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    certs = workdir / "forwarder-certs"
    certs.mkdir(mode=0o700)
    for name, text in (("ca.pem", ca.cert_pem), ("server.pem", server.cert_pem), ("server-key.pem", server.key_pem)):
        (certs / name).write_text(text)
    port, log = free_port(), workdir / "forwarder.log"
    log.write_text("")
    code = f"from tests.e2e.test_docker_tls_no_cli import forward; forward({port}, {socket_path!r}, {str(certs)!r}, {str(log)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while "listening" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, f"the TLS forwarder did not start: {proc.stderr}"
            time.sleep(0.1)
        yield TlsDockerHost(port, ca.cert_pem, client.cert_pem, client.key_pem, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def ping(host: TlsDockerHost, with_certificate: bool) -> bytes:
    """The start of the Docker host's answer to `GET /_ping` over TLS ("" when the handshake is refused)."""
    context = ssl.create_default_context(cadata=host.ca_pem)
    if with_certificate:
        pems = host.log.parent / "client-pems"
        pems.mkdir(mode=0o700, exist_ok=True)
        (pems / "cert.pem").write_text(host.cert_pem)
        (pems / "key.pem").write_text(host.key_pem)
        context.load_cert_chain(pems / "cert.pem", pems / "key.pem")
    try:
        with (
            socket.create_connection(("127.0.0.1", host.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            return tls.recv(64)  # TLS 1.3: a refused certificate shows at the first read
    except (ssl.SSLError, OSError):
        return b""


def test_target_docker_runs_without_the_docker_cli_against_a_tls_docker_host(workdir: Path, tls_docker: TlsDockerHost) -> None:
    # The listener answers a client with the certificate, and refuses one without.
    assert ping(tls_docker, with_certificate=True).startswith(b"HTTP/1.1 200"), tls_docker.lines()
    assert ping(tls_docker, with_certificate=False) == b"" and any(line.startswith("refused") for line in tls_docker.lines())

    path = path_without("docker", os.environ["PATH"], workdir / "no-docker-path")
    assert shutil.which("docker", path=path) is None and shutil.which("pulumi", path=path) is not None

    port = free_port()
    settings: dict[str, Any] = {
        "users": [{"name": "ci"}],
        "port": port,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",
        "images": [{"dockerImage": TEST_IMAGE, "name": "local/busybox:1"}],  # copied out of the Docker host
        "docker:host": f"tcp://127.0.0.1:{tls_docker.port}",
        "docker:caMaterial": tls_docker.ca_pem,
        "docker:certMaterial": tls_docker.cert_pem,
    }
    with throwaway_registry_stack(workdir / "stack", "e2e-docker-tls", settings) as stack:
        stack.set_secret("docker:keyMaterial", tls_docker.key_pem)
        stack.env["PATH"] = path
        for variable in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
            stack.env.pop(variable, None)
        config = yaml.safe_load((stack.project_dir / f"Pulumi.{stack.name}.yaml").read_text())["config"]
        container, volume = config["private-registry:containerName"], config["private-registry:dataVolume"]
        # A leftover of an interrupted `up`: this stack's label and data volume, never started.
        run(["docker", "create", "--name", container, "--label", "io.private-registry.managed-by=pulumi",
             "-v", f"{volume}:/var/lib/registry", REGISTRY_IMAGE])  # fmt: skip

        seconds = stack.up()
        record(f"pulumi up, target docker over TLS, no docker CLI: {seconds:.1f} s")
        said = "\n".join(stack.transcript)
        assert f"removed container {container!r}" in said, said[-3000:]
        assert tls_docker.key_pem not in said and tls_docker.key_pem.splitlines()[1] not in stack.state_text()

        requests = tls_docker.requests()
        assert any(re.fullmatch(rf"GET /v[\d.]+/containers/{container}/json", r) for r in requests), requests  # the hook
        assert any(re.fullmatch(r"PUT /v[\d.]+/containers/\w+/archive\?path=%2F", r) for r in requests), requests  # files
        assert any(re.fullmatch(r"GET /v[\d.]+/images/.+/get", r) for r in requests), requests  # the image copy
        created = rf"POST /v[\d.]+/containers/create\?name={container}(&.*)?"  # the provider's own create
        assert any(re.fullmatch(created, r) for r in requests), requests
        assert {line for line in tls_docker.lines() if line.startswith("client ")} == {"client pulumi-up"}

        out = stack.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        assert client.authenticated() and not client.with_password("wrong").authenticated()  # the users file
        mode = run(["docker", "run", "--rm", "-v", f"{container}-config:/c:ro", "--entrypoint", "stat", TEST_IMAGE,
                    "-c", "%a %u:%g", "/c/auth/htpasswd", "/c/certs/tls.key"]).stdout.split("\n")  # fmt: skip
        assert mode[:2] == ["400 1000:1000", "400 1000:1000"], mode
        # The image copied out of the Docker host is there, under the digest the stack reports.
        accept = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST))
        status, headers, _ = client.request("HEAD", "/v2/local/busybox/manifests/1", headers={"Accept": accept})
        assert status == 200 and headers["Docker-Content-Digest"] == out["images"]["local/busybox:1"], (status, out["images"])

        # A push (skopeo copies the copied image to a new name as user ci) and a pull of what was pushed.
        certs = workdir / "skopeo-certs"
        certs.mkdir(exist_ok=True)
        (certs / "ca.crt").write_text(out["caCertificate"])
        creds = f"ci:{out['passwords']['ci']}"
        source, pushed, pulled = (f"docker://{out['endpoint']}/local/busybox:1", f"docker://{out['endpoint']}/e2e/pushed:1",
                                  workdir / "pulled")  # fmt: skip
        src, dest = ["--src-cert-dir", str(certs), "--src-creds", creds], ["--dest-cert-dir", str(certs), "--dest-creds", creds]
        run(["skopeo", "copy", *src, *dest, source, pushed])
        run(["skopeo", "copy", *src, pushed, f"dir:{pulled}"])
        assert (pulled / "manifest.json").is_file()

        stack.pulumi("destroy", "--yes")
        volumes = run(["docker", "volume", "ls", "-q"]).stdout.split()
        assert f"{container}-config" not in volumes  # removed through the Engine API with the files
        assert any(r.startswith("DELETE ") and f"/volumes/{container}-config" in r for r in tls_docker.requests())
