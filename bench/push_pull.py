"""Benchmark: push then pull of a 100 MB image through the registry, against the same image with no TLS, no auth.

Run (sandbox up, its environment and the toolchain's exported): venv/bin/python bench/push_pull.py [samples]

Sides, all the same registry image (SANDBOX_REGISTRY_IMAGE), each pushed to and pulled from in turn
with docker (its own --config dir per side):
  - tls+auth, generated password: a throwaway stack of the program (TLS + htpasswd), reached on the
    sandbox bridge address with its CA in /etc/docker/certs.d/<host:port>/ca.crt, as nodes and
    clients do, as its default user (a generated password, hashed at bcrypt's lowest cost:
    components/htpasswd.py);
  - tls+auth, configured password: the same registry as a second user whose password is configured,
    hashed at the default `bcryptCost` (what every user cost before generated passwords had a cost of
    their own);
  - tls only: a second container with the same certificate and key (copied container to container,
    never onto the host) and no auth, on the bridge address: separates TLS from bcrypt;
  - plain: a third container, plain HTTP and no auth. dockerd speaks plain HTTP only to registries on
    127.0.0.0/8 (or listed as insecure in its daemon config, which this shared sandbox does not do),
    so this one is on loopback;
  - tls+auth via loopback: the first registry again on 127.0.0.1 (dockerd encrypts but does not verify
    there): a control for the address difference between the bridge sides and the plain side.
Each round imports a fresh image of random (incompressible) bytes, pushes it to every side, then
pulls it from each side with no local copy left, so every transfer is real. The registry's own
request log gives the number of authenticated requests (each one a bcrypt check), and `GET /v2/`
with and without credentials what one check costs in the registry itself.
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

from tests.e2e.helpers import CERTS_D, REGISTRY_HOST, REGISTRY_IMAGE, Stack, free_port, run, throwaway_registry_stack

TARGET = 1.15
IMAGE_MB = int(os.environ.get("BENCH_IMAGE_MB", "100"))
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


def slug(name: str) -> str:
    """A side's name as a repository or tag path component."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


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
        return f"{self.endpoint}/bench/{slug(self.name)}/random:{round_}"


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


def authenticated_requests(container: str, since: str, host: str, user: str) -> int:
    """How many requests to `host` by `user` the registry logged since `since` (RFC 3339)."""
    logs = run(["docker", "logs", "--since", since, container])
    return sum(
        1
        for line in (logs.stdout + logs.stderr).splitlines()
        if "response completed" in line
        and re.search(rf'http\.request\.host="?{re.escape(host)}[" ]', line)
        and re.search(rf'auth\.user\.name="?{re.escape(user)}[" ]', line)
    )


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


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bcrypt_costs_in(container: str) -> dict[str, int]:
    """Each user's bcrypt cost in the htpasswd file the registry really uses (`user:$2b$<cost>$...`);
    the hashes themselves are never printed.
    """
    text = run(["docker", "exec", container, "cat", "/etc/distribution/auth/htpasswd"]).stdout
    return {user: int(hash_.split("$")[2]) for user, hash_ in (line.split(":", 1) for line in text.splitlines() if line)}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else samples_from_env(3)
    suffix = os.urandom(3).hex()
    extra = {"tls": f"bench-registry-tls-{suffix}", "plain": f"bench-registry-plain-{suffix}"}
    images: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, ExitStack() as cleanup:
        root = Path(tmp)
        port = free_port()
        settings = {
            "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
            "endpoint": f"{REGISTRY_HOST}:{port}",
            "port": port,
            "users": [{"name": "admin"}, {"name": "ci"}],  # admin: a generated password; ci: configured below
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
        stack.set_secret("users[1].password", "ci-" + os.urandom(12).hex())
        stack.up()
        out = stack.outputs()
        container, passwords = out["containerName"], out["passwords"]
        costs = bcrypt_costs_in(container)
        tls_port, plain_port = free_port(), free_port()
        generated = f"tls+auth, generated password (bcrypt cost {costs['admin']})"
        configured = f"tls+auth, configured password (bcrypt cost {costs['ci']})"
        users = {generated: "admin", configured: "ci"}
        sides = {
            generated: Side("tls+auth", out["endpoint"], root / "docker-tls-auth"),
            configured: Side("tls+auth configured", out["endpoint"], root / "docker-tls-auth-ci"),
            "tls only": Side("tls only", f"{REGISTRY_HOST}:{tls_port}", root / "docker-tls"),
            "plain": Side("plain", f"127.0.0.1:{plain_port}", root / "docker-plain"),
            "tls+auth via loopback": Side("tls+auth via loopback", f"127.0.0.1:{port}", root / "docker-loopback"),
        }
        for endpoint in (out["endpoint"], sides["tls only"].endpoint):
            ca_dir = CERTS_D / endpoint
            ca_dirs.append(ca_dir)
            ca_dir.mkdir(parents=True, exist_ok=True)
            (ca_dir / "ca.crt").write_text(out["caCertificate"])
        tls_env = [f"REGISTRY_HTTP_TLS_CERTIFICATE={CERTS_DIR}/tls.crt", f"REGISTRY_HTTP_TLS_KEY={CERTS_DIR}/tls.key"]
        start_extra_registry(extra["tls"], f"{REGISTRY_HOST}:{tls_port}:5000", tls_env, certs_from=container)
        start_extra_registry(extra["plain"], f"127.0.0.1:{plain_port}:5000", [], certs_from=None)
        for name, user in (*users.items(), ("tls+auth via loopback", "admin")):
            sides[name].docker("login", sides[name].endpoint, "-u", user, "--password-stdin", input=passwords[user])
        for side in sides.values():
            wait_until_serving(side)

        times: dict[str, list[float]] = {name: [] for name in sides}
        requests: dict[str, list[int]] = {name: [] for name in users}
        print(f"push then pull of a {IMAGE_MB} MB image of random bytes, {n} rounds:", flush=True)
        for round_ in range(n):
            # dockerd mounts a layer it knows in one repository of a registry into another one of the
            # same registry instead of uploading it: the second user's side gets an image of its own.
            sources = {name: f"bench/random-{suffix}-{slug(name)}:{round_}" for name in (generated, configured)}
            for source in sources.values():
                images.append(source)
                random_image(root, source)
            source_of = {name: sources.get(name, sources[generated]) for name in sides}
            pushed: dict[str, float] = {}
            # The order turns every round, so no side is always first (or right after the import).
            order = list(sides)[round_ % len(sides) :] + list(sides)[: round_ % len(sides)]
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
            for name in order:
                side = sides[name]
                images.append(side.ref(round_))
                side.docker("tag", source_of[name], side.ref(round_))
                started = time.perf_counter()
                side.docker("push", side.ref(round_))
                pushed[name] = time.perf_counter() - started
            for name in order:
                # No local copy of the layer may remain, or the pull skips the download.
                run(["docker", "rmi", "-f", *sources.values(), *[s.ref(round_) for s in sides.values()]], check=False)
                started = time.perf_counter()
                sides[name].docker("pull", sides[name].ref(round_))
                times[name].append(pushed[name] + time.perf_counter() - started)
            for name, user in users.items():
                requests[name].append(authenticated_requests(container, since, out["endpoint"], user))
            run(["docker", "rmi", "-f", *[s.ref(round_) for s in sides.values()]], check=False)
        print_times(times)
        ratios: list[Ratio] = [
            ratio(f"push + pull {IMAGE_MB} MB: {name} / plain HTTP, no auth", times, name, "plain", TARGET) for name in users
        ]
        parts = {name: ratio(f"  (part) htpasswd auth, {name} / tls only", times, name, "tls only", TARGET) for name in users}
        tls_part = ratio("  (part) TLS (and the bridge address): tls only / plain", times, "tls only", "plain", TARGET)
        control = ratio(
            "  (control) the same registry on the bridge / on loopback", times, generated, "tls+auth via loopback", TARGET
        )
        # What one authenticated request costs the registry (its bcrypt check), measured in the registry
        # itself: `GET /v2/` with each user's credentials against the TLS-only registry, kept alive.
        ca = out["caCertificate"]
        without = get_v2_seconds(sides["tls only"].endpoint, ca, None)
        plain = statistics.median(times["plain"])
        tls_overhead = statistics.median(times["tls only"]) - plain
        notes = []
        for name, user in users.items():
            check = get_v2_seconds(out["endpoint"], ca, basic_auth(user, passwords[user])) - without
            authed = statistics.median(requests[name])
            overhead = statistics.median(times[name]) - plain
            notes.append(
                f"{name}: {authed:.0f} authenticated requests per push + pull of {IMAGE_MB} MB, each a bcrypt check "
                f"(+{check * 1000:.1f} ms on `GET /v2/` against {without * 1000:.1f} ms without auth): about "
                f"{authed * check:.2f} s of bcrypt per push + pull; overhead over plain HTTP {overhead:.2f} s (auth part "
                f"{parts[name].value:.2f}); TLS (tls only - plain) {tls_overhead:.2f} s (TLS part {tls_part.value:.2f}; "
                f"control, the same registry on the bridge / on loopback: {control.value:.2f})"
            )
        for note in notes:
            print(f"  {note}", flush=True)
    save("push_pull", ratios, notes)


if __name__ == "__main__":
    main()
