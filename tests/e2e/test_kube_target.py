"""End to end on the sandbox node: target `kubernetes`, two replicas on S3-compatible storage.

One stack, the tests in file order: push as one user and a Pod pulls and runs the image, through
both replicas; a registry Pod deleted while a loop pulls; a password change (no restart) and a
certificate renewal (a rolling update) while a loop pulls; destroy keeps the bucket's data and a
new `up` serves the old images; a change of target is refused before anything is touched.

The registry's endpoint is the node's address and the Service's NodePort (kube-proxy); its storage
is the sandbox's S3 server; its image is the one the sandbox imports into the node's containerd
(`pullImage: false`, so the Pods never pull it).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.faults import BackgroundLoop, RegistryClient, sandbox, wait_until
from tests.e2e.helpers import CERTS_D, SANDBOX_CLUSTER, TEST_IMAGE, Stack, path_without, record, run
from tests.e2e.test_cluster_pull import Cluster, kubectl

NODE_IP = os.environ.get("SANDBOX_NODE_IP", "")
NODE_REGISTRY_IMAGE = os.environ.get("SANDBOX_NODE_REGISTRY_IMAGE", "registry:3.1.2")
NAMESPACE, APPS = "e2e-kube-registry", "e2e-kube-apps"
NODE_PORT = 30517
LABEL = "app.kubernetes.io/name=registry"


class PullLoop(BackgroundLoop):
    """Pulls one image (manifest, then layer) in a loop in the background, each request on a new
    connection (so kube-proxy picks a replica each time). A pull is retried up to 3 times, 0.2 s
    apart; it fails only when every attempt failed. Every stretch without a good pull is kept.
    """

    def __init__(self, client: Callable[[], RegistryClient], repo: str, tag: str, image: tuple[str, str, bytes]) -> None:
        super().__init__()
        self.client, self.repo, self.tag, self.image = client, repo, tag, image
        self.pulls = self.failures = self.retries = 0
        self.errors: list[str] = []
        self.longest_gap = 0.0

    def _pull_once(self) -> None:
        self.client().assert_image(self.repo, self.tag, self.image)

    def _run(self) -> None:
        last_good = time.perf_counter()
        while not self.stop.is_set():
            for attempt in range(4):
                try:
                    self._pull_once()
                    break
                except Exception as err:  # any failure of a pull counts, and the loop goes on
                    if attempt == 3:
                        self.failures += 1
                        self.errors.append(str(err)[:200])
                    else:
                        self.retries += 1
                        time.sleep(0.2)
            else:
                continue
            self.pulls += 1
            now = time.perf_counter()
            self.longest_gap = max(self.longest_gap, now - last_good)
            last_good = now

    def summary(self) -> str:
        return (
            f"{self.pulls} pulls, {self.failures} failed, {self.retries} retried requests, "
            f"longest time between two good pulls {self.longest_gap:.2f} s"
        )


def request_via_pod(
    pod_ip: str, endpoint: str, ca_pem: str, method: str, path: str, auth: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request to one replica (its Pod IP), verifying the certificate for the registry's endpoint."""
    host = endpoint.rsplit(":", 1)[0]
    context = ssl.create_default_context(cadata=ca_pem)
    connection = http.client.HTTPSConnection(host, 5000, context=context, timeout=10)
    connection.sock = context.wrap_socket(socket.create_connection((pod_ip, 5000), timeout=10), server_hostname=host)
    try:
        headers = {"Authorization": auth, "Content-Type": "application/octet-stream"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def get_via_pod(pod_ip: str, endpoint: str, ca_pem: str, path: str, auth: str) -> int:
    return request_via_pod(pod_ip, endpoint, ca_pem, "GET", path, auth)[0]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def registry_pods() -> list[dict[str, Any]]:
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", LABEL, "-o", "json").stdout)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def planned(stack: Stack) -> set[tuple[str, str]]:
    """(operation, resource name) of every step a plain `pulumi preview` plans."""
    return {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in stack.preview_steps()}


def restart_counts() -> dict[str, int]:
    """Registry Pod name -> restarts of its container."""
    return {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"] for p in registry_pods()}


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


class KubeRegistry:
    """The stack, its outputs, the pushed images and the clients."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.outputs: dict[str, Any] = {}
        self.cluster = Cluster(stack, NODE_PORT, host=NODE_IP)
        self.endpoint = self.cluster.endpoint
        self.small: tuple[str, str, bytes] = ("", "", b"")

    def refresh(self) -> dict[str, Any]:
        self.outputs = self.stack.outputs()
        self.cluster.outputs = self.outputs
        return self.outputs

    def client(self, user: str) -> RegistryClient:
        return RegistryClient(self.endpoint, self.outputs["caCertificate"], user, self.outputs["passwords"][user])

    def trust(self) -> None:
        """The CA for dockerd and for the node's containerd, as README and node provisioning do."""
        (CERTS_D / self.endpoint).mkdir(parents=True, exist_ok=True)
        (CERTS_D / self.endpoint / "ca.crt").write_text(self.outputs["caCertificate"])
        self.cluster.install_trust_by_hand()

    def users(self) -> list[dict[str, Any]]:
        """The `users` setting as the stack file holds it (configured passwords still encrypted)."""
        document = yaml.safe_load((self.stack.project_dir / f"Pulumi.{self.stack.name}.yaml").read_text())
        return list(document["config"]["private-registry:users"])

    def pull_secret_client(self) -> RegistryClient:
        """A client with the credentials the cluster's pull secret holds right now, as the kubelet reads them."""
        secret = json.loads(kubectl("get", "secret", self.outputs["pullSecretName"], "-n", APPS, "-o", "json").stdout)
        document = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        entry = document["auths"][self.endpoint]
        return RegistryClient(self.endpoint, self.outputs["caCertificate"], entry["username"], entry["password"])

    def replicas_accepting(self, user: str, password: str) -> int:
        auth = basic(user, password)
        pods = [p for p in registry_pods() if ready(p)]
        return sum(
            get_via_pod(p["status"]["podIP"], self.endpoint, self.outputs["caCertificate"], "/v2/", auth) == 200 for p in pods
        )


def s3_settings(bucket: str) -> dict[str, Any]:
    return {
        "driver": "s3",
        "bucket": bucket,
        "endpoint": os.environ["SANDBOX_S3_ENDPOINT"],
        "insecure": True,  # the sandbox's S3 store speaks plain HTTP on its bridge
        "region": os.environ.get("SANDBOX_S3_REGION", "us-east-1"),
        "rootDirectory": "/e2e",
    }


def init_kube_stack(stack: Stack, namespace: str, port: int, bucket: str, settings: dict[str, Any]) -> None:
    """A new stack of target kubernetes on the node: NodePort `port`, the node's registry image,
    the sandbox's S3 server (its keys as config secrets), and `settings` on top.
    """
    stack.init(
        {
            "target": "kubernetes",
            "namespace": namespace,
            "hostnames": [],
            "ipAddresses": [NODE_IP],
            "port": port,
            "image": NODE_REGISTRY_IMAGE,
            "pullImage": False,
            "storage": s3_settings(bucket),
            "localRegistryHosting": False,  # tests/e2e/test_cluster_pull.py owns the cluster's
            **SANDBOX_CLUSTER,
            **settings,
        }
    )
    stack.set_secret("storage.accessKey", os.environ["SANDBOX_S3_ACCESS_KEY"])
    stack.set_secret("storage.secretKey", os.environ["SANDBOX_S3_SECRET_KEY"])


def clean_namespaces() -> None:
    kubectl("delete", "namespace", NAMESPACE, APPS, "--ignore-not-found", "--timeout=120s")


@pytest.fixture(scope="module")
def reg(workdir: Path) -> Iterator[KubeRegistry]:
    if not NODE_IP or not os.environ.get("SANDBOX_S3_ENDPOINT"):
        pytest.fail("SANDBOX_NODE_IP and SANDBOX_S3_ENDPOINT are not set: run through scripts/test.sh", pytrace=False)
    clean_namespaces()  # leftovers of an aborted earlier run
    kubectl("create", "namespace", APPS)
    bucket = f"e2e-kube-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    stack = Stack(workdir, "e2e-kube")
    r = KubeRegistry(stack)
    settings = {
        "replicas": 2,
        "users": [{"name": "pusher"}, {"name": "puller"}],
        "pullSecret": {"namespaces": [APPS], "user": "puller", "patchDefaultServiceAccount": True, "allowPushUser": True},
    }
    init_kube_stack(stack, NAMESPACE, NODE_PORT, bucket, settings)
    stack.set_secret("users[1].password", "puller-" + os.urandom(8).hex())
    try:
        seconds = stack.up()
        record(f"kubernetes target: first up (2 replicas on S3, NodePort) {seconds:.1f} s")
        r.refresh()
        r.trust()
        r.small = r.client("pusher").push_image("e2e/small", "1")
        yield r
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        clean_namespaces()
        r.cluster.remove_trust()
        shutil.rmtree(CERTS_D / r.endpoint, ignore_errors=True)


def test_a_pod_pulls_what_one_user_pushed_through_both_replicas(reg: KubeRegistry) -> None:
    docker = ["docker", "--config", str(reg.stack.workdir / "docker-config")]
    run([*docker, "login", reg.endpoint, "-u", "pusher", "--password-stdin"], input=reg.outputs["passwords"]["pusher"])
    run([*docker, "tag", TEST_IMAGE, reg.cluster.image])
    run([*docker, "push", reg.cluster.image])
    name = reg.cluster.run_pod(APPS, "hello-from-the-registry-on-kubernetes")
    phase, seconds = reg.cluster.wait_pod(APPS, name)
    assert phase == "Succeeded", reg.cluster.events(APPS, name)
    assert kubectl("logs", name, "-n", APPS).stdout.strip() == "hello-from-the-registry-on-kubernetes"
    record(f"kubernetes target: pod pulled and ran the pushed image in {seconds:.1f} s")
    pods = registry_pods()
    assert len(pods) == 2 and all(ready(p) for p in pods)
    auth = basic("puller", reg.outputs["passwords"]["puller"])
    manifest = "/v2/e2e/hello/manifests/1"
    statuses = [get_via_pod(p["status"]["podIP"], reg.endpoint, reg.outputs["caCertificate"], manifest, auth) for p in pods]
    assert statuses == [200, 200]
    # Non-root, as the Deployment asks, and the outputs of the common contract.
    for pod in pods:
        assert pod["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1000
    assert reg.outputs["target"] == "kubernetes" and reg.outputs["endpoint"] == reg.endpoint
    assert reg.outputs["registryStorage"].startswith("s3://e2e-kube-")
    reg.stack.pulumi("preview", "--expect-no-changes")
    # No secret in plaintext: not in the state, not in anything the CLI printed (booleans: no secret in a report).
    secrets = [os.environ["SANDBOX_S3_SECRET_KEY"], *reg.outputs["passwords"].values()]
    state, transcript = reg.stack.state_text(), "\n".join(reg.stack.transcript)
    leaked = [i for i, value in enumerate(secrets) if value in state or value in transcript]
    assert not leaked, f"secret values {leaked} (by index) appear in plaintext"
    deployment = kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "json").stdout
    assert not any(value in deployment for value in secrets), "a secret value is in the Deployment object"


def test_an_upload_started_on_one_replica_finishes_on_the_other(reg: KubeRegistry) -> None:
    first, second = (p["status"]["podIP"] for p in registry_pods())
    auth, ca = basic("pusher", reg.outputs["passwords"]["pusher"]), reg.outputs["caCertificate"]
    status, headers, _ = request_via_pod(first, reg.endpoint, ca, "POST", "/v2/e2e/cross/blobs/uploads/", auth)
    assert status == 202, status
    location = urllib.parse.urlsplit(headers["Location"])
    blob = os.urandom(4096)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    # The upload state is signed with the HTTP secret: the other replica accepts it only if they share it.
    finish = f"{location.path}?{location.query}&digest={digest}"
    status, _, body = request_via_pod(second, reg.endpoint, ca, "PUT", finish, auth, blob)
    assert status == 201, body[:300]
    status, _, body = request_via_pod(first, reg.endpoint, ca, "GET", f"/v2/e2e/cross/blobs/{digest}", auth)
    assert status == 200 and body == blob


def test_deleting_a_registry_pod_while_a_loop_pulls(reg: KubeRegistry) -> None:
    victim = registry_pods()[0]["metadata"]["name"]
    with PullLoop(lambda: reg.client("puller"), "e2e/small", "1", reg.small) as loop:
        time.sleep(2)
        kubectl("delete", "pod", victim, "-n", NAMESPACE, "--wait=false")
        wait_until(
            lambda: len([p for p in registry_pods() if ready(p) and p["metadata"]["name"] != victim]) == 2,
            120,
            "a second ready replica after the deletion",
            interval=0.5,
        )
        time.sleep(3)
    record(f"kubernetes target: registry Pod deleted while pulling: {loop.summary()}")
    assert loop.pulls > 10 and loop.failures == 0, loop.errors[:3]


def test_password_change_and_certificate_renewal_while_loops_pull(reg: KubeRegistry, workdir: Path) -> None:
    before = restart_counts()
    # The gate reads the replicas' files through the Kubernetes API: `pulumi up` runs where no kubectl is.
    reg.stack.env["PATH"] = path_without("kubectl", reg.stack.env.get("PATH", os.environ["PATH"]), workdir)
    old_password = reg.outputs["passwords"]["puller"]
    new_password = "puller-" + os.urandom(8).hex()
    # Two loops: one as a user whose password stays, one as the kubelet does it (the credentials of
    # the pull secret in the cluster, read again for every pull).
    stable = PullLoop(lambda: reg.client("pusher"), "e2e/small", "1", reg.small)
    kubelet = PullLoop(reg.pull_secret_client, "e2e/small", "1", reg.small)
    with stable, kubelet:
        reg.stack.set_secret("users[1].password", new_password)
        # What a PR check's plain preview shows: the users Secret, the gate and the pull secret change
        # in place; the Deployment does not change at all.
        assert planned(reg.stack) == {
            ("update", "registry-users-file"),
            ("update", "registry-users-pull-credential"),
            ("update", "registry-deployment-auth"),
            ("update", "registry-pull-gate"),
            ("update", f"registry-pull-secrets-{APPS}"),
        }
        started = time.perf_counter()
        reg.stack.up()
        up_seconds = time.perf_counter() - started
        # The pull secret switched to the new password under the user's second name, only once both
        # replicas accepted it; the old credential still works until the next run.
        assert reg.pull_secret_client().user == "puller~rotated"
        assert reg.replicas_accepting("puller~rotated", new_password) == 2
        assert reg.replicas_accepting("puller", old_password) == 2
        assert restart_counts() == before, "the password change restarted or replaced registry Pods"
        time.sleep(2)
    record(
        f"kubernetes target: one-step password change of the pull user: up {up_seconds:.1f} s (the gate waits for both replicas; "
        "no kubectl on the PATH of `pulumi up`)"
    )
    record(f"kubernetes target: pulls as another user during the password change: {stable.summary()}")
    record(f"kubernetes target: pulls with the pull secret during the one-step password change: {kubelet.summary()}")
    assert stable.pulls > 10 and stable.failures == 0, stable.errors[:3]
    assert kubelet.pulls > 10 and kubelet.failures == 0, kubelet.errors[:3]

    # The next run drops the old credential: the pull secret stays as it is.
    kubelet = PullLoop(reg.pull_secret_client, "e2e/small", "1", reg.small)
    with kubelet:
        assert planned(reg.stack) == {("update", "registry-users-file"), ("update", "registry-deployment-auth")}
        reg.stack.up()
        gone = wait_until(lambda: reg.replicas_accepting("puller", old_password) == 0, 180, "the old password refused", 0.5)
        time.sleep(1)
    record(f"kubernetes target: the next up drops the old pull password: refused by both replicas {gone:.1f} s after it")
    assert kubelet.pulls > 10 and kubelet.failures == 0, kubelet.errors[:3]
    reg.stack.pulumi("preview", "--expect-no-changes")
    reg.refresh()

    # Another pull user, the old one removed, in one up: the gate again; then a certificate renewal.
    users = reg.users()
    stable = PullLoop(lambda: reg.client("pusher"), "e2e/small", "1", reg.small)
    kubelet = PullLoop(reg.pull_secret_client, "e2e/small", "1", reg.small)
    with stable, kubelet:
        reg.stack.configure(
            {
                "users": [*(u for u in users if u["name"] != "puller"), {"name": "puller2"}],
                "pullSecret": {
                    "namespaces": [APPS],
                    "user": "puller2",
                    "patchDefaultServiceAccount": True,
                    "allowPushUser": True,
                },
            }
        )
        started = time.perf_counter()
        reg.stack.up()
        switched = time.perf_counter() - started
        assert reg.pull_secret_client().user == "puller2"
        reg.stack.up()  # drops the old user's kept credential
        reg.refresh()
        # A new server certificate from the same CA: TLS is read at start, so the replicas roll one by one.
        before_cert = reg.outputs["certificateExpiresAt"]
        rolled_from = set(restart_counts())
        reg.stack.configure({"validityDays": 200})
        changes = planned(reg.stack)
        assert {("update", "registry-deployment-tls"), ("update", "registry-deployment-deployment")} <= changes, changes
        assert not {name for op, name in changes if op != "update" and not name.startswith("registry-tls-server")}
        started = time.perf_counter()
        reg.stack.up()
        record(f"kubernetes target: certificate renewal, rolling update: up {time.perf_counter() - started:.1f} s")
        time.sleep(2)
    record(f"kubernetes target: pull user switched and the old one removed in one up: {switched:.1f} s")
    record(f"kubernetes target: pulls as another user, pull user switch and renewal: {stable.summary()}")
    record(f"kubernetes target: pulls with the pull secret, pull user switch and renewal: {kubelet.summary()}")
    assert stable.pulls > 10 and stable.failures == 0, stable.errors[:3]
    assert kubelet.pulls > 10 and kubelet.failures == 0, kubelet.errors[:3]
    assert reg.refresh()["certificateExpiresAt"] != before_cert
    assert not rolled_from & set(restart_counts()), "the renewal did not roll the Pods"
    assert reg.outputs["usernames"] == ["pusher", "puller2"]
    name = reg.cluster.run_pod(APPS, "after-rotation-and-renewal")
    phase, _ = reg.cluster.wait_pod(APPS, name)
    assert phase == "Succeeded", reg.cluster.events(APPS, name)


def test_destroy_keeps_the_bucket_and_a_new_up_serves_the_old_images(reg: KubeRegistry) -> None:
    reg.stack.pulumi("destroy", "--yes")
    gone = kubectl("get", "namespace", NAMESPACE, check=False)
    assert gone.returncode != 0 or '"Terminating"' in kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout
    kubectl("wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=120s", check=False)
    reg.stack.up()
    reg.refresh()  # a new CA and new generated passwords: the old stack's keys went with the destroy
    reg.trust()
    reg.client("pusher").assert_image("e2e/small", "1", reg.small)
    name = reg.cluster.run_pod(APPS, "old-image-after-destroy-and-up")
    phase, _ = reg.cluster.wait_pod(APPS, name)
    assert phase == "Succeeded", reg.cluster.events(APPS, name)


def test_a_change_of_target_is_refused_before_anything_is_touched(reg: KubeRegistry) -> None:
    generation = kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "jsonpath={.metadata.generation}").stdout
    kube_only = ["namespace", "replicas", "storage"]
    document = (reg.stack.project_dir / f"Pulumi.{reg.stack.name}.yaml").read_text()
    reg.stack.configure({"target": "docker", "port": 30518})
    for key in kube_only:
        reg.stack.pulumi("config", "rm", "--path", key)
    try:
        for command in (["preview"], ["up", "--yes"]):
            result = reg.stack.pulumi(*command, check=False)
            assert result.returncode != 0
            output = result.stdout + result.stderr
            assert "this stack's registry runs on target 'kubernetes'" in output, output[-2000:]
    finally:
        (reg.stack.project_dir / f"Pulumi.{reg.stack.name}.yaml").write_text(document)
    after = kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "jsonpath={.metadata.generation}").stdout
    assert after == generation
    assert run(["docker", "ps", "-a", "--filter", "name=registry-e2e-kube", "-q"]).stdout.strip() == ""
    reg.stack.pulumi("preview", "--expect-no-changes")
