"""End to end: the sandbox pieces the registry-on-Kubernetes tests stand on.

- kube-proxy (iptables mode) on the node: a NodePort Service answers from the host at
  `SANDBOX_NODE_IP:<nodePort>` (where containerd on the host will pull from), and a Pod reaches the
  same Deployment through its ClusterIP; the controller-manager fills the Service's EndpointSlice.
- The S3-compatible object store (versitygw): it answers, refuses unsigned requests, `sandbox.sh
  s3-bucket` is idempotent, and the sandbox's registry image with Distribution's `s3` storage driver
  serves an image pushed through it (multipart upload included), its blobs landing in the bucket.
- The registry image is in the node's containerd under the name the program uses.

Fixed names (namespace, bucket, container) are cleaned up at the start and at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import REGISTRY_HOST, REGISTRY_IMAGE, TEST_IMAGE, free_port, run

REPO = Path(__file__).resolve().parents[2]
SANDBOX = ["bash", str(REPO / "sandbox" / "sandbox.sh")]
NAMESPACE = "e2e-sandbox-services"
BUCKET = "e2e-sandbox-services"
S3_ROOT = "e2e-registry"
REGISTRY_CONTAINER = "e2e-sandbox-s3-registry"
NODE_TEST_IMAGE = os.environ.get("SANDBOX_NODE_TEST_IMAGE", "")
NODE_REGISTRY_IMAGE = os.environ.get("SANDBOX_NODE_REGISTRY_IMAGE", "")
NODE_IP = os.environ.get("SANDBOX_NODE_IP", "")
S3_ENDPOINT = os.environ.get("SANDBOX_S3_ENDPOINT", "")
S3_REGION = os.environ.get("SANDBOX_S3_REGION", "")
S3_ACCESS_KEY = os.environ.get("SANDBOX_S3_ACCESS_KEY", "")
S3_SECRET_KEY = os.environ.get("SANDBOX_S3_SECRET_KEY", "")
TIMEOUT = 60.0
REPLICAS = 2
PAYLOAD_BYTES = 12 * 1024 * 1024  # above the s3 driver's 10 MiB chunk size: a multipart upload
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], check=check, input=stdin)


def apply(document: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps(document))


def wait_until(what: str, probe: Any, timeout: float = TIMEOUT) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not after {timeout} s")


# ---------------------------------------------------------------- kube-proxy


def delete_namespace() -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=60s")


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    assert NODE_IP and NODE_TEST_IMAGE, "SANDBOX_NODE_IP / SANDBOX_NODE_TEST_IMAGE unset: sandbox.sh up with its node"
    delete_namespace()
    kubectl("create", "namespace", NAMESPACE)
    try:
        yield NAMESPACE
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)


def web_deployment() -> dict[str, Any]:
    """busybox httpd answering with the Pod's name, ready once it listens."""
    serve = 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'
    labels = {"app": "web"}
    container = {
        "name": "httpd",
        "image": NODE_TEST_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", serve],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
            },
        },
    }


def web_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def ready_endpoints() -> dict[str, str]:
    """Pod name -> address of the ready endpoints in the Service's EndpointSlices."""
    slices = json.loads(
        kubectl("get", "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=web", "-o", "json").stdout
    )
    found = {}
    for item in slices["items"]:
        for endpoint in item.get("endpoints") or []:
            if endpoint.get("conditions", {}).get("ready") and endpoint.get("targetRef"):
                found[endpoint["targetRef"]["name"]] = endpoint["addresses"][0]
    return found


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200, (url, response.status)
        return str(response.read().decode())


def test_a_nodeport_answers_at_the_node_ip_and_a_pod_reaches_the_cluster_ip(namespace: str) -> None:
    started = time.perf_counter()
    apply(web_deployment())
    apply(web_service())
    kubectl("rollout", "status", "deployment/web", "-n", namespace, f"--timeout={int(TIMEOUT)}s")
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout)["items"]
    pod_ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
    assert len(pod_ips) == REPLICAS, pod_ips
    # the controller-manager's EndpointSlice controller lists exactly the ready Pods
    endpoints = wait_until("EndpointSlice with both Pods ready", lambda: (e := ready_endpoints()) == pod_ips and e)
    assert endpoints == pod_ips

    service = json.loads(kubectl("get", "service", "web", "-n", namespace, "-o", "json").stdout)
    node_port = service["spec"]["ports"][0]["nodePort"]
    cluster_ip = service["spec"]["clusterIP"]
    assert 30000 <= node_port <= 32767 and cluster_ip.startswith("10.96.0."), service["spec"]
    node = json.loads(kubectl("get", "node", os.environ.get("SANDBOX_NODE_NAME", ""), "-o", "json").stdout)
    assert {"type": "InternalIP", "address": NODE_IP} in node["status"]["addresses"]

    # From the host, at the node's InternalIP (kube-proxy may still be writing its rules: retry).
    def from_host() -> str | None:
        try:
            return http_get(f"http://{NODE_IP}:{node_port}/")
        except OSError:
            return None

    answers = {wait_until(f"NodePort {NODE_IP}:{node_port}", from_host).strip()}
    answers |= {http_get(f"http://{NODE_IP}:{node_port}/").strip() for _ in range(9)}
    assert answers and answers <= {f"hello from {name}" for name in pod_ips}, answers

    # From a Pod, through the ClusterIP (DNAT on the node, then over the pod bridge). Debian's busybox
    # wget dies with SIGSEGV when given -T: the Pod's activeDeadlineSeconds bounds it instead.
    # Under the machine's worst case, whatever this machine has: FORWARD policy DROP (with
    # br_netfilter loaded, bridged Pod-to-Pod traffic meets it; only the node's own rules let it by).
    wget = ["wget", "-q", "-O", "-", f"http://{cluster_ip}:80/"]
    with forward_policy_drop() as case:
        phase, logs = run_pod(namespace, "client", NODE_TEST_IMAGE, wget, {})
    print(f"services: Pod -> ClusterIP -> Pod with {case}")
    assert phase == "Succeeded", logs
    assert logs in {f"hello from {name}" for name in pod_ips}, logs
    print(f"services: Deployment + NodePort + ClusterIP checks in {time.perf_counter() - started:.1f} s")


@contextmanager
def forward_policy_drop() -> Iterator[str]:
    """iptables' FORWARD policy DROP for the duration (the policy the machine had is restored after);
    yields which case ran. The node's own FORWARD rules for its Pod bridge must be there.
    """
    rules = run(["iptables", "-S", "FORWARD"]).stdout.splitlines()
    policy = next(line.split()[2] for line in rules if line.startswith("-P FORWARD "))
    ours = [line for line in rules if "prsbx-node-forward" in line]
    assert len(ours) == 2, f"the node's FORWARD rules for its Pod bridge are missing: {rules}"
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    nf = bridge_nf.read_text().strip() if bridge_nf.exists() else "not loaded"
    run(["iptables", "-P", "FORWARD", "DROP"])
    try:
        yield f"FORWARD policy DROP (machine's own: {policy}), bridge-nf-call-iptables {nf}"
    finally:
        run(["iptables", "-P", "FORWARD", policy])


def run_pod(namespace: str, name: str, image: str, command: list[str], security: dict[str, Any]) -> tuple[str, str]:
    """Run a one-shot Pod from an image already on the node; its final phase and its logs."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "activeDeadlineSeconds": 30,
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "command": command, **security}],
        },
    }
    apply(pod)

    def finished() -> str | None:
        phase: str | None = json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_until(f"Pod {name} finished", finished)
    return phase, kubectl("logs", name, "-n", namespace, check=False).stdout.strip()


def test_the_registry_image_is_on_the_node_under_the_programs_name(namespace: str) -> None:
    assert NODE_REGISTRY_IMAGE == "registry:3.1.2", NODE_REGISTRY_IMAGE
    ctr = [os.environ["SANDBOX_CTR"], "--address", os.environ["SANDBOX_CONTAINERD_ADDRESS"], "-n", "k8s.io"]
    names = run([*ctr, "images", "ls", "-q"]).stdout.split()
    assert f"docker.io/library/{NODE_REGISTRY_IMAGE}" in names, names
    # It runs without a pull, as the non-root, read-only user the registry Deployment uses.
    security = {
        "securityContext": {
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }
    }
    phase, logs = run_pod(namespace, "registry-version", NODE_REGISTRY_IMAGE, ["/bin/registry", "--version"], security)
    assert phase == "Succeeded" and "v3.1.2" in logs, (phase, logs)


# ---------------------------------------------------------------- S3


def s3(method: str, path: str, query: str = "") -> tuple[int, str]:
    """A SigV4-signed request with curl (the keys go through stdin): status code and body."""
    url = f"{S3_ENDPOINT}/{path}" + (f"?{query}" if query else "")
    head = ["--head"] if method == "HEAD" else ["-X", method]
    config = f'user = "{S3_ACCESS_KEY}:{S3_SECRET_KEY}"\n'
    cmd = ["curl", "-s", "--max-time", "10", "-K", "-", *head, "-w", "\n%{http_code}"]
    cmd += ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--aws-sigv4", f"aws:amz:{S3_REGION}:s3", url]
    body, _, code = run(cmd, input=config).stdout.rpartition("\n")
    return int(code), body


def bucket_keys(prefix: str, bucket: str = BUCKET) -> list[str]:
    keys: list[str] = []
    token = ""
    while True:
        query = f"list-type=2&prefix={urllib.parse.quote(prefix, safe='')}" + (
            f"&continuation-token={urllib.parse.quote(token)}" if token else ""
        )
        code, body = s3("GET", bucket, query)
        assert code == 200, body
        root = ET.fromstring(body)
        keys += [k.text or "" for k in root.iter(f"{S3_NS}Key")]
        token = root.findtext(f"{S3_NS}NextContinuationToken") or ""
        if not token:
            return keys


def empty_bucket() -> None:
    code, _ = s3("HEAD", BUCKET)
    if code == 404:
        return
    for key in bucket_keys(""):
        assert s3("DELETE", f"{BUCKET}/{urllib.parse.quote(key)}")[0] == 204, key


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    assert S3_ENDPOINT and S3_ACCESS_KEY and S3_SECRET_KEY and S3_REGION, "SANDBOX_S3_* unset: sandbox.sh up"
    run(["docker", "rm", "-f", REGISTRY_CONTAINER], check=False)
    empty_bucket()
    try:
        yield BUCKET
    finally:
        run(["docker", "rm", "-f", REGISTRY_CONTAINER], check=False)
        empty_bucket()
        s3("DELETE", BUCKET)


def test_the_s3_store_answers_and_creates_a_bucket_idempotently(bucket: str) -> None:
    anonymous = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"{S3_ENDPOINT}/"], capture_output=True, text=True)
    denied, _, status = anonymous.stdout.rpartition("\n")
    assert status == "403" and "<Code>AccessDenied</Code>" in denied, anonymous.stdout
    assert s3("DELETE", bucket)[0] in (204, 404)
    assert s3("HEAD", bucket)[0] == 404
    first = run([*SANDBOX, "s3-bucket", bucket])
    second = run([*SANDBOX, "s3-bucket", bucket])
    assert f"bucket {bucket} created" in first.stderr, first.stderr
    assert f"bucket {bucket} exists" in second.stderr, second.stderr
    assert s3("HEAD", bucket)[0] == 200
    code, listing = s3("GET", "")
    assert code == 200 and f"<Name>{bucket}</Name>" in listing, listing


def test_the_registry_with_s3_storage_serves_a_pushed_image(bucket: str, tmp_path: Path) -> None:
    run([*SANDBOX, "s3-bucket", bucket])
    port = free_port()
    storage = {
        "REGISTRY_STORAGE": "s3",
        "REGISTRY_STORAGE_S3_REGIONENDPOINT": S3_ENDPOINT,
        "REGISTRY_STORAGE_S3_REGION": S3_REGION,
        "REGISTRY_STORAGE_S3_BUCKET": bucket,
        "REGISTRY_STORAGE_S3_ACCESSKEY": S3_ACCESS_KEY,
        "REGISTRY_STORAGE_S3_SECRETKEY": S3_SECRET_KEY,
        "REGISTRY_STORAGE_S3_FORCEPATHSTYLE": "true",
        "REGISTRY_STORAGE_S3_SECURE": "false",
        "REGISTRY_STORAGE_S3_ROOTDIRECTORY": f"/{S3_ROOT}",
        # blobs through the registry, not by a redirect to the store (clients of the NodePort may
        # not reach the S3 endpoint)
        "REGISTRY_STORAGE_REDIRECT_DISABLE": "true",
    }
    env_args = [arg for key in storage for arg in ("-e", key)]
    run(
        ["docker", "run", "-d", "--name", REGISTRY_CONTAINER, "-p", f"{port}:5000", *env_args, REGISTRY_IMAGE],
        env={**os.environ, **storage},  # values from the environment: not on the command line
    )
    registry = f"{REGISTRY_HOST}:{port}"

    def v2_answers() -> bool:
        try:
            return http_get(f"http://{registry}/v2/") == "{}"
        except OSError:
            return False

    wait_until(f"registry with s3 storage at {registry}", v2_answers, timeout=30)

    # An image with a layer above the driver's chunk size, so the push is a multipart upload.
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(PAYLOAD_BYTES))
    local = "e2e-sandbox-s3/big:1"
    container = run(["docker", "create", TEST_IMAGE]).stdout.strip()
    try:
        run(["docker", "cp", str(payload), f"{container}:/payload.bin"])
        run(["docker", "commit", container, local])
    finally:
        run(["docker", "rm", container], check=False)
    try:
        pushed_digest = tmp_path / "pushed.digest"
        push = ["skopeo", "copy", "-q", "--src-daemon-host", os.environ["DOCKER_HOST"], "--dest-tls-verify=false"]
        run([*push, "--digestfile", str(pushed_digest), f"docker-daemon:{local}", f"docker://{registry}/e2e/big:1"])
    finally:
        run(["docker", "rmi", local], check=False)
    digest = pushed_digest.read_text().strip()
    assert digest.startswith("sha256:"), digest

    inspected = json.loads(run(["skopeo", "inspect", "--tls-verify=false", f"docker://{registry}/e2e/big:1"]).stdout)
    assert inspected["Digest"] == digest
    pulled = tmp_path / "pulled"
    run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{registry}/e2e/big:1", f"dir:{pulled}"])
    assert run(["skopeo", "manifest-digest", str(pulled / "manifest.json")]).stdout.strip() == digest
    manifest = json.loads((pulled / "manifest.json").read_text())
    sizes = sorted(layer["size"] for layer in manifest["layers"])
    assert sizes[-1] > PAYLOAD_BYTES, sizes

    # The data is in the bucket, under the root directory, not in the container.
    keys = bucket_keys(f"{S3_ROOT}/docker/registry/v2/")
    tag = f"{S3_ROOT}/docker/registry/v2/repositories/e2e/big/_manifests/tags/1/current/link"
    assert tag in keys, keys
    blobs = [k for k in keys if k.startswith(f"{S3_ROOT}/docker/registry/v2/blobs/") and k.endswith("/data")]
    assert f"{S3_ROOT}/docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data" in blobs, blobs
    assert len(blobs) == 1 + 1 + len(manifest["layers"]), blobs  # manifest, config, layers
