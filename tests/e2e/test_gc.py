"""End to end: delete a tag by digest, `scripts/gc.sh` frees its blobs, the other tag still pulls.

Real registry container (deleteEnabled), real docker push/pull through TLS and htpasswd, the
project's own gc command against the stack's outputs.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import CERTS_D, REGISTRY_HOST, REPO, free_port, record, run, throwaway_registry_stack

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
        client = RegistryClient(endpoint, out["caCertificate"], "admin", password)
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
            status, headers, _ = client.request("HEAD", "/v2/gc/app/manifests/one", headers={"Accept": MANIFEST_TYPES})
            assert status == 200, status
            digest = headers["Docker-Content-Digest"]
            status, _, _ = client.request("DELETE", f"/v2/gc/app/manifests/{digest}")
            assert status == 202, f"DELETE of the manifest by digest: {status}"

            env = {**stack.env, "PROJECT_DIR": str(stack.project_dir)}
            gc = run(["bash", str(REPO / "scripts" / "gc.sh"), stack.name], env=env)
            stdout, stderr = gc.stdout, gc.stderr
            freed = re.search(r"gc: freed (\d+) MiB", stdout)
            unavailable = re.search(r"registry unavailable ([\d.]+) s", stdout)
            assert freed and unavailable, stdout + stderr
            record(f"gc.sh after deleting one 8 MiB image: {stdout.strip().splitlines()[-2]}")
            record(stdout.strip().splitlines()[-1])
            assert int(freed.group(1)) >= 7, stdout  # the deleted image's layer (8 MiB, incompressible)
            leaked = password in stdout + stderr
            assert not leaked, "gc.sh printed the password"

            # The other tag still pulls; the deleted one is gone; the container is as Pulumi left it.
            docker("pull", f"{endpoint}/gc/app:two")
            status, _, _ = client.request("HEAD", "/v2/gc/app/manifests/one", headers={"Accept": MANIFEST_TYPES})
            assert status == 404
            policy = run(["docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", out["containerName"]]).stdout
            assert policy.strip() == "always"
            stack.pulumi("preview", "--expect-no-changes")
        finally:
            shutil.rmtree(ca_dir, ignore_errors=True)


def held_by_a_waiting_up(stack: Any) -> subprocess.Popen[bytes]:
    """A real `pulumi up` of `stack`, in a terminal, waiting at its confirmation prompt: it holds the
    stack's lock (the CLI takes it before the preview and keeps it until it exits)."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in stack.env.items() if k not in ("CI", "PULUMI_NON_INTERACTIVE")}
    up = subprocess.Popen(
        ["pulumi", "up", "--cwd", str(stack.project_dir), "--stack", stack.name],
        stdin=secondary, stdout=secondary, stderr=secondary, env={**env, "TERM": "xterm"}, start_new_session=True,
    )  # fmt: skip
    os.close(secondary)
    said = b""
    deadline = time.monotonic() + 180
    while b"Do you want to perform this update?" not in said:
        assert up.poll() is None and time.monotonic() < deadline, said.decode(errors="replace")[-2000:]
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            said += os.read(primary, 65536)
    up.primary = primary  # type: ignore[attr-defined]  # kept open: the CLI's terminal
    return up


def test_gc_refuses_while_a_pulumi_up_holds_the_stack_and_an_up_is_refused_while_gc_holds_it(workdir: Path) -> None:
    port = free_port()
    settings = {"port": port, "endpoint": f"{REGISTRY_HOST}:{port}", "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
                "users": [{"name": "admin"}], "pullSecret": {"namespaces": []}}  # fmt: skip
    with throwaway_registry_stack(workdir / "lock", "e2e-gc-lock", settings) as stack:
        stack.set_secret("users[0].password", "gc-" + os.urandom(8).hex())
        stack.up()
        container = stack.outputs()["containerName"]
        env = {**stack.env, "PROJECT_DIR": str(stack.project_dir)}
        locks = stack.state_dir / ".pulumi" / "locks"

        up = held_by_a_waiting_up(stack)
        try:
            assert list(locks.rglob("*.json")), "the waiting pulumi up holds no lock file"
            gc = run(["bash", str(REPO / "scripts" / "gc.sh"), stack.name], env=env, check=False)
            assert gc.returncode == 1, gc.stdout + gc.stderr
            assert f"stack '{stack.name}' is locked by a running pulumi operation" in gc.stderr, gc.stderr
            assert f"(pid {up.pid})" in gc.stderr and "nothing was changed" in gc.stderr, gc.stderr
            inspect = run(["docker", "inspect", "-f", "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}", container]).stdout
            assert inspect.split() == ["running", "always"]  # nothing stopped, no policy touched
        finally:
            os.write(up.primary, b"\x03")  # type: ignore[attr-defined]  # Ctrl-C at the prompt: the CLI lets go
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
            os.close(up.primary)  # type: ignore[attr-defined]
        if list(locks.rglob("*.json")):
            stack.pulumi("cancel", "--yes")
        record(f"gc.sh while a pulumi up held the stack: refused in the CLI's terms ({gc.stderr.strip().splitlines()[0][:100]})")

        # gc's own lock is one the CLI honours: an up while it is there is refused, naming gc.sh.
        lock = [sys.executable, str(REPO / "scripts" / "stack_lock.py")]
        backend = f"file://{stack.state_dir}"
        key = run([*lock, "take", backend, str(stack.project_dir), stack.name], input="").stdout.strip()
        try:
            refused = stack.pulumi("up", "--yes", "--skip-preview", check=False)
            assert refused.returncode != 0
            assert "the stack is currently locked by 1 lock(s)" in refused.stderr + refused.stdout
            assert "(private-registry scripts/gc.sh)" in refused.stderr + refused.stdout
        finally:
            run([*lock, "release", backend, key])
        assert not list(locks.rglob("*.json"))

        # Free again: gc.sh collects.
        gc = run(["bash", str(REPO / "scripts" / "gc.sh"), stack.name], env=env)
        assert "gc: freed" in gc.stdout, gc.stdout + gc.stderr
        assert not list(locks.rglob("*.json"))
