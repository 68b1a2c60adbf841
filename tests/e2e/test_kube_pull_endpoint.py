"""End to end on the sandbox node: `pullPort` with target `kubernetes`, a read-only Deployment.

One stack, the tests in file order. It starts as a registry of main's layout (one read-write
Deployment, one push user) holding an image; then gains `pullPort` and a pull user in place (the
image kept, the outputs cluster stacks read unchanged). Then: the pull user reads through the
read-only Deployment and can neither push nor delete; a push is served there at once; a Pod on the
node pulls by the name CI pushed, with the pull secret (pull user only), and the read-only Pods serve
it (the node's hosts.toml sends pulls there); `scripts/gc.sh`
collects with the writer scaled to 0 while loops pull through both endpoints (the registry's
Service is sent to the read-only Pods meanwhile) and pushes get HTTP 405.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults import BackgroundLoop, RegistryClient, sandbox
from tests.e2e.helpers import CERTS_D, REPO, TEST_IMAGE, Stack, record, run
from tests.e2e.test_cluster_pull import Cluster, kubectl
from tests.e2e.test_kube_target import NODE_IP, init_kube_stack
from tests.e2e.test_pull_endpoint import Pulls

NAMESPACE, APPS = "e2e-kube-pull", "e2e-kube-pull-apps"
PORT, PULL_PORT = 30537, 30538
USERS = [{"name": "ci"}, {"name": "puller", "access": "pull"}]


class KubePull:
    """The stack, its outputs and a client per user and endpoint."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.outputs: dict[str, Any] = {}
        self.kept: tuple[str, str, bytes] = ("", "", b"")

    def refresh(self) -> dict[str, Any]:
        self.outputs = self.stack.outputs()
        return self.outputs

    def client(self, user: str, endpoint: str = "endpoint") -> RegistryClient:
        out = self.outputs
        return RegistryClient(out[endpoint], out["caCertificate"], user, out["passwords"][user])


def clean_namespaces() -> None:
    kubectl("delete", "namespace", NAMESPACE, APPS, "--ignore-not-found", "--timeout=120s")


@pytest.fixture(scope="module")
def reg(workdir: Path) -> Iterator[KubePull]:
    if not NODE_IP or not os.environ.get("SANDBOX_S3_ENDPOINT"):
        pytest.fail("SANDBOX_NODE_IP and SANDBOX_S3_ENDPOINT are not set: run through scripts/test.sh", pytrace=False)
    clean_namespaces()
    kubectl("create", "namespace", APPS)
    bucket = f"e2e-kube-pull-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    stack = Stack(workdir, "e2e-kube-pull")
    r = KubePull(stack)
    settings = {
        "replicas": 1,
        "deleteEnabled": True,
        "users": [{"name": "ci"}],
        "pullSecret": {"name": "registry-pull-credentials", "namespaces": [APPS], "allowPushUser": True},
    }
    init_kube_stack(stack, NAMESPACE, PORT, bucket, settings)
    try:
        record(f"kubernetes pull endpoint: first up (main's layout, one read-write replica) {stack.up():.1f} s")
        r.refresh()
        r.kept = r.client("ci").push_image("team/kept", "1")
        yield r
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        clean_namespaces()


def test_a_running_registry_gains_a_read_only_deployment_in_place(reg: KubePull) -> None:
    before = dict(reg.outputs)
    reg.stack.configure({"users": USERS, "pullPort": PULL_PORT, "pullReplicas": 2})
    steps = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in reg.stack.preview_steps()}
    created = {name for op, name in steps if op == "create"}
    assert {"registry-deployment-pull-deployment", "registry-deployment-pull-service"} <= created, steps
    # The writer Deployment is not touched: its Pods keep serving; only its users Secret changes.
    assert not [name for op, name in steps if op != "same" and name == "registry-deployment-deployment"], steps
    record(f"kubernetes pull endpoint: added to the running stack, pulumi up {reg.stack.up():.1f} s")
    after = reg.refresh()
    same = ("endpoint", "caCertificate", "registryNamespace", "registryDeployment", "registryStorage")
    assert {k: after[k] for k in same} == {k: before[k] for k in same}
    assert after["passwords"]["ci"] == before["passwords"]["ci"]
    assert (after["pullEndpoint"], after["pullDeployment"]) == (f"{NODE_IP}:{PULL_PORT}", "registry-pull")
    reg.client("puller", "pullEndpoint").assert_image("team/kept", "1", reg.kept)
    reg.stack.pulumi("preview", "--expect-no-changes")
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    names = sorted(p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods)
    assert names == ["registry", "registry-pull", "registry-pull"], names


def test_the_pull_user_reads_through_the_read_only_deployment_only(reg: KubePull) -> None:
    image = reg.client("ci").push_image("team/app", "1")
    reg.client("puller", "pullEndpoint").assert_image("team/app", "1", image)  # at once: tags are read from storage
    reg.client("ci", "pullEndpoint").assert_image("team/app", "1", image)
    status, _, body = reg.client("puller", "pullEndpoint").request("POST", "/v2/team/app/blobs/uploads/")
    assert status == 405, (status, body)
    record(f"kubernetes pull endpoint: a push as the pull user, read-only Deployment: HTTP {status} {body.decode()[:60]}")
    status, _, body = reg.client("puller").request("POST", "/v2/team/app/blobs/uploads/")
    assert status == 401, (status, body)
    record(f"kubernetes pull endpoint: a push as the pull user, read-write Deployment: HTTP {status} {body.decode()[:60]}")
    assert reg.client("puller", "pullEndpoint").request("DELETE", f"/v2/team/app/manifests/{image[0]}")[0] == 405
    assert reg.client("puller").request("DELETE", f"/v2/team/app/manifests/{image[0]}")[0] == 401


def registry_log(deployment: str, since: str) -> list[str]:
    logs = kubectl("logs", "-n", NAMESPACE, "-l", f"app.kubernetes.io/name={deployment}", "--tail=-1", f"--since-time={since}")
    return logs.stdout.splitlines()


def test_a_pod_pulls_by_the_pushed_name_from_the_read_only_deployment(reg: KubePull) -> None:
    out = reg.outputs
    endpoint = out["endpoint"]
    secret = json.loads(kubectl("get", "secret", out["pullSecretName"], "-n", APPS, "-o", "json").stdout)
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert list(auths) == [endpoint] and auths[endpoint]["username"] == "puller"
    ca_dir, config = CERTS_D / endpoint, reg.stack.workdir / "kube-pull-docker-config"
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.crt").write_text(out["caCertificate"])
    docker = ["docker", "--config", str(config)]
    node = Cluster(reg.stack, PORT, host=NODE_IP)  # Pods name the image as CI pushed it
    node.outputs = out
    try:
        run([*docker, "login", endpoint, "-u", "ci", "--password-stdin"], input=out["passwords"]["ci"])
        run([*docker, "tag", TEST_IMAGE, f"{endpoint}/e2e/hello:1"])
        run([*docker, "push", f"{endpoint}/e2e/hello:1"])
        node.install_trust_by_hand()
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        pod = node.run_pod(APPS, "pulled-from-the-read-only-deployment", secret=out["pullSecretName"])
        phase, seconds = node.wait_pod(APPS, pod)
        assert phase == "Succeeded", node.events(APPS, pod)
        assert kubectl("logs", pod, "-n", APPS).stdout.strip() == "pulled-from-the-read-only-deployment"
        reader = [line for line in registry_log("registry-pull", since) if "e2e/hello/manifests/1" in line]
        # The node's containerd (its user agent) never reached the writer; CI's docker push did, before.
        writer = [line for line in registry_log("registry", since) if "e2e/hello" in line and "containerd/" in line]
        assert any("auth.user.name=puller" in line for line in reader), reader
        assert not writer, writer
        record(
            f"kubernetes pull endpoint: a Pod pulled {node.image} with the pull secret in {seconds:.1f} s, served by "
            f"the read-only Pods ({len(reader)} log lines of its manifest there, none at the writer)"
        )
    finally:
        node.remove_trust()
        shutil.rmtree(ca_dir, ignore_errors=True)


class PushProbe(BackgroundLoop):
    """Starts an upload on the read-write endpoint every 0.2 s; keeps when and what each refused attempt got."""

    def __init__(self, client: RegistryClient) -> None:
        super().__init__()
        self.client = client
        self.refused: list[tuple[float, float, str]] = []  # asked, answered (s from the start), outcome
        self.accepted = 0

    def _run(self) -> None:
        started = time.perf_counter()
        while not self.stop.is_set():
            asked = time.perf_counter() - started
            try:
                status, _, body = self.client.request("POST", "/v2/team/probe/blobs/uploads/", timeout=5)
                outcome = "" if status == 202 else f"HTTP {status} {body[:80]!r}"
            except Exception as err:  # a refused connection is what a push meets while the writer is away
                outcome = str(err)[:120]
            if outcome:
                self.refused.append((asked, time.perf_counter() - started, outcome))
            else:
                self.accepted += 1
            time.sleep(0.2)


def test_gc_scales_the_writer_to_zero_while_pulls_go_on_through_both_endpoints(reg: KubePull) -> None:
    ci, puller = reg.client("ci"), reg.client("puller", "pullEndpoint")
    kept = ci.push_image("team/gc", "kept")
    doomed = ci.push_image("team/gc", "doomed")
    assert ci.request("DELETE", f"/v2/team/gc/manifests/{doomed[0]}")[0] == 202
    env = {**reg.stack.env, "PROJECT_DIR": str(reg.stack.project_dir)}
    with Pulls(puller, "team/gc", "kept", kept) as loop, Pulls(ci, "team/gc", "kept", kept) as main, PushProbe(ci) as pushes:
        time.sleep(1)
        gc = run(["bash", str(REPO / "scripts" / "gc.sh"), reg.stack.name], env=env)
        time.sleep(1)
    assert loop.pulls > 10 and not loop.errors, (loop.pulls, loop.errors[:3], gc.stderr[-3000:])
    assert main.pulls > 10 and not main.errors, (main.pulls, main.errors[:3], gc.stderr[-3000:])
    lines = gc.stdout.strip().splitlines()
    assert any("pulls through the read-only Deployment registry-pull went on" in line for line in lines), gc.stdout
    # Pushes were refused by the read-only Pods with an HTTP status (not a dead connection) while the
    # writer was away, and accepted before and after.
    assert pushes.refused and pushes.accepted >= 2, (pushes.refused[:3], pushes.accepted)
    assert all(outcome.startswith("HTTP 405") for _, _, outcome in pushes.refused), pushes.refused
    window = pushes.refused[-1][1] - pushes.refused[0][0]
    record(f"kubernetes gc: pushes refused for {window:.1f} s ({len(pushes.refused)} attempts): {pushes.refused[0][2]}")
    record(
        f"kubernetes gc: pulls during gc.sh: {loop.pulls} through the pull endpoint, {main.pulls} through the "
        "registry's endpoint, 0 failed"
    )
    record("; ".join(lines))
    assert puller.request("GET", f"/v2/team/gc/blobs/{doomed[1]}")[0] == 404
    puller.assert_image("team/gc", "kept", kept)
    ci.assert_image("team/gc", "kept", kept)
    deployment = json.loads(kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 1 and deployment["status"].get("readyReplicas") == 1
    reg.stack.pulumi("preview", "--expect-no-changes")  # scaled back to what the stack says: no drift


TAINT, POOL = "e2e-registry", "e2e-registry-pool"


def test_pods_placement_puts_both_deployments_on_a_tainted_labelled_node(reg: KubePull) -> None:
    (node,) = kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    kubectl("label", "nodes", node, f"{POOL}=yes", "--overwrite")
    kubectl("taint", "nodes", node, f"{TAINT}=dedicated:NoSchedule", "--overwrite")
    try:
        # The taint is in force: a Pod without the toleration is not scheduled.
        blocked = Cluster(reg.stack, PORT, host=NODE_IP)
        blocked.pods = 100
        name = blocked.run_pod(APPS, "not-scheduled", pull_always=False)
        wait_for_event(APPS, name, "FailedScheduling")
        pods = {
            "nodeSelector": {POOL: "yes"},
            "tolerations": [{"key": TAINT, "operator": "Equal", "value": "dedicated", "effect": "NoSchedule"}],
            "serviceAccount": {"create": True, "annotations": {"example.com/role": "registry"}},
            "labels": {"team": "platform"},
            "env": {"REGISTRY_LOG_LEVEL": "info"},
        }
        reg.stack.configure({"pods": pods})
        record(f"kubernetes pods placement: up with nodeSelector, toleration, ServiceAccount {reg.stack.up():.1f} s")
        # `up` returns when each Deployment reports its rollout done; a Pod of it may still be
        # starting then (seen once in CI: one Pending). Wait, bounded, and say how long it took.
        waited = time.perf_counter()
        running = wait_until_value(lambda: placed_pods(3), 60, "3 Running Pods labelled team=platform")
        record(f"kubernetes pods placement: all 3 Pods Running {time.perf_counter() - waited:.1f} s after up returned")
        assert sorted(p["metadata"]["labels"]["app.kubernetes.io/name"] for p in running) == [
            "registry",
            "registry-pull",
            "registry-pull",
        ]
        for pod in running:
            assert pod["spec"]["serviceAccountName"] == "registry" and pod["spec"]["nodeSelector"] == {POOL: "yes"}
        account = json.loads(kubectl("get", "serviceaccount", "registry", "-n", NAMESPACE, "-o", "json").stdout)
        assert account["metadata"]["annotations"]["example.com/role"] == "registry"
        reg.client("puller", "pullEndpoint").assert_image("team/kept", "1", reg.kept)
        reg.stack.pulumi("preview", "--expect-no-changes")
    finally:
        kubectl("taint", "nodes", node, f"{TAINT}=dedicated:NoSchedule-", check=False)
        kubectl("label", "nodes", node, f"{POOL}-", check=False)


def placed_pods(count: int) -> list[dict[str, Any]] | None:
    """The registry's Pods labelled team=platform, once there are `count` of them, all Running."""
    items = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", "team=platform", "-o", "json").stdout)["items"]
    pods = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == count and all(p["status"].get("phase") == "Running" for p in pods) else None


def wait_until_value(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


def wait_for_event(namespace: str, pod: str, reason: str, timeout: float = 60) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        events = json.loads(
            kubectl("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={pod}", "-o", "json").stdout
        )["items"]
        if any(e.get("reason") == reason for e in events):
            return
        time.sleep(0.5)
    raise AssertionError(f"no {reason} event for {namespace}/{pod} in {timeout} s")
