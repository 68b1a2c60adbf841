"""Unit tests: setting `service` (target `kubernetes`) and the refusal of a LoadBalancer open to all."""

from __future__ import annotations

from typing import Any

import pytest

from components.model import KubernetesTarget, SettingsError
from components.service import INTERNAL_ANNOTATIONS, PUBLIC_REFUSED, ServiceSettings, service_fields
from components.settings import load_settings

KUBE: dict[str, Any] = {"target": "kubernetes", "kubernetes": {"context": "prod"}, "ipAddresses": ["10.0.0.5"]}
LB: dict[str, Any] = {**KUBE, "serviceType": "LoadBalancer", "port": 443}


def service_of(raw: dict[str, Any]) -> ServiceSettings:
    target = load_settings(raw, "dev").target
    assert isinstance(target, KubernetesTarget)
    return target.service


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev")
    return list(caught.value.problems)


def test_a_load_balancer_open_to_all_is_refused_saying_why_and_the_three_ways_out() -> None:
    assert problems(LB) == [f"private-registry:serviceType = 'LoadBalancer': {PUBLIC_REFUSED}"]
    assert "internet-facing" in PUBLIC_REFUSED and "private registry" in PUBLIC_REFUSED
    for way in ("service.loadBalancerSourceRanges", "service.annotations", "service.public = true"):
        assert way in PUBLIC_REFUSED
    assert problems({**LB, "service": {"public": False}}) == problems(LB)  # said, but not "public"
    assert problems({**LB, "service": {"loadBalancerSourceRanges": []}}) == problems(LB)  # an empty list: all


@pytest.mark.parametrize(("annotation", "value"), [(k, v) for k, values in INTERNAL_ANNOTATIONS.items() for v in values])
def test_each_clouds_internal_annotation_is_enough(annotation: str, value: str) -> None:
    service = service_of({**LB, "service": {"annotations": {annotation: value}}})
    assert service.annotations == {annotation: value} and not service.public


@pytest.mark.parametrize(
    "annotations",
    [
        {"service.beta.kubernetes.io/aws-load-balancer-internal": "false"},
        {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"},
        {"networking.gke.io/load-balancer-type": "External"},
        {"service.beta.kubernetes.io/azure-load-balancer-internal": "no"},
        {"example.com/internal": "true"},
    ],
)
def test_an_annotation_that_is_not_internal_is_not_enough(annotations: dict[str, str]) -> None:
    assert problems({**LB, "service": {"annotations": annotations}}) == problems(LB)


def test_source_ranges_or_public_are_enough_and_a_yaml_boolean_annotation_is_taken_as_text() -> None:
    ranged = service_of({**LB, "service": {"loadBalancerSourceRanges": ["10.0.0.0/8", "2001:db8::/32"]}})
    assert ranged.source_ranges == ("10.0.0.0/8", "2001:db8::/32")
    assert service_of({**LB, "service": {"public": True}}).public
    # `pulumi config set --path 'service.annotations.x' true` stores a boolean; Kubernetes takes the text.
    typed = {"service.beta.kubernetes.io/azure-load-balancer-internal": True}
    assert service_of({**LB, "service": {"annotations": typed}}).annotations == {
        "service.beta.kubernetes.io/azure-load-balancer-internal": "true"
    }


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"loadBalancerSourceRanges": ["10.0.0.0"]}, "service.loadBalancerSourceRanges[0] = '10.0.0.0': must be a CIDR"),
        ({"loadBalancerSourceRanges": ["10.0.0.0/8", "x/8"]}, "service.loadBalancerSourceRanges[1] = 'x/8': must be a CIDR"),
        ({"loadBalancerSourceRanges": "10.0.0.0/8"}, "service.loadBalancerSourceRanges = '10.0.0.0/8': must be a list"),
        ({"public": True, "loadBalancerClass": "nlb"}, "service.loadBalancerClass = 'nlb': must be a prefixed name"),
        ({"public": True, "externalTrafficPolicy": "Both"}, "service.externalTrafficPolicy = 'Both': must be Cluster"),
        ({"public": "yes"}, "service.public = 'yes': must be true or false"),
        ({"public": True, "annotations": {"bad key!": "x"}}, "service.annotations.bad key! = 'x': key must be"),
        ({"public": True, "type": "LoadBalancer"}, "service = {'public': True, 'type': 'LoadBalancer'}: unknown key(s) type"),
        ("internal", "service = 'internal': must be an object with keys annotations, loadBalancerSourceRanges"),
    ],
)
def test_bad_service_settings_name_the_key_and_what_is_allowed(service: Any, expected: str) -> None:
    found = problems({**LB, "service": service})
    assert any(p.startswith(f"private-registry:{expected}") for p in found), found


def test_a_node_port_stack_is_unaffected_and_refuses_the_load_balancer_keys() -> None:
    assert service_of(KUBE) == ServiceSettings()  # no setting: nothing asked, nothing refused
    kept = service_of({**KUBE, "service": {"annotations": {"a.io/b": "c"}, "externalTrafficPolicy": "Local"}})
    assert kept.annotations == {"a.io/b": "c"} and kept.external_traffic_policy == "Local"
    found = problems({**KUBE, "service": {"loadBalancerSourceRanges": ["10.0.0.0/8"], "public": True}})
    assert found == [
        "private-registry:service.loadBalancerSourceRanges = ['10.0.0.0/8']: is only used with serviceType = LoadBalancer",
        "private-registry:service.public = True: is only used with serviceType = LoadBalancer",
    ]
    assert problems({"service": {"public": True}}) == [
        "private-registry:service = {'public': True}: is only used with target = kubernetes"
    ]


def test_the_service_fields_are_only_those_set_and_the_load_balancers_only_on_one() -> None:
    everything = ServiceSettings(
        source_ranges=("10.0.0.0/8",), load_balancer_class="service.k8s.aws/nlb", external_traffic_policy="Local"
    )
    assert service_fields(ServiceSettings(), "LoadBalancer") == {}
    assert service_fields(everything, "LoadBalancer") == {
        "externalTrafficPolicy": "Local",
        "loadBalancerSourceRanges": ["10.0.0.0/8"],
        "loadBalancerClass": "service.k8s.aws/nlb",
    }
    assert service_fields(everything, "NodePort") == {"externalTrafficPolicy": "Local"}
