"""End to end on the sandbox: `mirrors`, a pull-through cache for an upstream registry the nodes name.

The upstream is a registry of its own on the sandbox bridge (a stack of this program, with its own
CA and user: Docker Hub is out of reach here), holding a runnable image. A second stack mirrors it:
the node gets `mirrorHostsToml` in the upstream's folder (as provisioning would install it), and a
Pod whose image names the upstream (`<upstream>/team/app:1`) is pulled through the mirror with the
stack's pull secret (the mirror's log shows requests of the mirrors' own credential, which the upstream and
the stack's registry refuse). Then the upstream is stopped:
a new Pod with the cached image still starts, and an image the mirror never fetched fails with a
clear event. Figures: a whole image fetched through the API cold through the mirror, directly from
the upstream, and cached in the mirror (upstream up and down).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.mirrors import MIRROR_USER
from tests.e2e.faults import RegistryClient, sandbox
from tests.e2e.helpers import (
    REGISTRY_HOST,
    SANDBOX_CLUSTER,
    Stack,
    free_port,
    node_image_by_digest,
    record,
    run,
    throwaway_registry_stack,
)
from tests.e2e.test_cluster_pull import NODE_CERTS_D, Cluster, kubectl
from tests.e2e.test_images import docker_push, on_bridge
from tests.e2e.test_kube_target import NODE_IP, init_kube_stack
from tests.e2e.test_pull_endpoint import registry_log

NAMESPACE = "e2e-mirrors"
ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class Setup:
    upstream: Stack
    upstream_outputs: dict[str, Any]
    mirror: Stack
    outputs: dict[str, Any]

    @property
    def upstream_name(self) -> str:
        return str(self.upstream_outputs["endpoint"])


@pytest.fixture(scope="module")
def setup(workdir: Path) -> Iterator[Setup]:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("create", "namespace", NAMESPACE)
    with throwaway_registry_stack(workdir / "upstream", "e2e-upstream", on_bridge(free_port())) as up:
        up.up()
        upstream: dict[str, Any] = up.outputs()
        docker_push(upstream, workdir, "team/app:1")
        docker_push(upstream, workdir, "team/other:1")
        docker_push(upstream, workdir, "team/cold:1")
        name = upstream["endpoint"]
        settings = on_bridge(
            free_port(),
            mirrors={name: {"port": free_port(), "username": "ci", "ca": upstream["caCertificate"], "ttl": "24h"}},
            pullSecret={"name": f"pull-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True},
            **SANDBOX_CLUSTER,
        )
        try:
            with throwaway_registry_stack(workdir / "mirror", "e2e-mirror", settings) as s:
                s.set_secret(f'mirrors["{name}"].password', upstream["passwords"]["ci"])
                seconds = s.up()
                record(f"mirrors: pulumi up of a stack with a mirror of one upstream in {seconds:.1f} s")
                yield Setup(up, upstream, s, s.outputs())
        finally:
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
            shutil.rmtree(NODE_CERTS_D / name, ignore_errors=True)
            run(["docker", "start", upstream["containerName"]], check=False)


def by_mirror_login(line: str) -> bool:
    """A registry log line of a request made with the mirrors' own credential (logfmt quotes the `~`)."""
    return f'auth.user.name="{MIRROR_USER}"' in line or f"auth.user.name={MIRROR_USER}" in line


def fetch_image(client: RegistryClient, repo: str, tag: str) -> float:
    """Seconds to fetch a whole image through the API (manifest, config and layers)."""
    started = time.perf_counter()
    status, _, body = client.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=60)
    assert status == 200, (status, body[:200])
    manifest = json.loads(body)
    for blob in [manifest["config"], *manifest["layers"]]:
        status, _, data = client.request("GET", f"/v2/{repo}/blobs/{blob['digest']}", timeout=60)
        assert status == 200 and len(data) == blob["size"], (status, len(data))
    return time.perf_counter() - started


def node_for(setup: Setup, image: str, stack: Stack | None = None, outputs: dict[str, Any] | None = None) -> Cluster:
    """The sandbox node with a mirror's hosts.toml in the upstream's folder, as provisioning installs it
    (the mirror of `stack`, by default the target-docker one).
    """
    stack, outputs = stack or setup.mirror, outputs or setup.outputs
    node = Cluster(stack, int(outputs["endpoint"].rsplit(":", 1)[1]))
    node.outputs, node.image = outputs, image
    folder = NODE_CERTS_D / setup.upstream_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.crt").write_text(outputs["caCertificate"])  # the mirror serves its stack's certificate
    (folder / "hosts.toml").write_text(outputs["mirrorHostsToml"][setup.upstream_name])
    return node


def pod_outcome(node: Cluster, secret: str) -> tuple[str, float, str]:
    pod = node.run_pod(NAMESPACE, f"mirrored-{os.urandom(2).hex()}", secret=secret)
    try:
        phase, seconds = node.wait_pod(NAMESPACE, pod)
        return phase, seconds, node.events(NAMESPACE, pod)
    finally:
        kubectl("delete", "pod", pod, "-n", NAMESPACE, "--wait=false", check=False)


def test_a_pod_naming_the_upstream_pulls_through_the_mirror(setup: Setup) -> None:
    out = setup.outputs
    assert out["mirrors"] == {setup.upstream_name: f"{REGISTRY_HOST}:{out['mirrors'][setup.upstream_name].rsplit(':', 1)[1]}"}
    secret = json.loads(kubectl("get", "secret", out["pullSecretName"], "-n", NAMESPACE, "-o", "json").stdout)
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert sorted(auths) == sorted([out["endpoint"], setup.upstream_name])
    # The upstream's name carries the mirrors' own credential: a node without the mirror's hosts.toml
    # sends it to the real upstream, where it opens nothing; nor does it open this stack's registry.
    login = auths[setup.upstream_name]
    assert login["username"] == MIRROR_USER and auths[out["endpoint"]]["username"] == "ci"
    up = setup.upstream_outputs
    answers = {
        where: RegistryClient(endpoint, ca, MIRROR_USER, login["password"]).request("GET", "/v2/")[0]
        for where, endpoint, ca in [
            ("upstream", up["endpoint"], up["caCertificate"]),
            ("registry", out["endpoint"], out["caCertificate"]),
            ("mirror", out["mirrors"][setup.upstream_name], out["caCertificate"]),
        ]
    }
    assert answers == {"upstream": 401, "registry": 401, "mirror": 200}, answers
    mirror_container = f"{out['containerName']}-mirror-{setup.upstream_name.replace('.', '-').replace(':', '-')}"
    since = str(int(time.time()) - 1)
    node = node_for(setup, f"{setup.upstream_name}/team/app:1")
    phase, seconds, events = pod_outcome(node, out["pullSecretName"])
    assert phase == "Succeeded", events
    served = [line for line in registry_log(mirror_container, since) if "team/app/manifests/1" in line]
    assert any(by_mirror_login(line) for line in served), served
    record(
        f"mirrors: a Pod naming {setup.upstream_name}/team/app:1 pulled through the mirror in {seconds:.1f} s "
        f"({len(served)} manifest log lines there)"
    )


def test_the_cache_serves_with_the_upstream_down_and_an_uncached_image_fails_clearly(setup: Setup) -> None:
    out, up = setup.outputs, setup.upstream_outputs
    mirror = RegistryClient(out["mirrors"][setup.upstream_name], out["caCertificate"], "ci", out["passwords"]["ci"])
    direct = RegistryClient(up["endpoint"], up["caCertificate"], "ci", up["passwords"]["ci"])
    direct_seconds = fetch_image(direct, "team/cold", "1")
    cold = fetch_image(mirror, "team/cold", "1")  # first through the mirror: fetched from the upstream
    cached_up = fetch_image(mirror, "team/cold", "1")
    run(["docker", "stop", up["containerName"]])
    try:
        cached_down = fetch_image(mirror, "team/cold", "1")
        node = node_for(setup, f"{setup.upstream_name}/team/app:1")
        phase, seconds, events = pod_outcome(node, out["pullSecretName"])
        assert phase == "Succeeded", events
        node.image = f"{setup.upstream_name}/team/other:1"
        failed, _, events = pod_outcome(node, out["pullSecretName"])
        assert failed in ("ErrImagePull", "ImagePullBackOff"), (failed, events)
        messages = [e.get("message", "") for e in json.loads(events)["items"] if e.get("reason") in ("Failed",)]
        assert any("team/other:1" in m for m in messages), messages
    finally:
        run(["docker", "start", up["containerName"]])
    record(
        f"mirrors: whole image through the API: directly from the upstream {direct_seconds:.2f} s, first through the "
        f"mirror {cold:.2f} s, from the mirror's cache "
        f"{cached_up:.2f} s (upstream up), {cached_down:.2f} s (upstream down); a Pod started from the cache with the "
        f"upstream down in {seconds:.1f} s"
    )
    record(f"mirrors: an image the mirror never fetched, upstream down: Pod {failed}: {messages[0][:300]}")


def test_nothing_changes_on_a_second_run(setup: Setup) -> None:
    setup.mirror.pulumi("preview", "--expect-no-changes")
    secret = setup.upstream_outputs["passwords"]["ci"]
    assert secret not in setup.mirror.state_text() and secret not in "\n".join(setup.mirror.transcript)


def test_the_trust_daemonset_installs_the_mirrors_hosts_toml(setup: Setup) -> None:
    shutil.rmtree(NODE_CERTS_D / setup.upstream_name, ignore_errors=True)  # nothing installed by hand
    trust = {"mode": "daemonset", "image": node_image_by_digest(), "namespace": NAMESPACE, "certsDir": str(NODE_CERTS_D)}
    setup.mirror.configure({"nodeTrust": trust})
    try:
        setup.mirror.up()
        kubectl("rollout", "status", "daemonset", "-n", NAMESPACE, "--timeout=120s")
        installed = NODE_CERTS_D / setup.upstream_name / "hosts.toml"
        deadline = time.monotonic() + 60
        while not installed.exists():
            assert time.monotonic() < deadline, "the DaemonSet did not install the mirror's hosts.toml"
            time.sleep(0.2)
        out = setup.mirror.outputs()
        assert installed.read_text() == out["mirrorHostsToml"][setup.upstream_name]
        assert (installed.parent / "ca.crt").read_text() == out["caCertificate"]
        node = Cluster(setup.mirror, int(out["endpoint"].rsplit(":", 1)[1]))
        node.outputs, node.image = out, f"{setup.upstream_name}/team/app:1"
        phase, seconds, events = pod_outcome(node, out["pullSecretName"])
        assert phase == "Succeeded", events
        setup.mirror.pulumi("preview", "--expect-no-changes")
        record(f"mirrors: the trust DaemonSet installed the mirror's hosts.toml; a Pod pulled through it in {seconds:.1f} s")
    finally:
        setup.mirror.configure({"nodeTrust": {"mode": "none"}})
        setup.mirror.up()
        shutil.rmtree(NODE_CERTS_D / setup.outputs["endpoint"], ignore_errors=True)


KUBE_NAMESPACE, CLASS = "registry-e2e-mirror", "e2e-kube-mirror"
KUBE_PORT, KUBE_MIRROR_PORT = 30543, 30544


def test_a_mirror_on_target_kubernetes_serves_the_node(workdir: Path, setup: Setup) -> None:
    kubectl("delete", "namespace", KUBE_NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("delete", "pv", CLASS, "--ignore-not-found", "--timeout=60s")
    data = workdir / "mirror-pv"
    data.mkdir()
    data.chmod(0o777)  # the registry runs as user 1000; a hostPath volume ignores fsGroup
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": CLASS},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": str(data), "type": "DirectoryOrCreate"},
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(volume))
    bucket = f"e2e-kube-mirror-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    up = setup.upstream_outputs
    kube = Stack(workdir / "kube-mirror", "e2e-kube-mirror")
    mirror = {"port": KUBE_MIRROR_PORT, "username": "ci", "ca": up["caCertificate"], "size": "1Gi", "storageClass": CLASS}
    settings = {
        "replicas": 1,
        "users": [{"name": "ci"}],
        "pullSecret": {"name": f"pull-kube-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True},
        "mirrors": {setup.upstream_name: mirror},
    }
    init_kube_stack(kube, KUBE_NAMESPACE, KUBE_PORT, bucket, settings)
    kube.set_secret(f'mirrors["{setup.upstream_name}"].password', up["passwords"]["ci"])
    try:
        seconds = kube.up()
        out: dict[str, Any] = kube.outputs()
        assert out["mirrors"] == {setup.upstream_name: f"{NODE_IP}:{KUBE_MIRROR_PORT}"}
        node = node_for(setup, f"{setup.upstream_name}/team/app:1", kube, out)
        phase, pulled, events = pod_outcome(node, out["pullSecretName"])
        assert phase == "Succeeded", events
        deployment = f"deployment/registry-mirror-{setup.upstream_name.replace('.', '-').replace(':', '-')}"
        logs = kubectl("logs", deployment, "-n", KUBE_NAMESPACE).stdout.splitlines()
        served = [line for line in logs if "team/app/manifests/1" in line and by_mirror_login(line)]
        assert served, logs[-10:]
        kube.pulumi("preview", "--expect-no-changes")
        secret = up["passwords"]["ci"]
        assert secret not in kube.state_text() and secret not in "\n".join(kube.transcript)
        record(
            f"mirrors, target kubernetes: pulumi up with a mirror Deployment in {seconds:.1f} s; a Pod naming "
            f"{setup.upstream_name}/team/app:1 pulled through it in {pulled:.1f} s ({len(served)} manifest log lines there)"
        )
    finally:
        kube.pulumi("destroy", "--yes", check=False)
        kubectl("delete", "namespace", KUBE_NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
        kubectl("delete", "pv", CLASS, "--ignore-not-found", "--wait=false", check=False)
