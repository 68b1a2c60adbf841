"""End to end on the sandbox node: target `kubernetes` with only a context, as on a managed cluster.

No `replicas`, no `storage`, no `serviceType`: the defaults must agree (one Pod on a ReadWriteOnce
claim of the default class) and the registry must take a push and serve it back. What the sandbox
itself needs is set beside the context: the node's address in the certificate, a NodePort of this
test's own, the registry image the node already holds, no pull secret in the shared `default`
namespace. The sandbox has no volume provisioner, so the test offers a hostPath PersistentVolume
reserved for the stack's claim (`claimRef`), of no class, as a cluster's default class would.

Then a LoadBalancer open to all is refused at preview, naming the setting, before anything changes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.faults import RegistryClient, wait_until
from tests.e2e.helpers import SANDBOX_CLUSTER, Stack, record
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_kube_filesystem import persistent_volume as filesystem_volume
from tests.e2e.test_kube_target import NODE_IP, NODE_REGISTRY_IMAGE

STACK = "e2e-kube-defaults"
NAMESPACE = f"registry-{STACK}"  # the default namespace of the stack
VOLUME = "e2e-kube-defaults"
NODE_PORT = 30529


def persistent_volume(path: Path) -> str:
    """test_kube_filesystem's hostPath volume, of no class, as big as the default request, and
    reserved for the stack's claim `registry-data`.
    """
    volume = json.loads(filesystem_volume(path))
    volume["metadata"]["name"] = VOLUME
    volume["spec"].update(
        capacity={"storage": "10Gi"}, storageClassName="", claimRef={"namespace": NAMESPACE, "name": "registry-data"}
    )
    return json.dumps(volume)


def clean() -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("delete", "pv", VOLUME, "--ignore-not-found", "--timeout=60s")


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    if not NODE_IP:
        pytest.fail("SANDBOX_NODE_IP is not set: run through scripts/test.sh", pytrace=False)
    clean()
    data = workdir / "pv-defaults"
    data.mkdir()
    data.chmod(0o777)  # the registry runs as user 1000; a hostPath volume ignores fsGroup
    kubectl("apply", "-f", "-", stdin=persistent_volume(data))
    s = Stack(workdir, STACK)
    s.init(
        {
            "target": "kubernetes",
            **SANDBOX_CLUSTER,  # the one setting a managed cluster needs
            # what the sandbox needs: its node's address, a port and image of its own, no shared Secret
            "hostnames": [],
            "ipAddresses": [NODE_IP],
            "port": NODE_PORT,
            "image": NODE_REGISTRY_IMAGE,
            "pullImage": False,
            "pullSecret": {"namespaces": []},
        }
    )
    try:
        yield s
    finally:
        s.pulumi("destroy", "--yes", check=False)  # keeps the claim and its namespace (retainData)
        clean()
        shutil.rmtree(data, ignore_errors=True)


def test_a_context_alone_comes_up_with_one_pod_on_a_claim_and_serves_a_push(stack: Stack) -> None:
    seconds = stack.up()
    record(f"kubernetes target with only a context: first up {seconds:.1f} s")
    deployment = json.loads(kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["status"].get("readyReplicas") == 1
    claim = json.loads(kubectl("get", "pvc", "registry-data", "-n", NAMESPACE, "-o", "json").stdout)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and claim["status"]["phase"] == "Bound"
    out = stack.outputs()
    assert out["registryStorage"] == "persistentvolumeclaim/registry-data"
    admin = RegistryClient(out["endpoint"], out["caCertificate"], "admin", out["passwords"]["admin"])
    wait_until(admin.answers, 30, f"the NodePort {out['endpoint']}", 0.1)
    image = admin.push_image("e2e/defaults", "1")
    admin.assert_image("e2e/defaults", "1", image)
    stack.pulumi("preview", "--expect-no-changes")


def test_a_load_balancer_open_to_all_is_refused_at_preview_naming_the_setting(stack: Stack) -> None:
    stack.configure({"serviceType": "LoadBalancer", "port": 443})
    try:
        refused = stack.pulumi("preview", check=False)
        assert refused.returncode != 0
        text = refused.stdout + refused.stderr
        assert "private-registry:serviceType = 'LoadBalancer': without service.loadBalancerSourceRanges" in text, text
        assert "service.public = true" in text and "internet-facing" in text
        stack.configure({"service": {"annotations": {"networking.gke.io/load-balancer-type": "Internal"}}})
        steps = stack.preview_steps()  # said who reaches it: the preview goes through
        assert any(s.get("op") in ("update", "replace") for s in steps), steps
    finally:
        stack.pulumi("config", "rm", "private-registry:service")
        stack.configure({"serviceType": "NodePort", "port": NODE_PORT})
    stack.pulumi("preview", "--expect-no-changes")
