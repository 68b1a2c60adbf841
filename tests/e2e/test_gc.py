"""End to end: delete a tag by digest, `scripts/gc.sh` frees its blobs, the other tag still pulls.

Real registry container (deleteEnabled), real docker push/pull through TLS and htpasswd, the
project's own gc command against the stack's outputs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
from pathlib import Path

from tests.e2e.conftest import CERTS_D, REGISTRY_HOST, REPO, free_port, record, run, throwaway_registry_stack
from tests.e2e.faults import RegistryClient

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
