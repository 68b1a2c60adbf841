"""End to end on the sandbox: target `kubernetes` on a cluster that can pull nothing yet.

The registry's own image has to come from somewhere the nodes reach. Here a stack of target
`docker` (the bootstrap registry, on the sandbox bridge) holds it as a declared image copied from
the Docker host (`dockerImage`; on an air-gapped site the same entry reads a bundle). The nodes
trust that registry by provisioning (its `containerdHostsToml` and `caCertificate`), and the
Kubernetes stack names the image there, with the bootstrap registry's credentials in
`sourceRegistries`: its Pods pull it with a pull secret of the stack's own. The node's containerd
does not hold the image's manifest before `up`, and does after; the bootstrap registry's log shows
containerd fetching it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.e2e.faults import RegistryClient, sandbox
from tests.e2e.helpers import REGISTRY_IMAGE, Stack, free_port, record, run, throwaway_registry_stack
from tests.e2e.test_cluster_pull import Cluster, kubectl
from tests.e2e.test_images import on_bridge
from tests.e2e.test_kube_target import init_kube_stack
from tests.e2e.test_pull_endpoint import registry_log

NAMESPACE = "registry-e2e-boot"
NODE_PORT = 30541


def node_content() -> set[str]:
    """The digests the node's containerd holds (namespace k8s.io, as the kubelet pulls)."""
    ctr = [os.environ["SANDBOX_CTR"], "--address", os.environ["SANDBOX_CONTAINERD_ADDRESS"], "-n", "k8s.io"]
    return {line.split()[0] for line in run([*ctr, "content", "ls", "-q"]).stdout.splitlines() if line.strip()}


def test_a_cluster_that_can_pull_nothing_runs_the_registry_from_a_bootstrap_registry(workdir: Path) -> None:
    settings = on_bridge(free_port(), images=[{"dockerImage": REGISTRY_IMAGE, "name": "library/registry:3.1.2"}])
    with throwaway_registry_stack(workdir / "bootstrap", "e2e-bootstrap", settings) as boot:
        boot.up()
        out: dict[str, Any] = boot.outputs()
        digest = out["images"]["library/registry:3.1.2"]
        image = f"{out['endpoint']}/library/registry:3.1.2"
        assert digest not in node_content(), "the node already holds the image: the test would prove nothing"
        node = Cluster(boot, int(out["endpoint"].rsplit(":", 1)[1]))
        node.outputs = out
        node.install_trust_by_hand()  # node provisioning: trust the bootstrap registry
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
        bucket = f"e2e-boot-{os.urandom(3).hex()}"
        sandbox("s3-bucket", bucket)
        kube = Stack(workdir / "kube", "e2e-boot-kube")
        init_kube_stack(
            kube,
            NAMESPACE,
            NODE_PORT,
            bucket,
            {
                "image": image,
                "pullImage": True,
                "replicas": 1,
                "users": [{"name": "ci"}],
                "pullSecret": {"namespaces": []},  # not what this test is about
                "sourceRegistries": {out["endpoint"]: {"username": "ci"}},
            },
        )
        kube.set_secret(f'sourceRegistries["{out["endpoint"]}"].password', out["passwords"]["ci"])
        since = str(int(time.time()) - 1)
        try:
            seconds = kube.up()  # waits for the rollout: the Pod pulled the image and is ready
            assert digest in node_content()
            fetched = [
                line for line in registry_log(out["containerName"], since) if "library/registry" in line and "containerd/" in line
            ]
            assert any("auth.user.name=ci" in line for line in fetched), fetched[-5:]
            pod = kubectl("get", "pods", "-n", NAMESPACE, "-o", "jsonpath={.items[0].status.containerStatuses[0].imageID}").stdout
            assert digest in pod, pod
            kube.pulumi("preview", "--expect-no-changes")
            secret = out["passwords"]["ci"]
            assert secret not in kube.state_text() and secret not in "\n".join(kube.transcript)
            record(
                f"bootstrap: a Kubernetes-target stack pulled its registry image from a target-docker stack's declared image "
                f"({image}, not on the node before) and came up in {seconds:.1f} s"
            )
        finally:
            kube.pulumi("destroy", "--yes", check=False)
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
            node.remove_trust()
            ctr = [os.environ["SANDBOX_CTR"], "--address", os.environ["SANDBOX_CONTAINERD_ADDRESS"], "-n", "k8s.io"]
            # The kubelet also names the image by digest (`<endpoint>/library/registry@sha256:...`) and the
            # CRI by its config's digest (its image ID): every name goes, so a later run finds the node as before.
            boot = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
            accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
            config = json.loads(boot.request("GET", "/v2/library/registry/manifests/3.1.2", headers=accept)[2])["config"][
                "digest"
            ]
            names = [
                n for n in run([*ctr, "images", "ls", "-q"]).stdout.split() if n.startswith(out["endpoint"] + "/") or n == config
            ]
            run([*ctr, "images", "rm", *names], check=False)
