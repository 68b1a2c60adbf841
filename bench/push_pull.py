"""Benchmark: push then pull of a 100 MB image through the registry, against the same image with no TLS, no auth.

Run (sandbox up, its environment and the toolchain's exported): venv/bin/python bench/push_pull.py [samples]

Sides, all the same registry image (SANDBOX_REGISTRY_IMAGE), each pushed to and pulled from in turn
with docker (its own --config dir):
  - tls+auth: a throwaway stack of the program (TLS + htpasswd at the default bcrypt cost), reached
    on the sandbox bridge address with its CA in /etc/docker/certs.d/<host:port>/ca.crt, as nodes and
    clients do;
  - tls only: a second container with the same certificate and key (copied container to container,
    never onto the host) and no auth, on the bridge address: separates TLS from bcrypt;
  - plain: a third container, plain HTTP and no auth. dockerd speaks plain HTTP only to registries on
    127.0.0.0/8 (or listed as insecure in its daemon config, which this shared sandbox does not do),
    so this one is on loopback;
  - tls+auth via loopback: the first registry again, on 127.0.0.1 (dockerd encrypts but does not
    verify there): a control for the address difference between the bridge sides and the plain side.
Each round imports a fresh image of random (incompressible) bytes, pushes it to every side, then
pulls it from each side with no local copy left, so every transfer is real. The registry's own
request log gives the number of authenticated requests (each one a bcrypt check), and one bcrypt
check at the stack's cost is timed here, to say how much of the overhead bcrypt explains.
"""

from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from common import Ratio, print_times, ratio, samples_from_env, save

from tests.e2e.conftest import REGISTRY_IMAGE, Stack, free_port, run, throwaway_registry_stack

TARGET = 1.15
IMAGE_MB = int(os.environ.get("BENCH_IMAGE_MB", "100"))
HOST = os.environ.get("SANDBOX_REGISTRY_HOST", "172.31.250.1")
CERTS_D = Path(os.environ.get("SANDBOX_DOCKER_CERTS_D", "/etc/docker/certs.d"))
CERTS_DIR = "/etc/distribution/certs"  # where the program's container keeps tls.crt and tls.key


def random_image(tmp: Path, tag: str) -> None:
    """`docker import` of a tar holding IMAGE_MB of random bytes (one layer, incompressible)."""
    data = tmp / "random.bin"
    with data.open("wb") as f:
        for _ in range(IMAGE_MB):
            f.write(os.urandom(1024 * 1024))
    archive = tmp / "random.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(data, arcname="random.bin")
    data.unlink()
    run(["docker", "import", str(archive), tag])
    archive.unlink()


class Side:
    """One registry endpoint and the docker client config used with it."""

    def __init__(self, name: str, endpoint: str, config: Path) -> None:
        self.name = name
        self.endpoint = endpoint
        self.config = config
        config.mkdir(parents=True, exist_ok=True)

    def docker(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run(["docker", "--config", str(self.config), *args], **kw)

    def ref(self, round_: int) -> str:
        # A repository of its own per side: two sides on one registry (the loopback control) must
        # not find the other's blobs already there and skip the upload.
        slug = self.name.replace("+", "-").replace(" ", "-")
        return f"{self.endpoint}/bench/{slug}/random:{round_}"


def start_extra_registry(name: str, publish: str, env: list[str], certs_from: str | None) -> None:
    """A container of the registry image with `env`; with `certs_from`, the TLS files of that
    container are streamed into it before it starts (docker cp to stdout and back, no host copy).
    """
    run(["docker", "create", "--name", name, "-p", publish, *[a for e in env for a in ("-e", e)], REGISTRY_IMAGE])
    if certs_from:
        source = subprocess.Popen(["docker", "cp", f"{certs_from}:{CERTS_DIR}", "-"], stdout=subprocess.PIPE)
        run(["docker", "cp", "-", f"{name}:{os.path.dirname(CERTS_DIR)}"], stdin=source.stdout)
        assert source.wait() == 0, "copying the TLS files between containers failed"
    run(["docker", "start", name])


def wait_until_serving(side: Side) -> None:
    deadline = time.monotonic() + 30
    while side.docker("pull", f"{side.endpoint}/bench/none:0", check=False).stderr.find("connection refused") >= 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{side.name} registry at {side.endpoint} did not come up")
        time.sleep(0.2)


def authenticated_requests(container: str, since: str, host: str) -> tuple[int, int]:
    """(requests, requests carrying credentials) to `host` the registry logged since `since` (RFC 3339)."""
    logs = run(["docker", "logs", "--since", since, container])
    lines = [
        line
        for line in (logs.stdout + logs.stderr).splitlines()
        if "response completed" in line and re.search(rf'http\.request\.host="?{re.escape(host)}[" ]', line)
    ]
    return len(lines), sum(1 for line in lines if "auth.user.name" in line)


def get_v2_seconds(endpoint: str, ca_pem: str, authorization: str | None, n: int = 9) -> float:
    """Median time of `GET /v2/` over one kept-alive TLS connection (handshake excluded)."""
    host, port = endpoint.rsplit(":", 1)
    context = ssl.create_default_context(cadata=ca_pem)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    headers = {"Authorization": authorization} if authorization else {}
    times = []
    try:
        for _ in range(n + 1):
            started = time.perf_counter()
            connection.request("GET", "/v2/", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, f"GET /v2/ on {endpoint}: {response.status}"
            times.append(time.perf_counter() - started)
    finally:
        connection.close()
    return statistics.median(times[1:])  # the first one carries the handshake


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else samples_from_env(3)
    suffix = os.urandom(3).hex()
    extra = {"tls": f"bench-registry-tls-{suffix}", "plain": f"bench-registry-plain-{suffix}"}
    images: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, ExitStack() as cleanup:
        root = Path(tmp)
        port = free_port()
        settings = {
            "ipAddresses": ["127.0.0.1", HOST],
            "endpoint": f"{HOST}:{port}",
            "port": port,
            "pullSecret": {"namespaces": []},
        }
        stack: Stack = cleanup.enter_context(throwaway_registry_stack(root / "stack", "bench-pushpull", settings))
        ca_dirs: list[Path] = []

        def remove_leftovers() -> None:
            for container in extra.values():
                run(["docker", "rm", "-f", "-v", container], check=False)
            for image in images:
                run(["docker", "rmi", "-f", image], check=False)
            for ca_dir in ca_dirs:
                shutil.rmtree(ca_dir, ignore_errors=True)

        cleanup.callback(remove_leftovers)
        stack.up()
        out = stack.outputs()
        container = out["containerName"]
        cost = bcrypt_cost_in(container)
        tls_port, plain_port = free_port(), free_port()
        sides = {
            "tls+auth": Side("tls+auth", out["endpoint"], root / "docker-tls-auth"),
            "tls only": Side("tls only", f"{HOST}:{tls_port}", root / "docker-tls"),
            "plain": Side("plain", f"127.0.0.1:{plain_port}", root / "docker-plain"),
            "tls+auth via loopback": Side("tls+auth via loopback", f"127.0.0.1:{port}", root / "docker-loopback"),
        }
        for side in (sides["tls+auth"], sides["tls only"]):
            ca_dir = CERTS_D / side.endpoint
            ca_dirs.append(ca_dir)
            ca_dir.mkdir(parents=True, exist_ok=True)
            (ca_dir / "ca.crt").write_text(out["caCertificate"])
        tls_env = [f"REGISTRY_HTTP_TLS_CERTIFICATE={CERTS_DIR}/tls.crt", f"REGISTRY_HTTP_TLS_KEY={CERTS_DIR}/tls.key"]
        start_extra_registry(extra["tls"], f"{HOST}:{tls_port}:5000", tls_env, certs_from=container)
        start_extra_registry(extra["plain"], f"127.0.0.1:{plain_port}:5000", [], certs_from=None)
        password = out["passwords"]["admin"]
        for side in (sides["tls+auth"], sides["tls+auth via loopback"]):
            side.docker("login", side.endpoint, "-u", "admin", "--password-stdin", input=password)
        for side in sides.values():
            wait_until_serving(side)

        times: dict[str, list[float]] = {f"{name}: push + pull": [] for name in sides}
        requests: list[tuple[int, int]] = []
        print(f"push then pull of a {IMAGE_MB} MB image of random bytes, {n} rounds:", flush=True)
        for round_ in range(n):
            source = f"bench/random-{suffix}:{round_}"
            images.append(source)
            random_image(root, source)
            pushed: dict[str, float] = {}
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
            # The order turns every round, so no side is always first (or right after the import).
            order = list(sides)[round_ % len(sides) :] + list(sides)[: round_ % len(sides)]
            for name in order:
                side = sides[name]
                ref = side.ref(round_)
                images.append(ref)
                side.docker("tag", source, ref)
                started = time.perf_counter()
                side.docker("push", ref)
                pushed[name] = time.perf_counter() - started
            for name in order:
                side = sides[name]
                # No local copy of the layer may remain, or the pull skips the download.
                run(["docker", "rmi", "-f", source, *[s.ref(round_) for s in sides.values()]], check=False)
                started = time.perf_counter()
                side.docker("pull", side.ref(round_))
                times[f"{name}: push + pull"].append(pushed[name] + time.perf_counter() - started)
            requests.append(authenticated_requests(container, since, sides["tls+auth"].endpoint))
            run(["docker", "rmi", "-f", *[s.ref(round_) for s in sides.values()]], check=False)
        print_times(times)
        keys = list(times)
        ratios: list[Ratio] = [ratio(f"push + pull {IMAGE_MB} MB: tls+auth / plain", times, keys[0], keys[2], TARGET)]
        auth_part = ratio("  (part) tls+auth / tls only: htpasswd auth", times, keys[0], keys[1], TARGET)
        tls_part = ratio("  (part) tls only / plain: TLS (and the bridge address)", times, keys[1], keys[2], TARGET)
        control = ratio("  (control) tls+auth on the bridge / the same on loopback", times, keys[0], keys[3], TARGET)
        total, authed = statistics.median(r[0] for r in requests), statistics.median(r[1] for r in requests)
        # What one authenticated request costs the registry (its bcrypt check), measured in the registry
        # itself: `GET /v2/` with credentials there against the TLS-only one, same certificate, kept alive.
        basic = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
        with_auth = get_v2_seconds(sides["tls+auth"].endpoint, out["caCertificate"], basic)
        without = get_v2_seconds(sides["tls only"].endpoint, out["caCertificate"], None)
        check = with_auth - without
        overhead = statistics.median(times[keys[0]]) - statistics.median(times[keys[2]])
        tls_overhead = statistics.median(times[keys[1]]) - statistics.median(times[keys[2]])
        notes = [
            f"push + pull of {IMAGE_MB} MB through the tls+auth registry: {total:.0f} requests, {authed:.0f} of them "
            f"authenticated, each a bcrypt check at cost {cost} (`GET /v2/` {with_auth * 1000:.0f} ms with credentials, "
            f"{without * 1000:.0f} ms on the TLS-only registry: +{check * 1000:.0f} ms), so bcrypt explains about "
            f"{authed * check:.2f} s of the {overhead:.2f} s overhead over plain HTTP; TLS (tls only - plain) "
            f"{tls_overhead:.2f} s",
            f"push + pull parts: htpasswd auth {auth_part.value:.2f} (tls+auth / tls only), TLS {tls_part.value:.2f} "
            f"(tls only / plain); control: the same registry on the bridge / on loopback {control.value:.2f}",
        ]
        for note in notes:
            print(f"  {note}", flush=True)
    save("push_pull", ratios, notes)


def bcrypt_cost_in(container: str) -> int:
    """The bcrypt cost of the htpasswd file the registry really uses (`$2b$<cost>$...`); the hashes
    themselves are never printed.
    """
    text = run(["docker", "exec", container, "cat", "/etc/distribution/auth/htpasswd"]).stdout
    costs = {int(line.split(":", 1)[1].split("$")[2]) for line in text.splitlines() if line}
    assert len(costs) == 1, "expected one bcrypt cost in the htpasswd file"
    return costs.pop()


if __name__ == "__main__":
    main()
