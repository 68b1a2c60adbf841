"""Unit tests: the `pods` setting of target kubernetes (components/pods.py through load_settings)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from components.model import KubernetesTarget, SettingsError
from components.names import quantity
from components.pods import DEFAULT_RESOURCES, PodSettings, qualified_name_ok
from components.settings import load_settings

KUBE: dict[str, Any] = {
    "target": "kubernetes",
    "ipAddresses": ["10.0.0.5"],
    "storage": {"driver": "s3", "bucket": "images"},
    "kubernetes": {"context": "prod"},
}


def pods_of(pods: dict[str, Any]) -> PodSettings:
    target = load_settings({**KUBE, "pods": pods}, "dev").target
    assert isinstance(target, KubernetesTarget)
    return target.pods


def problems(pods: Any, secret_keys: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings({**KUBE, "pods": pods}, "dev", secret_keys=secret_keys)
    return list(caught.value.problems)


def test_without_pods_the_pods_run_as_before() -> None:
    assert pods_of({}) == PodSettings() and PodSettings().resources == DEFAULT_RESOURCES


def test_every_knob_is_taken_as_given() -> None:
    given = {
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "nodeSelector": {"node-role.kubernetes.io/registry": "true"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "registry", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone"}],
        "priorityClassName": "system-cluster-critical",
        "annotations": {"prometheus.io/scrape": "true"},
        "labels": {"team": "platform"},
        "serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}},
        "imagePullSecrets": ["hub-credentials"],
        "env": {"REGISTRY_LOG_LEVEL": "debug", "AWS_STS_REGIONAL_ENDPOINTS": "regional"},
    }
    pods = pods_of(given)
    assert pods.resources == given["resources"] and pods.node_selector == given["nodeSelector"]
    assert pods.tolerations == tuple(given["tolerations"]) and pods.affinity == {"nodeAffinity": {}}
    assert pods.priority_class_name == "system-cluster-critical" and pods.image_pull_secrets == ("hub-credentials",)
    assert pods.service_account.account == "registry" and pods.env["REGISTRY_LOG_LEVEL"] == "debug"
    assert pods_of({"serviceAccount": {"name": "existing"}}).service_account.account == "existing"
    # What `pulumi config set --path 'pods.nodeSelector.x' true` stores is a YAML boolean: meant as "true".
    typed = pods_of({"nodeSelector": {"x": True}, "env": {"WORKERS": 4}})
    assert typed.node_selector == {"x": "true"} and typed.env == {"WORKERS": "4"}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ({"nodes": {}}, "private-registry:pods = {'nodes': {}}: unknown key(s) nodes; allowed: resources, nodeSelector"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "private-registry:pods.resources.requests.cpu = 'lots': must be a"),
        ({"resources": {"limit": {}}}, "private-registry:pods.resources = {'limit': {}}: must be an object {requests?"),
        ({"tolerations": [{"key": "k", "effect": "NoRun"}]}, "private-registry:pods.tolerations[0].effect = 'NoRun': must"),
        ({"tolerations": [{"operator": "Exists", "value": "v"}]}, "pods.tolerations[0].value = 'v': must be empty"),
        ({"tolerations": [{"key": "k", "tolerationSeconds": 5}]}, "pods.tolerations[0].tolerationSeconds = 5: must be"),
        ({"nodeSelector": {"zone": "a b"}}, "private-registry:pods.nodeSelector.zone = 'a b': must be a label value"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "pods.labels.app.kubernetes.io/name = 'x': is a selector label"),
        ({"annotations": {"bad key!": "x"}}, "private-registry:pods.annotations.bad key! = 'x': key must be a label key"),
        ({"priorityClassName": "High"}, "private-registry:pods.priorityClassName = 'High': must be a PriorityClass name"),
        ({"serviceAccount": {"annotations": {"a": "b"}}}, "pods.serviceAccount.annotations = {'a': 'b'}: needs"),
        ({"imagePullSecrets": "hub"}, "private-registry:pods.imagePullSecrets = 'hub': must be a list of Secret names"),
        ({"env": {"REGISTRY_HTTP_SECRET": "x"}}, "private-registry:pods.env.REGISTRY_HTTP_SECRET = None: is set by the"),
        ({"env": {"REGISTRY_STORAGE_S3_BUCKET": "x"}}, "pods.env.REGISTRY_STORAGE_S3_BUCKET = None: is set by the program"),
        ({"env": {"1X": "x"}}, "private-registry:pods.env.1X = None: name must be a variable name"),
        ({"env": {"PORTS": [5]}}, "private-registry:pods.env.PORTS = None: must be a string"),
        ({"affinity": []}, "private-registry:pods.affinity = []: must be an object"),
        ({"topologySpreadConstraints": {}}, "private-registry:pods.topologySpreadConstraints = {}: must be a list"),
    ],
)
def test_bad_pods_settings_name_the_path_and_what_is_allowed(pods: dict[str, Any], expected: str) -> None:
    found = problems(pods)
    assert [p for p in found if expected in p], found


def test_pods_on_target_docker_is_refused_and_secret_env_values_are_never_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"pods": {"nodeSelector": {"a": "b"}}}, "dev")
    assert caught.value.problems[0].startswith("private-registry:pods = ")
    assert "is only used with target = kubernetes" in caught.value.problems[0]
    found = problems({"env": {"TOKEN": 12345678}, "nodeSelector": {"z": "a b"}}, secret_keys=frozenset({"pods"}))
    assert found and not any("12345678" in p or "a b" in p for p in found), found


def test_label_keys() -> None:
    assert qualified_name_ok("team") and qualified_name_ok("example.com/team") and qualified_name_ok("a_b.c-d")
    assert not qualified_name_ok("-team") and not qualified_name_ok("Example_Com/team") and not qualified_name_ok("")


def test_the_default_resources_limit_cpu_and_memory() -> None:
    assert pods_of({}).resources == {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    # What `pulumi config set --path 'pods.resources.limits.cpu' 2` stores is a YAML number: meant as "2".
    assert pods_of({"resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}).resources == {"limits": {"cpu": "2", "memory": "1Gi"}}


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("500m", Fraction(1, 2)), ("0.5", Fraction(1, 2)), ("1.5", Fraction(3, 2)), ("512Mi", 512 * 2**20), ("1G", 10**9)],
)
def test_quantities_compare_as_kubernetes_reads_them(text: str, value: Fraction) -> None:
    assert quantity(text) == value


def test_a_limit_of_zero_or_below_its_request_is_named_with_what_to_do() -> None:
    (zero,) = problems({"resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "0"}}})
    assert zero == (
        "private-registry:pods.resources.limits.cpu = '0': must be above 0: for no cpu limit, leave limits.cpu out "
        "(resources replaces the default as a whole)"
    )
    (above,) = problems({"resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1500m", "memory": "2Gi"}}})
    assert above == "private-registry:pods.resources.requests.cpu = '2': must be at most resources.limits.cpu (1500m)"
    (memory,) = problems({"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}})
    assert memory.startswith("private-registry:pods.resources.requests.memory = '1Gi': must be at most")
    assert pods_of({"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1000m"}}}).resources["limits"] == {"cpu": "1000m"}
