"""End to end on the sandbox node: what the node-trust DaemonSet installs goes away with it.

An upstream registry (a stack of its own on the sandbox bridge, standing in for docker.io) is
trusted by the node through its own folder in containerd's certs.d, as an administrator would set
it up (docker.io would need none: the system CAs). A second stack mirrors it, with
`nodeTrust.mode: daemonset`: the DaemonSet moves the administrator's folder aside and installs the
mirror's `hosts.toml` there, and a Pod naming the upstream image pulls through the mirror. The
mirror is then removed with `pulumi up`: the mirror's folder is gone, the administrator's is back,
and a Pod naming the upstream image pulls from the upstream directly (its log shows the request).
Then `pulumi destroy`: the cleanup DaemonSet removes the registry's own folder too, and every entry
of certs.d this stack could have touched is as it was before the stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from components.node_trust import MARKER, containerd_hosts_toml
from tests.e2e.helpers import SANDBOX_CLUSTER, free_port, node_image_by_digest, path_without, record, throwaway_registry_stack
from tests.e2e.test_cluster_pull import NODE_CERTS_D, Cluster, kubectl
from tests.e2e.test_images import docker_push, on_bridge
from tests.e2e.test_pull_endpoint import registry_log

NAMESPACE = "e2e-trust-removal"


def listing(names: list[str]) -> dict[str, str]:
    """Every entry of certs.d whose top-level name is one of `names`, or holds one of them (a folder
    moved aside): relative path -> sha256 of a file, "/" for a folder."""
    found = {}
    for top in NODE_CERTS_D.iterdir():
        if not any(name in top.name for name in names):
            continue
        for path in [top, *top.rglob("*")]:
            key = str(path.relative_to(NODE_CERTS_D))
            found[key] = "/" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def wait_for(what: str, check: Any, timeout: float = 90) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


def pod_outcome(node: Cluster, secret: str) -> tuple[str, str]:
    pod = node.run_pod(NAMESPACE, f"upstream-{os.urandom(2).hex()}", secret=secret)
    try:
        phase, _ = node.wait_pod(NAMESPACE, pod)
        return phase, node.events(NAMESPACE, pod)
    finally:
        kubectl("delete", "pod", pod, "-n", NAMESPACE, "--wait=false", check=False)


def drop_mirrors(stack: Any) -> None:
    """Remove the `mirrors` setting (and its secret) from the stack file, as a user deleting it."""
    path = stack.project_dir / f"Pulumi.{stack.name}.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"].pop("private-registry:mirrors")
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_removed_mirror_and_a_destroyed_stack_leave_the_node_as_it_was(workdir: Path) -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("create", "namespace", NAMESPACE)
    image = node_image_by_digest()
    with throwaway_registry_stack(workdir / "upstream", "e2e-trust-upstream", on_bridge(free_port())) as up_stack:
        up_stack.up()
        up: dict[str, Any] = up_stack.outputs()
        docker_push(up, workdir, "team/app:1")
        upstream = up["endpoint"]
        # The administrator's own trust of the upstream, there before any stack.
        own = NODE_CERTS_D / upstream
        own.mkdir(parents=True, exist_ok=True)
        (own / "hosts.toml").write_text(containerd_hosts_toml(upstream))
        (own / "ca.crt").write_text(up["caCertificate"])
        # A pull secret of the Pods' own for the upstream (the upstream wants a login).
        auth = {"auths": {upstream: {"username": "ci", "password": up["passwords"]["ci"]}}}
        secret = f"upstream-{os.urandom(2).hex()}"
        kubectl("create", "secret", "generic", secret, "-n", NAMESPACE, "--type=kubernetes.io/dockerconfigjson",
                "--from-file=.dockerconfigjson=/dev/stdin", stdin=json.dumps(auth))  # fmt: skip
        port = free_port()
        trust = {"mode": "daemonset", "image": image, "namespace": NAMESPACE, "certsDir": str(NODE_CERTS_D)}
        settings = on_bridge(
            port,
            mirrors={upstream: {"port": free_port(), "username": "ci", "ca": up["caCertificate"]}},
            pullSecret={"name": f"pull-{os.urandom(3).hex()}", "namespaces": [NAMESPACE], "allowPushUser": True},
            nodeTrust=trust,
            **SANDBOX_CLUSTER,
        )
        endpoint = settings["endpoint"]
        names = [upstream, endpoint]
        before = listing(names)
        try:
            with throwaway_registry_stack(workdir / "mirror", "e2e-trust-mirror", settings) as s:
                s.set_secret(f'mirrors["{upstream}"].password', up["passwords"]["ci"])
                s.up()
                out: dict[str, Any] = s.outputs()
                installed = NODE_CERTS_D / upstream / "hosts.toml"
                wait_for("the mirror's hosts.toml", lambda: installed.read_text() == out["mirrorHostsToml"][upstream])
                owner = (NODE_CERTS_D / upstream / MARKER).read_text().splitlines()[0].removeprefix("owner ")
                saved = NODE_CERTS_D / f".{upstream}.saved-{owner}"
                assert (saved / "ca.crt").read_text() == up["caCertificate"]  # the administrator's, moved aside
                assert (NODE_CERTS_D / endpoint / "hosts.toml").read_text() == out["containerdHostsToml"]
                node = Cluster(s, port)
                node.image = f"{upstream}/team/app:1"
                phase, events = pod_outcome(node, out["pullSecretName"])
                assert phase == "Succeeded", events  # through the mirror

                drop_mirrors(s)
                started = time.monotonic()
                s.up()
                gone = wait_for("the mirror's folder removed", lambda: installed.exists() is False or
                                installed.read_text() != out["mirrorHostsToml"][upstream])  # fmt: skip
                assert listing([upstream]) == {k: v for k, v in before.items() if upstream in k}  # theirs is back
                record(f"node trust: mirror removed, up {time.monotonic() - started - gone:.1f} s + {gone:.1f} s to the node")
                since = str(int(time.time()) - 1)
                phase, events = pod_outcome(node, secret)
                assert phase == "Succeeded", events  # directly from the upstream
                served = [line for line in registry_log(up["containerName"], since) if "team/app/manifests/1" in line]
                assert served, "the upstream saw no pull"

                # The cleanup reaches the cluster through the Kubernetes API: no kubectl where destroy runs.
                s.env["PATH"] = path_without("kubectl", s.env.get("PATH", os.environ["PATH"]), workdir)
                started = time.monotonic()
                s.pulumi("destroy", "--yes")
                record(
                    f"node trust: pulumi destroy with the cleanup DaemonSet in {time.monotonic() - started:.1f} s "
                    "(no kubectl on its PATH)"
                )
                assert listing(names) == before
                left = kubectl("get", "daemonsets,pods", "-n", NAMESPACE, "-o", "name").stdout.split()
                assert not [x for x in left if "registry-trust" in x], left
        finally:
            shutil.rmtree(NODE_CERTS_D / endpoint, ignore_errors=True)
            shutil.rmtree(own, ignore_errors=True)
            for leftover in NODE_CERTS_D.glob(f".{upstream}.*"):
                shutil.rmtree(leftover, ignore_errors=True)
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
