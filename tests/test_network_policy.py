"""The NetworkPolicy over the debug listener (target kubernetes, metrics on): setting
`metrics.allowFrom` (components/network_policy.py through load_settings) and the object the program
declares.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import distribution
from components.model import SettingsError
from components.network_policy import ANY_PROMETHEUS, DEFAULT_PEERS, SAME_NAMESPACE, policy_spec
from components.settings import load_settings
from tests.program_harness import evaluate
from tests.test_program import DEV
from tests.test_program_kube import S3

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
KUBE: dict[str, Any] = {
    "target": "kubernetes",
    "ipAddresses": ["10.0.0.5"],
    "storage": {"driver": "s3", "bucket": "images"},
    "kubernetes": {"context": "prod"},
}


def allow_from(value: Any) -> tuple[dict[str, Any], ...]:
    return load_settings({**KUBE, "metrics": {"enabled": True, "allowFrom": value}}, "dev").metrics.allow_from


def problems(settings: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(settings, "dev")
    return list(caught.value.problems)


def test_by_default_the_registrys_namespace_and_prometheus_servers_reach_the_metrics_port() -> None:
    assert load_settings({**KUBE, "metrics": {"enabled": True}}, "dev").metrics.allow_from == DEFAULT_PEERS
    assert DEFAULT_PEERS == (
        {"podSelector": {}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
    )


def test_namespace_names_and_peers_are_taken_as_networkpolicy_peers() -> None:
    peers = allow_from(
        [
            "monitoring",
            {"namespaceSelector": {"matchLabels": {"team": "obs"}}, "podSelector": {"matchLabels": {"app": "vm"}}},
            {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]}},
            {"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.5.0/24"]}},
        ]
    )
    assert peers == (
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"namespaceSelector": {"matchLabels": {"team": "obs"}}, "podSelector": {"matchLabels": {"app": "vm"}}},
        {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]}},
        {"ipBlock": {"cidr": "10.20.0.0/16", "except": ["10.20.5.0/24"]}},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], "allowFrom = []: must be a non-empty list of namespace names or NetworkPolicy peers (left out: the default)"),
        ("monitoring", "allowFrom = 'monitoring': must be a non-empty list"),
        (["Monitoring"], "allowFrom[0] = 'Monitoring': must be a namespace name (a DNS-1123 label) or a peer object"),
        (
            [{}],
            "allowFrom[0] = {}: must be a namespace name or a NetworkPolicy peer: an object of namespaceSelector, podSelector",
        ),
        ([{"namespace": "x"}], "allowFrom[0] = {'namespace': 'x'}: must be a namespace name or a NetworkPolicy peer"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}], "allowFrom[0] = {'ipBlock': "),
        ([{"ipBlock": {"cidr": "10.0.0.1/8"}}], "allowFrom[0].ipBlock.cidr = '10.0.0.1/8': must be a network in CIDR notation"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["x"]}}], "allowFrom[0].ipBlock.except = 'x': must be a network in CIDR"),
        ([{"ipBlock": "10.0.0.0/8"}], "allowFrom[0].ipBlock = '10.0.0.0/8': must be {cidr, except?}"),
        ([{"podSelector": {"app": "vm"}}], "allowFrom[0].podSelector = {'app': 'vm'}: must be a label selector"),
        ([{"podSelector": {"matchLabels": {"app": 1}}}], "allowFrom[0].podSelector.matchLabels = {'app': 1}: must be an object"),
        ([{"namespaceSelector": {"matchExpressions": [{"key": "a"}]}}], "allowFrom[0].namespaceSelector.matchExpressions = "),
    ],
)
def test_a_bad_peer_is_named_with_what_is_allowed(value: Any, expected: str) -> None:
    (problem,) = problems({**KUBE, "metrics": {"enabled": True, "allowFrom": value}})
    assert problem.startswith(f"private-registry:metrics.{expected}"), problem


@pytest.mark.parametrize("settings", [{"metrics": {"enabled": True}}, {**KUBE, "metrics": {}}], ids=["docker", "metrics-off"])
def test_allow_from_needs_metrics_on_target_kubernetes(settings: dict[str, Any]) -> None:
    (problem,) = problems({**settings, "metrics": {**settings["metrics"], "allowFrom": ["monitoring"]}})
    assert problem == "private-registry:metrics.allowFrom = ['monitoring']: needs target = kubernetes and metrics.enabled = true"


def test_the_policy_keeps_tls_open_to_all_and_admits_the_metrics_port_from_the_peers_only() -> None:
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    spec = policy_spec([monitoring], distribution.PORT, distribution.METRICS_PORT)
    assert spec == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "private-registry"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"ports": [{"protocol": "TCP", "port": 5000}]},  # no `from`: every source (clients, NodePort, probes)
            {
                "ports": [{"protocol": "TCP", "port": 5001}],
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            },
        ],
    }


def test_with_metrics_the_program_declares_the_policy_over_every_pod_of_the_stack() -> None:
    settings = {**S3, "pullPort": 30501, "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}]}
    settings["pullSecret"] = {"namespaces": ["apps"], "user": "puller"}
    run = evaluate({**settings, "metrics": {"enabled": True}}, secret_keys=["private-registry:storage"])
    policy = run.one(POLICY)
    assert policy.inputs["metadata"]["name"] == "registry-metrics"
    assert policy.inputs["metadata"]["namespace"] == run.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"]
    assert policy.inputs["spec"]["ingress"][1]["from"] == [SAME_NAMESPACE, ANY_PROMETHEUS]
    selected = policy.inputs["spec"]["podSelector"]["matchLabels"]
    for deployment in run.of_type("kubernetes:apps/v1:Deployment"):  # the writer and the read-only instance
        assert selected.items() <= deployment.inputs["spec"]["template"]["metadata"]["labels"].items()
    own = evaluate(
        {**settings, "metrics": {"enabled": True, "allowFrom": ["monitoring"]}}, secret_keys=["private-registry:storage"]
    )
    assert own.one(POLICY).inputs["spec"]["ingress"][1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert not evaluate(S3, secret_keys=["private-registry:storage"]).of_type(POLICY)  # metrics off: loopback only
    assert not evaluate({**DEV, "metrics": {"enabled": True}}).of_type(POLICY)  # target docker: docs/operations.md
