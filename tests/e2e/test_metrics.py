"""End to end on the sandbox: `metrics`, Prometheus' endpoint on each instance's debug listener.

Target `docker`: the TLS port is the only published one (`docker inspect`), and a container on the
Docker network scrapes `/metrics` from the registry's address. Target `kubernetes`: a Pod in the
cluster scrapes each registry Pod's `metrics` port (a real request from inside the cluster), the
NodePort Service has no metrics port, and with the Prometheus Operator's ServiceMonitor API present
(its CRD, as the operator installs it) the stack creates the ServiceMonitor. The debug listener
serves pprof and expvar too (Distribution 3.1.2 cannot turn them off): on target `kubernetes` the
API server takes the NetworkPolicy that admits the port from `metrics.allowFrom` only, as declared
(the sandbox's network plugin does not enforce policies: what it admits is tested in
tests/test_network_policy.py), and a change of `allowFrom` updates the policy and nothing else.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from components.distribution import METRICS_PORT, PORT
from components.network_policy import DEFAULT_PEERS, namespace_peer, policy_spec
from tests.e2e.faults import RegistryClient, sandbox
from tests.e2e.helpers import TEST_IMAGE, Stack, free_port, record, run, throwaway_registry_stack
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_images import on_bridge
from tests.e2e.test_kube_target import init_kube_stack

# The series a user alerts on (README "Metrics"): each must be in a real scrape after a push and a pull.
SERIES = (
    "registry_http_requests_total",
    "registry_http_request_duration_seconds_bucket",
    "registry_http_in_flight_requests",
    "registry_storage_action_seconds_bucket",
    "process_resident_memory_bytes",
)
NAMESPACE, NODE_PORT = "registry-e2e-metrics", 30545
MONITORING = "monitoring-e2e-metrics"  # named in allowFrom; it need not exist
NODE_TEST_IMAGE = os.environ.get("SANDBOX_NODE_TEST_IMAGE", "private-registry/busybox:node-local")
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {
            "kind": "ServiceMonitor",
            "listKind": "ServiceMonitorList",
            "plural": "servicemonitors",
            "singular": "servicemonitor",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def policy_spec_of(namespace: str) -> dict[str, Any]:
    """The NetworkPolicy `registry-metrics` as the API server stored it."""
    stored: dict[str, Any] = json.loads(kubectl("get", "networkpolicy", "registry-metrics", "-n", namespace, "-o", "json").stdout)
    return stored["spec"]


def series_in(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_on_target_docker_are_scraped_from_the_docker_network_only(workdir: Path) -> None:
    with throwaway_registry_stack(workdir / "metrics", "e2e-metrics", on_bridge(free_port(), metrics={"enabled": True})) as s:
        s.up()
        out: dict[str, Any] = s.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        image = client.push_image("team/app", "1")
        client.assert_image("team/app", "1", image)
        inspected = json.loads(run(["docker", "inspect", out["containerName"]]).stdout)[0]
        published = {port: bound for port, bound in inspected["NetworkSettings"]["Ports"].items() if bound}
        assert list(published) == ["5000/tcp"], published
        address = next(iter(inspected["NetworkSettings"]["Networks"].values()))["IPAddress"]
        scraped = run(["docker", "run", "--rm", TEST_IMAGE, "wget", "-q", "-O", "-", f"http://{address}:5001/metrics"]).stdout
        missing = set(SERIES) - series_in(scraped)
        assert not missing, (missing, scraped[:2000])
        # What docs/operations.md says the unpublished port also serves, to the Docker network only.
        debug = {
            path: run(
                ["docker", "run", "--rm", TEST_IMAGE, "wget", "-q", "-S", "-O", "/dev/null", f"http://{address}:5001{path}"]
            )
            for path in ("/debug/pprof/", "/debug/vars")
        }
        assert all("200 OK" in answer.stderr for answer in debug.values()), {p: a.stderr for p, a in debug.items()}
        record(
            f"metrics, target docker: a container on the Docker network scraped {len(series_in(scraped))} series from "
            f"{address}:5001/metrics (and got 200 for {', '.join(debug)}); published ports: {', '.join(published)}"
        )


def test_metrics_on_target_kubernetes_are_scraped_from_inside_the_cluster(workdir: Path) -> None:
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("apply", "-f", "-", stdin=json.dumps(SERVICE_MONITOR_CRD))
    kubectl("wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s")
    bucket = f"e2e-metrics-{os.urandom(3).hex()}"
    sandbox("s3-bucket", bucket)
    kube = Stack(workdir / "kube-metrics", "e2e-kube-metrics")
    settings = {"replicas": 1, "users": [{"name": "ci"}], "pullSecret": {"namespaces": []}}
    init_kube_stack(kube, NAMESPACE, NODE_PORT, bucket, {**settings, "metrics": {"enabled": True, "serviceMonitor": True}})
    try:
        kube.up()
        out: dict[str, Any] = kube.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        client.assert_image("team/app", "1", client.push_image("team/app", "1"))
        pod_ip = kubectl(
            "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=registry", "-o", "jsonpath={.items[0].status.podIP}"
        ).stdout
        scraper = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "scrape", "namespace": NAMESPACE},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "scrape",
                        "image": NODE_TEST_IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["wget", "-q", "-O", "-", f"http://{pod_ip}:5001/metrics"],
                    }
                ],
            },
        }
        kubectl("apply", "-f", "-", stdin=json.dumps(scraper))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            phase = kubectl("get", "pod", "scrape", "-n", NAMESPACE, "-o", "jsonpath={.status.phase}").stdout
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(0.5)
        scraped = kubectl("logs", "scrape", "-n", NAMESPACE).stdout
        assert phase == "Succeeded", (phase, scraped[-1000:])
        missing = set(SERIES) - series_in(scraped)
        assert not missing, (missing, scraped[:2000])
        services = json.loads(kubectl("get", "services", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        ports = {s["metadata"]["name"]: (s["spec"]["type"], [p["name"] for p in s["spec"]["ports"]]) for s in services}
        assert ports == {"registry": ("NodePort", ["https"]), "registry-metrics": ("ClusterIP", ["metrics"])}, ports
        monitor = json.loads(kubectl("get", "servicemonitor", "registry-metrics", "-n", NAMESPACE, "-o", "json").stdout)
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
        kube.pulumi("preview", "--expect-no-changes")
        stored = policy_spec_of(NAMESPACE)
        assert stored == policy_spec(DEFAULT_PEERS, PORT, METRICS_PORT), stored
        # The monitoring side named: the policy alone is updated in place, the Pods keep running.
        own = [MONITORING, {"ipBlock": {"cidr": "10.96.0.0/12"}}]
        kube.configure({"metrics": {"enabled": True, "serviceMonitor": True, "allowFrom": own}})
        planned = {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in kube.preview_steps()}
        assert planned == {("update", "registry-deployment-metrics-policy")}, planned
        kube.up()
        stored = policy_spec_of(NAMESPACE)
        assert stored["ingress"][1]["from"] == [namespace_peer(MONITORING), {"ipBlock": {"cidr": "10.96.0.0/12"}}], stored
        kube.pulumi("preview", "--expect-no-changes")
        record(
            f"metrics, target kubernetes: a Pod scraped {len(series_in(scraped))} series from {pod_ip}:5001/metrics; "
            f"Services: {ports}; ServiceMonitor registry-metrics created; NetworkPolicy registry-metrics stored as "
            f"declared, port 5001 from {json.dumps(stored['ingress'][1]['from'])} after an in-place update"
        )
    finally:
        kube.pulumi("destroy", "--yes", check=False)
        kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)
        kubectl("delete", "crd", "servicemonitors.monitoring.coreos.com", "--ignore-not-found", "--wait=false", check=False)
