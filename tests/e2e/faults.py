"""Helpers for the fault tests: sandbox faults, a registry client over verified TLS, an outage probe,
the processes of a `pulumi` CLI run and the stack's lock and pending operations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from tests.e2e.helpers import REGISTRY_HOST, REPO, Stack, free_port, run, throwaway_registry_stack

SANDBOX = REPO / "sandbox" / "sandbox.sh"


def sandbox(*args: str) -> subprocess.CompletedProcess[str]:
    """`sandbox.sh ARGS` with this session's sandbox settings (the SANDBOX_* variables are inherited)."""
    return run(["bash", str(SANDBOX), *args], timeout=300)


def docker_answers() -> bool:
    return run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=20).returncode == 0


def ensure_docker_running() -> None:
    """Start this sandbox's dockerd again if a fault test left it stopped (`up` only starts what is down)."""
    if not docker_answers():
        sandbox("up")


def ensure_apiserver_running() -> None:
    sandbox("start-apiserver")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    """Seconds until `predicate()` holds; fails after `timeout`."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
    return time.perf_counter() - started


class RegistryClient:
    """The registry's HTTP API over TLS verified against the stack's CA, as one user."""

    def __init__(self, endpoint: str, ca_pem: str, user: str, password: str) -> None:
        self.endpoint, self.ca_pem, self.user = endpoint, ca_pem, user
        self.base = f"https://{endpoint}"
        self.context = ssl.create_default_context(cadata=ca_pem)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 10) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        url = path if path.startswith("https://") else self.base + path
        req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": self.auth, **(headers or {})})
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def with_password(self, password: str) -> RegistryClient:
        return RegistryClient(self.endpoint, self.ca_pem, self.user, password)

    def with_user(self, user: str, password: str) -> RegistryClient:
        return RegistryClient(self.endpoint, self.ca_pem, user, password)

    def answers(self) -> bool:
        """The registry answers over TLS verified against the CA (`GET /v2/`: 200, or 401 for an old password)."""
        try:
            return self.request("GET", "/v2/", timeout=2)[0] in (200, 401)
        except OSError:
            return False

    def authenticated(self) -> bool:
        """This user's password is accepted (`GET /v2/` is 200)."""
        try:
            return self.request("GET", "/v2/", timeout=5)[0] == 200
        except OSError:
            return False

    def _push_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, f"blob upload start: HTTP {status}"
        location = urllib.parse.urljoin(self.base + "/", headers["Location"])
        separator = "&" if "?" in location else "?"
        status, _, _ = self.request(
            "PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"}
        )
        assert status == 201, f"blob upload: HTTP {status}"
        return digest

    def push_image(self, repo: str, tag: str) -> tuple[str, str, bytes]:
        """Push a small OCI image with a random layer; return (manifest digest, layer digest, layer bytes)."""
        layer = os.urandom(2048)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest, layer_digest = self._push_blob(repo, config), self._push_blob(repo, layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
            }
        ).encode()
        status, headers, _ = self.request(
            "PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        )
        assert status == 201, f"manifest upload: HTTP {status}"
        return headers["Docker-Content-Digest"], layer_digest, layer

    def assert_image(self, repo: str, tag: str, image: tuple[str, str, bytes]) -> None:
        """The tag still names the pushed manifest and its layer has the same bytes."""
        manifest_digest, layer_digest, layer = image
        status, headers, _ = self.request(
            "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
        )
        assert status == 200 and headers["Docker-Content-Digest"] == manifest_digest, f"manifest {repo}:{tag}: HTTP {status}"
        status, _, body = self.request("GET", f"/v2/{repo}/blobs/{layer_digest}")
        assert status == 200 and body == layer, f"layer of {repo}:{tag}: HTTP {status}, {len(body)} bytes"


class BackgroundLoop:
    """Runs `_run` in a daemon thread from `with` entry to exit; `_run` loops until `self.stop` is set."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class OutageProbe(BackgroundLoop):
    """Polls the registry every 50 ms in the background and keeps every stretch it did not answer."""

    def __init__(self, client: RegistryClient) -> None:
        super().__init__()
        self.client = client
        self.outages: list[tuple[float, float]] = []
        self.down_since: float | None = None

    def _run(self) -> None:
        while not self.stop.is_set():
            asked = time.perf_counter()
            if self.client.answers():
                # The outage ends when the answer arrives, not when the request was sent: docker-proxy
                # accepts on the host port as soon as a container starts, and the request then waits
                # for the registry inside to listen.
                if self.down_since is not None:
                    self.outages.append((self.down_since, time.perf_counter()))
                    self.down_since = None
            elif self.down_since is None:
                self.down_since = asked
            time.sleep(0.05)

    @property
    def longest(self) -> float:
        return max((end - start for start, end in self.outages), default=0.0)


def container_id(name: str) -> str:
    return run(["docker", "inspect", "-f", "{{.Id}}", name]).stdout.strip()


def container_status(name: str) -> str | None:
    result = run(["docker", "inspect", "-f", "{{.State.Status}}", name], check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def checkpoint(stack: Stack) -> dict[str, Any]:
    """`pulumi stack export` (secrets stay encrypted)."""
    return json.loads(stack.pulumi("stack", "export", record_output=False).stdout)


def state_container_id(stack: Stack) -> str:
    resources = checkpoint(stack)["deployment"].get("resources", [])
    ids = [r["id"] for r in resources if r["type"] == "docker:index/container:Container"]
    assert len(ids) == 1, f"containers in state: {ids}"
    return str(ids[0])


def pending_operations(stack: Stack) -> list[str]:
    operations = checkpoint(stack)["deployment"].get("pending_operations") or []
    return [f"{op['type']} {op['resource']['urn'].rsplit('::', 1)[-1]}" for op in operations]


def lock_files(stack: Stack) -> list[Path]:
    """The file backend's lock files (one per running update)."""
    return sorted((stack.state_dir / ".pulumi" / "locks").rglob("*.json"))


def session_processes(session_id: int) -> list[int]:
    """Pids of the processes in a session (a CLI started with `start_new_session` and all it spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:  # fields after the command: state ppid pgrp session ...
            pids.append(int(entry.name))
    return pids


def process_name(pid: int) -> str:
    """The program a process runs (the basename of its argv[0], or of argv[1] for a script)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return "?"
    names = [os.path.basename(a) for a in argv[:4] if a]
    if names and names[0] in ("sh", "bash") and len(names) > 1:
        return names[1]
    if names and names[0].startswith("python") and len(names) > 1:
        return " ".join(names)
    return names[0] if names else "?"


def kill_pids(pids: list[int]) -> None:
    """SIGKILL these pids (processes a test started), ignoring those already gone."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class CliRun:
    """A `pulumi` command running in the background in its own session, output to a file."""

    def __init__(self, stack: Stack, *args: str) -> None:
        self.log = stack.workdir / f"cli-{time.monotonic_ns()}.log"
        cmd = ["pulumi", *args, "--cwd", str(stack.project_dir), "--stack", stack.name, "--non-interactive"]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(cmd, env=stack.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.stack = stack

    def wait(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout=timeout)
        self.stack.transcript.append(self.output)
        return code

    @property
    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def docker_events(container: str) -> Iterator[list[dict[str, Any]]]:
    """Container events of `container` (by name) as they happen, appended to the yielded list."""
    events: list[dict[str, Any]] = []
    watcher = subprocess.Popen(
        ["docker", "events", "--filter", "type=container", "--filter", f"container={container}", "--format", "{{json .}}"],
        stdout=subprocess.PIPE,
        text=True,
    )

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            events.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.3)  # the subscription is in place before anything happens
    try:
        yield events
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


@dataclass
class Deployed:
    """A deployed throwaway registry stack and a client for it (as its pull user)."""

    stack: Stack
    container: str
    client: RegistryClient

    def reconnect(self) -> RegistryClient:
        """A client with the stack's current outputs (after a password change)."""
        out = self.stack.outputs()
        self.client = RegistryClient(out["endpoint"], out["caCertificate"], "admin", out["passwords"]["admin"])
        return self.client


@contextmanager
def deployed_registry(workdir: Path, name: str, settings: dict[str, Any] | None = None) -> Iterator[Deployed]:
    """`throwaway_registry_stack` reached on the sandbox bridge address (TLS really verified), after `up`."""
    port = free_port()
    base = {
        "port": port,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",
        "users": [{"name": "admin"}],
        "pullSecret": {"namespaces": []},
    }
    with throwaway_registry_stack(workdir, name, {**base, **(settings or {})}) as stack:
        # A configured password (not a generated one): changing it later replaces nothing else.
        stack.set_secret("users[0].password", "admin-" + os.urandom(8).hex())
        stack.up()
        out = stack.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "admin", out["passwords"]["admin"])
        assert client.authenticated(), "the registry must accept the admin password right after `up`"
        yield Deployed(stack, out["containerName"], client)
