"""End to end on the sandbox node: `certificate.secretName`, the certificate from a `kubernetes.io/tls`
Secret that someone else keeps (here kubectl, playing cert-manager).

A new target-kubernetes stack (2 replicas on the sandbox's S3 server) names a Secret that does not
exist yet: `preview` passes (the read waits for the namespace), the first `up` creates the namespace
and stops naming the Secret and its namespace. The Secret is created there (a CA and a server
certificate made in the test); the next `up` serves it, the outputs carry its CA, the stack holds no
Secret of its own with the key and no part of the key is in plaintext in the state or anything the
CLI printed. Then the Secret's content is replaced with a renewed certificate (a new key, as
cert-manager's `rotationPolicy: Always` does) while a loop pulls: `up` rolls the Pods, the new
certificate is served, the loop records 0 failed pulls, and a second run changes nothing.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.certs import Issued, issue
from tests.e2e.faults import RegistryClient, sandbox, wait_until
from tests.e2e.helpers import Stack, record
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_kube_target import NODE_IP, PullLoop, init_kube_stack, ready

NAMESPACE, SECRET, NODE_PORT = "e2e-cert-secret", "registry-cert", 30561


def tls_secret_manifest(server: Issued, ca: Issued) -> str:
    """The Secret as cert-manager writes it: type kubernetes.io/tls, tls.crt, tls.key and ca.crt."""
    document = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": SECRET, "namespace": NAMESPACE},
        "stringData": {"tls.crt": server.cert_pem, "tls.key": server.key_pem, "ca.crt": ca.cert_pem},
    }
    return json.dumps(document)


def write_secret(verb: str, server: Issued, ca: Issued) -> None:
    """`kubectl create` or `replace` with the manifest on stdin: the key never on a command line."""
    kubectl(verb, "-f", "-", stdin=tls_secret_manifest(server, ca))


def served_certificate(endpoint: str) -> str:
    """The certificate a new connection to `endpoint` gets (kube-proxy picks a replica)."""
    host, port = endpoint.rsplit(":", 1)
    return ssl.get_server_certificate((host, int(port)), timeout=5)


def registry_pods() -> list[dict[str, Any]]:
    items = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=registry", "-o", "json").stdout)
    return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]


@pytest.fixture
def stack(workdir: Path) -> Iterator[Stack]:
    if not NODE_IP or not os.environ.get("SANDBOX_S3_ENDPOINT"):
        pytest.fail("SANDBOX_NODE_IP and SANDBOX_S3_ENDPOINT are not set: run through scripts/test.sh", pytrace=False)
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    bucket = f"e2e-cert-secret-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    s = Stack(workdir, "e2e-cert-secret")
    settings = {"replicas": 2, "users": [{"name": "pusher"}], "pullSecret": {"namespaces": []}}
    init_kube_stack(s, NAMESPACE, NODE_PORT, bucket, {**settings, "certificate": {"secretName": SECRET}})
    try:
        yield s
    finally:
        s.pulumi("destroy", "--yes", check=False)
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s", check=False)


def test_a_certificate_from_a_tls_secret_is_served_and_its_renewal_rolls_the_pods(stack: Stack) -> None:
    endpoint = f"{NODE_IP}:{NODE_PORT}"
    ca = issue("E2E cert-manager CA", ca=True)
    first = issue("registry", ca, ips=(NODE_IP,))

    # No Secret yet: the preview passes; the first up creates the namespace and stops naming the Secret.
    stack.pulumi("preview")
    failed = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert f"{NAMESPACE}/{SECRET}" in failed.stdout + failed.stderr, (failed.stdout + failed.stderr)[-3000:]
    kubectl("get", "namespace", NAMESPACE)

    write_secret("create", first, ca)
    seconds = stack.up()
    record(f"certificate.secretName: up after the Secret exists (2 replicas on S3) {seconds:.1f} s")
    outputs = stack.outputs()
    assert outputs["caCertificate"].strip() == ca.cert_pem.strip()
    assert outputs["certificateExpiresAt"] == first.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    client = RegistryClient(endpoint, ca.cert_pem, "pusher", outputs["passwords"]["pusher"])
    # a NodePort `up` has just created answers once kube-proxy has programmed it (README: retry a refused connection)
    wait_until(client.answers, 30, "the new Service's NodePort")
    image = client.push_image("e2e/secret-cert", "1")
    client.assert_image("e2e/secret-cert", "1", image)
    assert served_certificate(endpoint).strip() == first.cert_pem.strip()
    deployment = json.loads(kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "json").stdout)
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": SECRET, "defaultMode": 0o440}} in volumes
    assert kubectl("get", "secret", "registry-tls", "-n", NAMESPACE, check=False).returncode != 0  # no copy of the key
    stack.pulumi("preview", "--expect-no-changes")

    # Renewal as cert-manager does it: the same Secret, new content (a new key), replaced in place.
    renewed = issue("registry", ca, ips=(NODE_IP,), days=(-1, 60))
    rolled_from = {p["metadata"]["name"] for p in registry_pods()}
    with PullLoop(lambda: client, "e2e/secret-cert", "1", image) as loop:
        time.sleep(2)
        write_secret("replace", renewed, ca)
        started = time.perf_counter()
        stack.up()
        up_seconds = time.perf_counter() - started
        wait_until(lambda: served_certificate(endpoint).strip() == renewed.cert_pem.strip(), 60, "the renewed certificate")
        time.sleep(2)
    record(f"certificate.secretName: Secret replaced, up rolled the Pods in {up_seconds:.1f} s; {loop.summary()}")
    assert loop.pulls > 10 and loop.failures == 0, loop.errors[:3]
    pods = registry_pods()
    assert len(pods) == 2 and all(ready(p) for p in pods) and not rolled_from & {p["metadata"]["name"] for p in pods}
    for _ in range(6):  # every replica serves the renewed certificate
        assert served_certificate(endpoint).strip() == renewed.cert_pem.strip()
    assert stack.outputs()["certificateExpiresAt"] == renewed.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    stack.pulumi("preview", "--expect-no-changes")
    stack.up()  # a second run: nothing changes, no Pod rolls
    assert {p["metadata"]["name"] for p in registry_pods()} == {p["metadata"]["name"] for p in pods}

    state, transcript = stack.state_text(), "\n".join(stack.transcript)
    for key in (first, renewed):
        body = "".join(key.key_pem.splitlines()[1:-1])
        assert body not in state and body not in transcript, "a private key in plaintext in the state or the CLI's output"
