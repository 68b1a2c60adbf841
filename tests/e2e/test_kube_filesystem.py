"""End to end on the sandbox node: target `kubernetes` with `storage.driver: filesystem`.

One replica on a ReadWriteOnce claim, bound to a hostPath PersistentVolume the test provides (the
sandbox has no volume provisioner). Push, destroy with `retainData: true` (the claim and its
namespace stay), `up` again: the same claim, the old image. Then `retainData: false` lets destroy
take the claim away.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.faults import RegistryClient, wait_until
from tests.e2e.helpers import SANDBOX_CLUSTER, Stack, record
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_kube_target import NODE_IP, NODE_REGISTRY_IMAGE

NAMESPACE, CLASS, VOLUME = "e2e-kube-fs", "e2e-kube-fs", "e2e-kube-fs"
NODE_PORT = 30519


def claim_uid() -> str:
    return kubectl("get", "pvc", "registry-data", "-n", NAMESPACE, "-o", "jsonpath={.metadata.uid}").stdout


def persistent_volume(path: Path) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": VOLUME},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": CLASS,
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
            },
        }
    )


def clean() -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("delete", "pv", VOLUME, "--ignore-not-found", "--timeout=60s")


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    if not NODE_IP:
        pytest.fail("SANDBOX_NODE_IP is not set: run through scripts/test.sh", pytrace=False)
    clean()
    data = workdir / "pv-data"
    data.mkdir()
    data.chmod(0o777)  # the registry runs as user 1000; a hostPath volume ignores fsGroup
    kubectl("apply", "-f", "-", stdin=persistent_volume(data))
    s = Stack(workdir, "e2e-kube-fs")
    s.init(
        {
            "target": "kubernetes",
            "namespace": NAMESPACE,
            "replicas": 1,
            "hostnames": [],
            "ipAddresses": [NODE_IP],
            "port": NODE_PORT,
            "image": NODE_REGISTRY_IMAGE,
            "pullImage": False,
            "storage": {"driver": "filesystem", "size": "1Gi", "storageClass": CLASS},
            "pullSecret": {"namespaces": []},
            "localRegistryHosting": False,
            **SANDBOX_CLUSTER,
        }
    )
    try:
        yield s
    finally:
        s.pulumi("destroy", "--yes", check=False)
        clean()
        shutil.rmtree(data, ignore_errors=True)


def client(stack: Stack) -> RegistryClient:
    """The admin's client, once the NodePort answers.

    `up` returns when the Pod is ready and the Service has its endpoint; kube-proxy programs the
    NodePort on its own schedule after that (at most `minSyncPeriod`, 1 s here, plus its iptables
    write), so a Service created again by this `up` can refuse a connection for a moment. CI saw
    that once (Connection refused right after the second `up`).
    """
    out = stack.outputs()
    admin = RegistryClient(out["endpoint"], out["caCertificate"], "admin", out["passwords"]["admin"])
    seconds = wait_until(admin.answers, 30, f"the NodePort {out['endpoint']}", 0.1)
    record(f"kube filesystem: the NodePort answered {seconds:.1f} s after `up` returned")
    return admin


def test_the_claim_and_its_images_outlive_a_destroy(stack: Stack) -> None:
    stack.up()
    image = client(stack).push_image("e2e/fs", "1")
    uid = claim_uid()
    assert stack.outputs()["registryStorage"] == "persistentvolumeclaim/registry-data"
    strategy = kubectl("get", "deployment", "registry", "-n", NAMESPACE, "-o", "jsonpath={.spec.strategy.type}").stdout
    assert strategy == "Recreate"  # one ReadWriteOnce volume: the old Pod lets go of it first
    stack.pulumi("destroy", "--yes")
    assert claim_uid() == uid  # kept, with its namespace
    assert kubectl("get", "deployment", "registry", "-n", NAMESPACE, check=False).returncode != 0
    stack.up()  # the namespace and the claim exist already: taken over, not created again
    assert claim_uid() == uid
    client(stack).assert_image("e2e/fs", "1", image)
    stack.pulumi("preview", "--expect-no-changes")


def test_retain_data_false_lets_destroy_delete_the_claim(stack: Stack) -> None:
    stack.configure({"retainData": False})
    stack.up()
    stack.pulumi("destroy", "--yes")
    assert kubectl("get", "pvc", "registry-data", "-n", NAMESPACE, check=False).returncode != 0
    assert os.path.isdir(stack.workdir / "pv-data")  # the volume itself follows its own reclaim policy
