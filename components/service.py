"""Setting `service` (target `kubernetes`): the Services clients reach, as the community chart's
users know them (`annotations`, `loadBalancerSourceRanges`, `loadBalancerClass`,
`externalTrafficPolicy`), and the guard against a public load balancer nobody asked for.

On the big clouds a `LoadBalancer` Service gets an internet-facing address by default: in front of
a registry that holds a company's images, with passwords as the only lock. So a `LoadBalancer` is
taken only when the stack says who may reach it (`loadBalancerSourceRanges`), asks the cloud for an
internal load balancer (one of `INTERNAL_ANNOTATIONS`), or says `public: true` in so many words.
Pure: validation and the Service's fields here, the Service itself in `registry_kube.py`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .pods import _string_map, qualified_name_ok
from .problems import Problem

TRAFFIC_POLICIES = ("Cluster", "Local")
LOAD_BALANCER_ONLY = ("loadBalancerSourceRanges", "loadBalancerClass", "public")

# The annotations that make each cloud's load balancer internal (a private address in the
# cluster's network), with the values its documentation gives.
INTERNAL_ANNOTATIONS: dict[str, tuple[str, ...]] = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true",),  # AWS, in-tree and the LB controller
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),  # AWS Load Balancer Controller
    "networking.gke.io/load-balancer-type": ("Internal",),  # GKE
    "cloud.google.com/load-balancer-type": ("Internal", "internal"),  # GKE, the older name
    "service.beta.kubernetes.io/azure-load-balancer-internal": ("true",),  # AKS
    "service.beta.kubernetes.io/oci-load-balancer-internal": ("true",),  # OKE
    "service.beta.kubernetes.io/openstack-internal-load-balancer": ("true",),  # OpenStack
}

PUBLIC_REFUSED = (
    "without service.loadBalancerSourceRanges or an internal-load-balancer annotation makes an internet-facing "
    "load balancer on most clouds, in front of a private registry (passwords its only lock). Say who reaches it: "
    "service.loadBalancerSourceRanges (the clients' CIDRs), or an internal load "
    "balancer with service.annotations (e.g. service.beta.kubernetes.io/aws-load-balancer-scheme: internal, "
    "networking.gke.io/load-balancer-type: Internal, service.beta.kubernetes.io/azure-load-balancer-internal: "
    '"true"; docs/kubernetes.md), or service.public = true if it is meant to face the internet'
)


@dataclass(frozen=True)
class ServiceSettings:
    """The validated `service` setting; None and empty: the Service as it was before the setting."""

    annotations: Mapping[str, str] = field(default_factory=dict)
    source_ranges: tuple[str, ...] = ()
    load_balancer_class: str | None = None
    external_traffic_policy: Literal["Cluster", "Local"] | None = None
    public: bool = False


def internal(annotations: Mapping[str, str]) -> bool:
    """Whether the annotations ask the cloud for an internal load balancer."""
    return any(annotations.get(name) in values for name, values in INTERNAL_ANNOTATIONS.items())


def unsaid_public(service: ServiceSettings, service_type: str) -> bool:
    """A LoadBalancer open to every address, outside the cloud's network, and not said to be so."""
    return service_type == "LoadBalancer" and not (service.source_ranges or internal(service.annotations) or service.public)


def _source_ranges(value: Any, problem: Problem) -> tuple[str, ...]:
    if not isinstance(value, list):
        problem("loadBalancerSourceRanges", value, "must be a list of CIDRs such as 10.0.0.0/8 or 2001:db8::/32")
        return ()
    good: list[str] = []
    for i, text in enumerate(value):
        try:
            if not isinstance(text, str) or "/" not in text:
                raise ValueError(text)
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            problem(f"loadBalancerSourceRanges[{i}]", text, "must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32")
            continue
        good.append(text)
    return tuple(good)


def parse_service(value: Mapping[str, Any], service_type: str, problem: Problem) -> ServiceSettings:
    """Validate the keys of `service` (an object; the caller reports unknown keys) for the Services of `serviceType`."""
    annotations = _string_map(value.get("annotations", {}), "annotations", problem)
    ranges = _source_ranges(value.get("loadBalancerSourceRanges", []), problem)
    load_balancer_class = value.get("loadBalancerClass")
    if load_balancer_class is not None and (
        not isinstance(load_balancer_class, str) or "/" not in load_balancer_class or not qualified_name_ok(load_balancer_class)
    ):
        problem("loadBalancerClass", load_balancer_class, "must be a prefixed name such as service.k8s.aws/nlb")
        load_balancer_class = None
    policy = value.get("externalTrafficPolicy")
    if policy is not None and policy not in TRAFFIC_POLICIES:
        problem(
            "externalTrafficPolicy",
            policy,
            "must be Cluster (any node forwards) or Local (only nodes with a registry Pod answer; keeps the client's address)",
        )
        policy = None
    public = value.get("public", False)
    if not isinstance(public, bool):
        problem("public", public, "must be true or false")
        public = False
    if service_type != "LoadBalancer":
        for name in LOAD_BALANCER_ONLY:
            if name in value:
                problem(name, value[name], "is only used with serviceType = LoadBalancer")
    return ServiceSettings(
        annotations=annotations,
        source_ranges=ranges,
        load_balancer_class=load_balancer_class,
        external_traffic_policy="Local" if policy == "Local" else ("Cluster" if policy == "Cluster" else None),
        public=public,
    )


def service_fields(service: ServiceSettings, service_type: str) -> dict[str, object]:
    """The Service spec's fields the setting adds (only those it sets: a stack without it keeps its Services)."""
    fields: dict[str, object] = {}
    if service.external_traffic_policy is not None:
        fields["externalTrafficPolicy"] = service.external_traffic_policy
    if service_type == "LoadBalancer":
        if service.source_ranges:
            fields["loadBalancerSourceRanges"] = list(service.source_ranges)
        if service.load_balancer_class is not None:
            fields["loadBalancerClass"] = service.load_balancer_class
    return fields
