"""End to end: a stack whose config names no cluster touches none.

The stack runs the way a user's does, with `KUBECONFIG` pointing at a reachable cluster (the
sandbox's, whose current context is `sandbox`) and no `kubernetes` setting: before 2026-12-02 it
wrote a pull secret into `default` of that context. Now the registry comes up and the cluster is
exactly as before (every Secret, ConfigMap, ServiceAccount and Namespace with its resourceVersion),
and the state has no Kubernetes provider or resource at all.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.e2e.helpers import run, throwaway_registry_stack


def cluster_objects() -> list[str]:
    """Every object of the kinds a stack could write, with its resourceVersion."""
    listed = json.loads(run(["kubectl", "get", "namespaces,secrets,configmaps,serviceaccounts", "-A", "-o", "json"]).stdout)
    return sorted(
        f"{o['kind']} {o['metadata'].get('namespace', '')}/{o['metadata']['name']} {o['metadata']['resourceVersion']}"
        for o in listed["items"]
    )


def settled() -> None:
    """Wait until no namespace is still being deleted (earlier tests delete theirs without waiting),
    so that the controllers change nothing while the stack runs."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        listed = json.loads(run(["kubectl", "get", "namespaces", "-o", "json"]).stdout)["items"]
        if not [n for n in listed if n["status"].get("phase") == "Terminating"]:
            return
        time.sleep(1)
    raise AssertionError("namespaces still terminating after 180 s")


def test_a_stack_that_names_no_cluster_leaves_the_cluster_unchanged(workdir: Path) -> None:
    settled()
    before = cluster_objects()
    assert any(line.startswith("Namespace /default ") for line in before)  # the cluster is reachable
    with throwaway_registry_stack(workdir, "e2e-no-cluster", {}) as stack:
        stack.up()
        outputs = stack.outputs()
        assert outputs["pullSecretNamespaces"] == [] and outputs["endpoint"]
        state = json.loads(stack.pulumi("stack", "export").stdout)
        types = {r["type"] for r in state["deployment"]["resources"]}
        assert "docker:index/container:Container" in types
        assert not [t for t in types if "kubernetes" in t], sorted(types)
        assert cluster_objects() == before
