"""End to end: the sandbox node (containerd + kubelet + kube-scheduler) runs ordinary Pods.

The node is started by `sandbox.sh up` (sandbox/node.sh). These tests check what the product's
cluster tests rely on: the node is Ready at the sandbox's versions, the scheduler places Pods on it,
its containerd reads registry trust from `SANDBOX_CONTAINERD_CERTS_D` and pulls over TLS from a
registry on the sandbox bridge address, Pods reach that address, and `kubectl logs`/`exec` work
(the API server authenticates to the kubelet). That `sandbox.sh down` leaves nothing of the node
behind is checked by scripts/test.sh after the session (sandbox/node-footprint.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import (
    CERTS_D,
    REGISTRY_HOST,
    SANDBOX_CLUSTER,
    TEST_IMAGE,
    Stack,
    free_port,
    record,
    run,
    throwaway_registry_stack,
)

NODE_NAME = os.environ.get("SANDBOX_NODE_NAME", "")
NODE_CERTS_D = Path(os.environ.get("SANDBOX_CONTAINERD_CERTS_D", "/nonexistent/certs.d"))
KUBE_VERSION = "v1.36.3"
CONTAINERD_VERSION = "2.4.2"  # CRI reports it without the v
RUNNING_TIMEOUT = 120.0
PAYLOAD_BYTES = 8 * 1024 * 1024


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], check=check, input=stdin)


def pod_json(namespace: str, name: str) -> dict[str, Any]:
    return json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)


def events(namespace: str, name: str) -> str:
    return kubectl("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout


class NodeRegistry:
    """A throwaway registry stack holding the test image, and a namespace with its pull secret."""

    def __init__(self, stack: Stack, endpoint: str, namespace: str) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.namespace = namespace
        self.image = f"{endpoint}/node/busybox:1"
        self.outputs: dict[str, Any] = {}
        self.pods = 0

    def install_trust(self) -> None:
        """What a node provisioning step does: hosts.toml and the CA into containerd's certs.d."""
        folder = NODE_CERTS_D / self.endpoint
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ca.crt").write_text(self.outputs["caCertificate"])
        (folder / "hosts.toml").write_text(self.hosts_toml())

    def hosts_toml(self) -> str:
        # The output may name the CA by an absolute /etc/containerd/certs.d path: point it at this
        # node's config_path, as a provisioning step for such a node would.
        text: str = self.outputs["containerdHostsToml"]
        return text.replace(f"/etc/containerd/certs.d/{self.endpoint}/", f"{NODE_CERTS_D / self.endpoint}/")

    def apply_pod(self, command: str, pull: str = "Always") -> str:
        """Create a Pod (no nodeName: the scheduler places it) and return its name."""
        self.pods += 1
        name = f"node-{self.pods}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "imagePullSecrets": [{"name": self.outputs["pullSecretName"]}],
                "containers": [{"name": "main", "image": self.image, "imagePullPolicy": pull, "command": ["sh", "-c", command]}],
            },
        }
        kubectl("apply", "-f", "-", stdin=json.dumps(pod))
        return name

    def wait_running(self, name: str) -> float:
        """Seconds until the Pod's container runs; fails early on a pull error."""
        started = time.perf_counter()
        while time.perf_counter() - started < RUNNING_TIMEOUT:
            status = pod_json(self.namespace, name)["status"]
            for container in status.get("containerStatuses", []):
                if "running" in container.get("state", {}):
                    return time.perf_counter() - started
                reason = container.get("state", {}).get("waiting", {}).get("reason", "")
                assert reason not in ("ErrImagePull", "ImagePullBackOff"), events(self.namespace, name)
            assert status.get("phase") not in ("Failed", "Succeeded"), status
            time.sleep(0.1)
        raise AssertionError(f"pod {name} not running after {RUNNING_TIMEOUT} s: {events(self.namespace, name)}")

    def wait_pull_error(self, name: str) -> str:
        """The events of a Pod whose image cannot be pulled."""
        deadline = time.monotonic() + RUNNING_TIMEOUT
        while time.monotonic() < deadline:
            for container in pod_json(self.namespace, name)["status"].get("containerStatuses", []):
                if container.get("state", {}).get("waiting", {}).get("reason", "") in ("ErrImagePull", "ImagePullBackOff"):
                    return events(self.namespace, name)
            time.sleep(0.2)
        raise AssertionError(f"pod {name} did not fail to pull: {events(self.namespace, name)}")

    def logs(self, name: str, expected: str) -> str:
        """`kubectl logs` once `expected` shows up (the container writes it right after starting)."""
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = kubectl("logs", name, "-n", self.namespace).stdout
            if expected in text:
                break
            time.sleep(0.2)
        return text


@pytest.fixture(scope="module")
def node_registry(workdir: Path) -> Iterator[NodeRegistry]:
    assert NODE_NAME, "SANDBOX_NODE_NAME is not set: start the sandbox with its node (sandbox.sh up)"
    assert NODE_CERTS_D.is_dir(), f"containerd's certs.d ({NODE_CERTS_D}) is missing: SANDBOX_CONTAINERD_CERTS_D"
    port = free_port()
    endpoint = f"{REGISTRY_HOST}:{port}"  # not loopback: containerd skips TLS checks for localhost
    namespace = f"e2e-node-{os.urandom(2).hex()}"
    kubectl("create", "namespace", namespace)
    settings = {
        "port": port,
        "endpoint": endpoint,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "users": [{"name": "puller"}],
        "pullSecret": {"name": "node-pull", "namespaces": [namespace], "allowPushUser": True},
        **SANDBOX_CLUSTER,
    }
    with throwaway_registry_stack(workdir, "e2e-node", settings) as stack:
        registry = NodeRegistry(stack, endpoint, namespace)
        ca_dir = CERTS_D / endpoint
        docker_config = stack.workdir / "node-docker-config"
        try:
            stack.set_secret("users[0].password", "puller-" + os.urandom(8).hex())
            stack.up()
            registry.outputs = stack.outputs()
            ca_dir.mkdir(parents=True, exist_ok=True)
            (ca_dir / "ca.crt").write_text(registry.outputs["caCertificate"])
            docker_config.mkdir(exist_ok=True)
            docker = ["docker", "--config", str(docker_config)]
            run([*docker, "login", endpoint, "-u", "puller", "--password-stdin"], input=registry.outputs["passwords"]["puller"])
            # A layer no earlier run pushed, so the first pull on the node really downloads.
            payload = stack.workdir / "payload.bin"
            payload.write_bytes(os.urandom(PAYLOAD_BYTES))
            container = run([*docker, "create", TEST_IMAGE]).stdout.strip()
            run([*docker, "cp", str(payload), f"{container}:/payload.bin"])
            run([*docker, "commit", container, registry.image])
            run([*docker, "rm", container])
            run([*docker, "push", registry.image])
            run([*docker, "rmi", registry.image])
            yield registry
        finally:
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)
            shutil.rmtree(NODE_CERTS_D / endpoint, ignore_errors=True)
            shutil.rmtree(ca_dir, ignore_errors=True)


def test_the_node_is_ready_at_the_sandbox_versions() -> None:
    assert NODE_NAME, "SANDBOX_NODE_NAME is not set: start the sandbox with its node (sandbox.sh up)"
    node = json.loads(kubectl("get", "node", NODE_NAME, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True", conditions
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == KUBE_VERSION
    assert info["containerRuntimeVersion"] == f"containerd://{CONTAINERD_VERSION}"
    assert not node["spec"].get("unschedulable") and not node["spec"].get("taints"), node["spec"]
    # the node name resolves, so the API server reaches the kubelet (kubectl logs/exec)
    assert {"type": "Hostname", "address": NODE_NAME} in node["status"]["addresses"]


def test_without_trust_in_certs_d_the_pull_fails_on_the_certificate(node_registry: NodeRegistry) -> None:
    shutil.rmtree(NODE_CERTS_D / node_registry.endpoint, ignore_errors=True)
    name = node_registry.apply_pod("echo never")
    text = node_registry.wait_pull_error(name)
    assert "x509" in text or "certificate signed by unknown authority" in text, text
    kubectl("delete", "pod", name, "-n", node_registry.namespace, "--wait=false")


def test_a_scheduled_pod_pulls_from_the_registry_runs_and_logs(node_registry: NodeRegistry) -> None:
    node_registry.install_trust()
    # The Pod also reaches the registry's published port on the bridge address: plain HTTP to the
    # TLS port gets Go's "400 Bad Request", which proves the connection was made.
    check = f"wget -q -O - http://{node_registry.endpoint}/ 2>&1 | head -c 200; echo; echo hello-from-the-node; sleep 3600"
    started = time.perf_counter()
    first = node_registry.apply_pod(check)
    seconds = node_registry.wait_running(first)
    record(f"node: kubectl apply to container running, first pull (busybox + 8 MiB layer): {seconds:.1f} s")
    pod = pod_json(node_registry.namespace, first)
    assert pod["spec"]["nodeName"] == NODE_NAME and pod["spec"]["schedulerName"] == "default-scheduler"
    assert '"reason": "Scheduled"' in events(node_registry.namespace, first)
    assert pod["status"]["containerStatuses"][0]["image"] == node_registry.image
    pulled = [e["message"] for e in json.loads(events(node_registry.namespace, first))["items"] if e["reason"] == "Pulled"]
    assert pulled and "Successfully pulled image" in pulled[0], pulled
    logs = node_registry.logs(first, "hello-from-the-node")
    assert "hello-from-the-node" in logs, logs
    assert "400 Bad Request" in logs, logs
    exec_ = kubectl("exec", first, "-n", node_registry.namespace, "--", "sh", "-c", "echo exec in $(hostname)")
    assert exec_.stdout.strip() == f"exec in {first}", exec_.stdout
    assert time.perf_counter() - started < RUNNING_TIMEOUT


def test_a_second_pod_starts_from_the_image_on_the_node(node_registry: NodeRegistry) -> None:
    name = node_registry.apply_pod("echo cached; sleep 3600", pull="IfNotPresent")
    seconds = node_registry.wait_running(name)
    record(f"node: kubectl apply to container running, image on the node: {seconds:.1f} s")
    assert "cached" in node_registry.logs(name, "cached")
    pulled = [e for e in json.loads(events(node_registry.namespace, name))["items"] if e["reason"] == "Pulled"]
    assert pulled and "already present" in pulled[0]["message"], pulled
