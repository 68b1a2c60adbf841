"""End to end: delete a tag by digest, `scripts/gc.sh` frees its blobs, the other tag still pulls.

Real registry container (deleteEnabled), real docker push/pull through TLS and htpasswd, the
project's own gc command against the stack's outputs.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import ssl
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import REPO, free_port, record, run, throwaway_registry_stack
from tests.e2e.test_registry import CERTS_D, REGISTRY_HOST

LAYER_BYTES = 8 * 1024 * 1024
MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


def random_image_tar(path: Path) -> Path:
    """A one-file root filesystem of incompressible bytes, for `docker import`."""
    data = os.urandom(LAYER_BYTES)
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def registry_request(endpoint: str, ca_pem: str, auth: str, method: str, path: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        f"https://{endpoint}{path}", method=method, headers={"Authorization": f"Basic {auth}", "Accept": MANIFEST_TYPES}
    )
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cadata=ca_pem), timeout=20) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


class PullProbe:
    """Polls one authenticated GET in the background and keeps the sequence of up and down stretches."""

    def __init__(self, endpoint: str, ca_pem: str, auth: str, path: str) -> None:
        self.args = (endpoint, ca_pem, auth, "GET", path)
        self.states: list[str] = []
        self.longest_gap = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        down_since: float | None = None
        while not self.stop.is_set():
            try:
                up = registry_request(*self.args)[0] == 200
            except OSError:
                up = False
            state = "up" if up else "down"
            if not self.states or self.states[-1] != state:
                self.states.append(state)
            if not up:
                down_since = down_since or time.perf_counter()
            elif down_since is not None:
                self.longest_gap = max(self.longest_gap, time.perf_counter() - down_since)
                down_since = None
            time.sleep(0.05)

    @property
    def gaps(self) -> int:
        return self.states.count("down")

    def pattern(self) -> str:
        return " -> ".join(self.states)

    def __enter__(self) -> PullProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1.0)  # let the probe see the registry answer again
        self.stop.set()
        self.thread.join()


def test_delete_by_digest_then_gc_frees_the_space_and_keeps_the_other_tag(workdir: Path) -> None:
    port = free_port()
    endpoint = f"{REGISTRY_HOST}:{port}"  # not loopback: dockerd verifies the CA here
    settings = {
        "port": port,
        "endpoint": endpoint,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "deleteEnabled": True,
        "users": [{"name": "admin"}],
        "pullSecret": {"namespaces": []},
    }
    with throwaway_registry_stack(workdir, "e2e-gc", settings) as stack:
        stack.set_secret("users[0].password", "gc-" + os.urandom(8).hex())
        stack.up()
        out = stack.outputs()
        password = out["passwords"]["admin"]
        auth = base64.b64encode(f"admin:{password}".encode()).decode()
        ca_dir = CERTS_D / endpoint
        ca_dir.mkdir(parents=True, exist_ok=True)
        (ca_dir / "ca.crt").write_text(out["caCertificate"])
        docker_config = stack.workdir / "gc-docker-config"
        docker_config.mkdir(exist_ok=True)

        def docker(*args: str, stdin: str | None = None) -> str:
            return run(["docker", "--config", str(docker_config), *args], input=stdin).stdout

        try:
            docker("login", endpoint, "-u", "admin", "--password-stdin", stdin=password)
            for tag in ("one", "two"):
                ref = f"{endpoint}/gc/app:{tag}"
                docker("import", str(random_image_tar(stack.workdir / f"{tag}.tar")), ref)
                docker("push", ref)
                docker("rmi", ref)
            status, headers = registry_request(endpoint, out["caCertificate"], auth, "HEAD", "/v2/gc/app/manifests/one")
            assert status == 200, status
            digest = headers["Docker-Content-Digest"]
            status, _ = registry_request(endpoint, out["caCertificate"], auth, "DELETE", f"/v2/gc/app/manifests/{digest}")
            assert status == 202, f"DELETE of the manifest by digest: {status}"

            env = {**stack.env, "PROJECT_DIR": str(stack.project_dir)}
            with PullProbe(endpoint, out["caCertificate"], auth, "/v2/gc/app/manifests/two") as probe:
                gc = run(["bash", str(REPO / "scripts" / "gc.sh"), stack.name], env=env)
            # Served, then down (switch to the read-only twin), served by the twin, down (switch
            # back), served: two separate gaps. Stopping the registry for the whole collection
            # would show one.
            record(f"gc.sh: pulls during the collection: {probe.pattern()} (longest gap {probe.longest_gap:.1f} s)")
            assert probe.gaps == 2, probe.pattern()
            freed = re.search(r"gc: freed (\d+) MiB", gc.stdout)
            unavailable = re.search(r"registry unavailable ([\d.]+) s", gc.stdout)
            assert freed and unavailable, gc.stdout + gc.stderr
            record(f"gc.sh after deleting one 8 MiB image: {gc.stdout.strip().splitlines()[-2]}")
            record(gc.stdout.strip().splitlines()[-1])
            assert int(freed.group(1)) >= 7, gc.stdout  # the deleted image's layer (8 MiB, incompressible)
            leaked = password in gc.stdout + gc.stderr
            assert not leaked, "gc.sh printed the password"

            # The other tag still pulls; the deleted one is gone; the container is as Pulumi left it.
            docker("pull", f"{endpoint}/gc/app:two")
            status, _ = registry_request(endpoint, out["caCertificate"], auth, "HEAD", "/v2/gc/app/manifests/one")
            assert status == 404
            policy = run(["docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", out["containerName"]]).stdout
            assert policy.strip() == "always"
            twin = run(["docker", "inspect", out["containerName"] + "-gc-readonly"], check=False)
            assert twin.returncode != 0, "the read-only twin is removed"
            stack.pulumi("preview", "--expect-no-changes")
        finally:
            shutil.rmtree(ca_dir, ignore_errors=True)
