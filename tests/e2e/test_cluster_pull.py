"""End to end on the sandbox node: Pods pull from the registry the way a cluster does.

kubelet -> CRI -> containerd -> registry, using only the stack's outputs and the cluster. The
endpoint is the sandbox bridge address, not loopback: containerd skips TLS verification for a
`localhost` registry that has no hosts.toml, so a trust test there would prove nothing.

The tests run in file order against one stack: trust installed by hand as node provisioning would,
then the failures read as what they are, password rotation, certificate renewal, the node-trust
DaemonSet with nothing installed by hand, the KEP-1755 ConfigMaps and a consumer cluster stack.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import (
    CERTS_D,
    REGISTRY_HOST,
    REGISTRY_IMAGE,
    REPO,
    SANDBOX_CLUSTER,
    TEST_IMAGE,
    Stack,
    free_port,
    node_image_by_digest,
    record,
    run,
)

NODE_CERTS_D = Path(os.environ.get("SANDBOX_CONTAINERD_CERTS_D", "/etc/containerd/certs.d"))
# The DaemonSet's image must be one the node can pull before it trusts the registry: the test image,
# which the sandbox imports into the node's containerd.
NODE_LOCAL_IMAGE = os.environ.get("SANDBOX_NODE_TEST_IMAGE", TEST_IMAGE)
PATCHED, UNPATCHED = "e2e-pull", "e2e-nosecret"


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], check=check, input=stdin)


class Cluster:
    """The deployed stack, its pushed image and helpers to run Pods on the node."""

    def __init__(self, stack: Stack, port: int, host: str = REGISTRY_HOST) -> None:
        self.stack = stack
        self.endpoint = f"{host}:{port}"
        self.outputs: dict[str, Any] = {}
        self.image = f"{self.endpoint}/e2e/hello:1"
        self.docker_config = stack.workdir / "cluster-docker-config"
        self.pods = 0

    def refresh(self) -> dict[str, Any]:
        self.outputs = self.stack.outputs()
        return self.outputs

    def install_trust_by_hand(self) -> None:
        """What a node provisioning step does with the outputs."""
        folder = NODE_CERTS_D / self.endpoint
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ca.crt").write_text(self.outputs["caCertificate"])
        (folder / "hosts.toml").write_text(self.outputs["containerdHostsToml"])

    def remove_trust(self) -> None:
        shutil.rmtree(NODE_CERTS_D / self.endpoint, ignore_errors=True)

    def run_pod(self, namespace: str, message: str, pull_always: bool = True, secret: str | None = None) -> str:
        """Create a Pod (placed by the scheduler) that prints `message`; return its name."""
        self.pods += 1
        name = f"hello-{self.pods}"
        spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "hello",
                    "image": self.image,
                    "imagePullPolicy": "Always" if pull_always else "IfNotPresent",
                    "command": ["sh", "-c", f"echo {message}"],
                }
            ],
        }
        if secret:
            spec["imagePullSecrets"] = [{"name": secret}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
        kubectl("apply", "-f", "-", stdin=json.dumps(pod))
        return name

    def wait_pod(self, namespace: str, name: str, timeout: float = 120) -> tuple[str, float]:
        """Wait until the Pod ran to completion or cannot pull; its phase/reason and the seconds it took."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            pod = json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
            if pod["status"].get("phase") in ("Succeeded", "Failed"):
                return pod["status"]["phase"], time.perf_counter() - started
            for status in pod["status"].get("containerStatuses", []):
                reason = status.get("state", {}).get("waiting", {}).get("reason", "")
                if reason in ("ErrImagePull", "ImagePullBackOff"):
                    return reason, time.perf_counter() - started
            time.sleep(0.2)
        raise AssertionError(f"pod {namespace}/{name} neither ran nor failed to pull in {timeout} s")

    def events(self, namespace: str, name: str) -> str:
        return kubectl("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout


@pytest.fixture(scope="module")
def cluster(workdir: Path) -> Iterator[Cluster]:
    port = free_port()
    suffix = os.urandom(3).hex()
    container, volume = f"registry-cluster-{suffix}", f"registry-data-cluster-{suffix}"
    stack = Stack(workdir, "e2e-cluster")
    c = Cluster(stack, port)
    # Leftovers of an aborted earlier run would conflict with this stack's server-side applies: the
    # sandbox cluster belongs to the tests, so start from clean namespaces and KEP-1755 ConfigMaps.
    kubectl("delete", "namespace", PATCHED, UNPATCHED, "--ignore-not-found", "--timeout=120s")
    kubectl("delete", "configmap", "local-registry-hosting", "private-registry-ca", "-n", "kube-public", "--ignore-not-found")
    for namespace in (PATCHED, UNPATCHED):
        kubectl("create", "namespace", namespace)
    stack.init(
        {
            "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
            "endpoint": c.endpoint,
            "users": [{"name": "puller"}, {"name": "pusher"}],
            "image": REGISTRY_IMAGE,
            "pullImage": False,
            "port": port,
            "containerName": container,
            "dataVolume": volume,
            "retainData": False,
            "pullSecret": {
                "name": f"pull-{suffix}",
                "namespaces": [PATCHED],
                "patchDefaultServiceAccount": True,
                "allowPushUser": True,
            },
            "localRegistryHosting": True,
            **SANDBOX_CLUSTER,
        }
    )
    stack.set_secret("users[0].password", "puller-" + os.urandom(8).hex())
    ca_dir = CERTS_D / c.endpoint
    try:
        stack.up()
        c.refresh()
        # A user pushes an image (docker trusts the CA through certs.d, as the README says).
        ca_dir.mkdir(parents=True, exist_ok=True)
        (ca_dir / "ca.crt").write_text(c.outputs["caCertificate"])
        c.docker_config.mkdir(exist_ok=True)
        docker = ["docker", "--config", str(c.docker_config)]
        run([*docker, "login", c.endpoint, "-u", "pusher", "--password-stdin"], input=c.outputs["passwords"]["pusher"])
        run([*docker, "tag", TEST_IMAGE, c.image])
        run([*docker, "push", c.image])
        yield c
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        kubectl("delete", "namespace", PATCHED, UNPATCHED, "--ignore-not-found", "--wait=false", check=False)
        c.remove_trust()
        shutil.rmtree(ca_dir, ignore_errors=True)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)


def test_pod_in_a_patched_namespace_runs_the_pushed_image(cluster: Cluster) -> None:
    cluster.install_trust_by_hand()
    first = cluster.run_pod(PATCHED, "hello-from-the-private-registry")
    phase, seconds = cluster.wait_pod(PATCHED, first)
    assert phase == "Succeeded", cluster.events(PATCHED, first)
    record(f"pod: kubectl apply to completed, first pull: {seconds:.1f} s")
    assert kubectl("logs", first, "-n", PATCHED).stdout.strip() == "hello-from-the-private-registry"
    pod = json.loads(kubectl("get", "pod", first, "-n", PATCHED, "-o", "json").stdout)
    assert pod["spec"].get("nodeName"), "placed by the scheduler"
    assert pod["spec"]["imagePullSecrets"] == [{"name": cluster.outputs["pullSecretName"]}]  # from the default SA
    cached = cluster.run_pod(PATCHED, "cached", pull_always=False)
    phase, seconds = cluster.wait_pod(PATCHED, cached)
    assert phase == "Succeeded"
    record(f"pod: kubectl apply to completed, image on the node: {seconds:.1f} s")


def test_a_namespace_without_the_pull_secret_is_refused_credentials(cluster: Cluster) -> None:
    name = cluster.run_pod(UNPATCHED, "never")
    phase, _ = cluster.wait_pod(UNPATCHED, name)
    assert phase in ("ErrImagePull", "ImagePullBackOff")
    events = cluster.events(UNPATCHED, name)
    assert "401" in events or "no basic auth credentials" in events or "authorization failed" in events, events
    assert "x509" not in events, events


def test_a_node_that_does_not_trust_the_ca_shows_the_certificate_error(cluster: Cluster) -> None:
    cluster.remove_trust()
    # hosts.toml without the CA: containerd verifies against the system roots and fails.
    folder = NODE_CERTS_D / cluster.endpoint
    folder.mkdir(parents=True)
    (folder / "hosts.toml").write_text(cluster.outputs["containerdHostsToml"].replace('  ca = "ca.crt"\n', ""))
    try:
        name = cluster.run_pod(PATCHED, "never")
        phase, _ = cluster.wait_pod(PATCHED, name)
        assert phase in ("ErrImagePull", "ImagePullBackOff")
        events = cluster.events(PATCHED, name)
        assert "x509" in events or "certificate" in events, events
    finally:
        cluster.remove_trust()
        cluster.install_trust_by_hand()


def test_rotating_the_pull_password_keeps_pods_pulling(cluster: Cluster) -> None:
    old = json.loads(cluster.outputs["dockerConfigJson"])
    cluster.stack.set_secret("users[0].password", "puller-" + os.urandom(8).hex())
    cluster.stack.up()
    rotated = json.loads(cluster.refresh()["dockerConfigJson"])["auths"][cluster.endpoint]
    assert rotated["username"] == "puller~rotated"  # the new password under the user's second name
    # The outputs list the name with it (`puller` keeps the old password until the next up).
    same = rotated["password"] == cluster.outputs["passwords"]["puller~rotated"]  # a bool: no password in a report
    assert same, "the pull secret carries the user's new password"
    name = cluster.run_pod(PATCHED, "after-rotation")
    phase, _ = cluster.wait_pod(PATCHED, name)
    assert phase == "Succeeded", cluster.events(PATCHED, name)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "old-creds", "namespace": UNPATCHED},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(old).encode()).decode()},
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(secret))  # on stdin: never on a command line
    # Until the next run the old credentials still work (what a Pod started just before had) ...
    kept = cluster.run_pod(UNPATCHED, "old-credentials-kept", secret="old-creds")
    phase, _ = cluster.wait_pod(UNPATCHED, kept)
    assert phase == "Succeeded", cluster.events(UNPATCHED, kept)
    # ... and the next run drops them: a pull secret holding them is refused.
    cluster.stack.up()
    cluster.stack.pulumi("preview", "--expect-no-changes")
    refused = cluster.run_pod(UNPATCHED, "never", secret="old-creds")
    phase, _ = cluster.wait_pod(UNPATCHED, refused)
    assert phase in ("ErrImagePull", "ImagePullBackOff")
    events = cluster.events(UNPATCHED, refused)
    assert "401" in events or "authorization failed" in events or "unauthorized" in events.lower(), events


def test_a_new_server_certificate_needs_no_change_on_the_node(cluster: Cluster) -> None:
    before = dict(cluster.outputs)
    node_files = {p.name: p.read_text() for p in (NODE_CERTS_D / cluster.endpoint).iterdir()}
    cluster.stack.configure({"validityDays": 200})  # a new server certificate from the same CA
    cluster.stack.up()
    after = cluster.refresh()
    assert after["certificateExpiresAt"] != before["certificateExpiresAt"]
    assert after["caCertificate"] == before["caCertificate"]
    assert {p.name: p.read_text() for p in (NODE_CERTS_D / cluster.endpoint).iterdir()} == node_files
    name = cluster.run_pod(PATCHED, "after-renewal")
    phase, _ = cluster.wait_pod(PATCHED, name)
    assert phase == "Succeeded", cluster.events(PATCHED, name)


def test_the_node_trust_daemonset_alone_makes_pods_pull(cluster: Cluster) -> None:
    cluster.remove_trust()  # nothing installed by hand
    cluster.stack.configure({"nodeTrust": {"mode": "daemonset", "image": node_image_by_digest(), "namespace": PATCHED,
                                           "certsDir": str(NODE_CERTS_D)}})  # fmt: skip
    started = time.perf_counter()
    cluster.stack.up()
    kubectl("rollout", "status", "daemonset", "-n", PATCHED, "--timeout=120s")
    deadline = time.monotonic() + 60
    while not (NODE_CERTS_D / cluster.endpoint / "hosts.toml").exists():
        assert time.monotonic() < deadline, "the DaemonSet did not install hosts.toml"
        time.sleep(0.2)
    record(f"node trust by DaemonSet: up to files on the node {time.perf_counter() - started:.1f} s")
    assert (NODE_CERTS_D / cluster.endpoint / "ca.crt").read_text() == cluster.outputs["caCertificate"]
    assert (NODE_CERTS_D / cluster.endpoint / "hosts.toml").read_text() == cluster.outputs["containerdHostsToml"]
    name = cluster.run_pod(PATCHED, "trusted-by-daemonset")
    phase, _ = cluster.wait_pod(PATCHED, name)
    assert phase == "Succeeded", cluster.events(PATCHED, name)
    cluster.stack.pulumi("preview", "--expect-no-changes")


def test_kep_1755_config_maps_name_the_registry_and_its_ca(cluster: Cluster) -> None:
    hosting = json.loads(kubectl("get", "configmap", "local-registry-hosting", "-n", "kube-public", "-o", "json").stdout)
    document = yaml.safe_load(hosting["data"]["localRegistryHosting.v1"])
    assert document == {"host": cluster.endpoint, "hostFromContainerRuntime": cluster.endpoint}
    ca = json.loads(kubectl("get", "configmap", "private-registry-ca", "-n", "kube-public", "-o", "json").stdout)
    assert ca["data"]["ca.crt"] == cluster.outputs["caCertificate"]


def test_a_consumer_cluster_stack_runs_the_image(cluster: Cluster) -> None:
    source = REPO / "examples" / "consumer"
    project = cluster.stack.workdir / "consumer"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(source / name, project / name)
    text = (project / "Pulumi.yaml").read_text().replace("virtualenv: ../../venv", f"virtualenv: {REPO / 'venv'}")
    (project / "Pulumi.yaml").write_text(text)
    consumer = Stack(cluster.stack.workdir, "consumer", project_dir=project)
    consumer.init(
        {
            "registryStack": "organization/private-registry/e2e-cluster",
            "image": cluster.image,
            "command": ["sh", "-c", "echo consumer up; sleep 3600"],
            "namespace": f"consumer-{os.urandom(2).hex()}",
        }
    )
    try:
        started = time.perf_counter()
        consumer.up()  # returns once the Deployment is Available
        record(f"consumer stack (namespace, pull secret, Deployment Available): {time.perf_counter() - started:.1f} s")
        mine = consumer.outputs()
        deployment = json.loads(kubectl("get", "deployment", mine["deployment"], "-n", mine["namespace"], "-o", "json").stdout)
        available = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
        assert available.get("Available") == "True"
        assert mine["registryEndpoint"] == cluster.endpoint
        same = mine["dockerConfigJson"] == cluster.outputs["dockerConfigJson"]  # booleans: no secret in a report
        assert same, "the consumer does not see the registry's dockerConfigJson"
        shown = consumer.pulumi("stack", "output", "dockerConfigJson").stdout
        leaked = cluster.outputs["passwords"]["puller"] in shown
        assert "[secret]" in shown and not leaked, "the consumer's secret output is shown in plaintext"
    finally:
        consumer.pulumi("destroy", "--yes", check=False)
