"""Setting `metrics.allowFrom` and the NetworkPolicy `registry-metrics` (target `kubernetes`).

With metrics on, Distribution's debug listener (port 5001) listens on the Pod's address, and it
serves more than `/metrics`: Distribution 3.1.2's `cmd/registry/main.go` imports `net/http/pprof`
and its handlers publish `expvar`, both on Go's default mux that the debug listener serves
(`registry/registry.go`, `configureDebugServer`); no configuration key turns them off (its
`http.debug` section has only `addr` and `prometheus`). So the port is admitted only from the peers
the stack names: every registry Pod of the stack (registry, read-only, mirrors) is selected, its TLS
port stays open to every source (clients, NodePort, load balancer, probes), and the metrics port
admits `allowFrom` only. Pure: validation and the policy's spec; `registry_kube.py` creates it.

Default peers: the registry's own namespace, and Prometheus servers in any namespace, as both the
Prometheus Operator (what a ServiceMonitor needs) and the community chart label them
(`app.kubernetes.io/name: prometheus`). A label any Pod may carry: name the monitoring namespace in
`allowFrom` to narrow it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from .names import PART_OF, dns_label_ok
from .pods import qualified_name_ok
from .problems import Problem

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
PEER_KEYS = ("namespaceSelector", "podSelector", "ipBlock")
# Every Pod of the stack carries this label (registry_kube.labels); the policy lives in its namespace.
STACK_PODS = PART_OF
SAME_NAMESPACE: dict[str, Any] = {"podSelector": {}}  # every Pod of the policy's own namespace
ANY_PROMETHEUS: dict[str, Any] = {"namespaceSelector": {}, "podSelector": {"matchLabels": PROMETHEUS_LABELS}}
DEFAULT_PEERS: tuple[dict[str, Any], ...] = (SAME_NAMESPACE, ANY_PROMETHEUS)


def namespace_peer(namespace: str) -> dict[str, Any]:
    """Every Pod of one namespace, by the name label the API server sets."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def _selector(value: Any, path: str, problem: Problem) -> bool:
    if not isinstance(value, dict) or set(value) - {"matchLabels", "matchExpressions"}:
        problem(path, value, "must be a label selector {matchLabels?, matchExpressions?} ({} selects all)")
        return False
    labels = value.get("matchLabels", {})
    if not isinstance(labels, dict) or not all(qualified_name_ok(str(k)) and isinstance(v, str) for k, v in labels.items()):
        problem(f"{path}.matchLabels", labels, "must be an object of label keys and string values")
        return False
    expressions = value.get("matchExpressions", [])
    if not isinstance(expressions, list) or not all(isinstance(e, dict) and "key" in e and "operator" in e for e in expressions):
        problem(f"{path}.matchExpressions", expressions, "must be a list of {key, operator, values?}")
        return False
    return True


def _ip_block(value: Any, path: str, problem: Problem) -> bool:
    if not isinstance(value, dict) or "cidr" not in value or set(value) - {"cidr", "except"}:
        problem(path, value, "must be {cidr, except?}, e.g. {cidr: 10.0.0.0/16}")
        return False
    for where, cidr in [(f"{path}.cidr", value["cidr"])] + [(f"{path}.except", c) for c in value.get("except", [])]:
        try:
            ipaddress.ip_network(str(cidr), strict=True)
        except ValueError:
            problem(where, cidr, "must be a network in CIDR notation, host bits zero (10.0.0.0/16)")
            return False
    return True


def _peer(item: Any, path: str, problem: Problem) -> dict[str, Any] | None:
    if isinstance(item, str):
        if dns_label_ok(item):
            return namespace_peer(item)
        problem(path, item, "must be a namespace name (a DNS-1123 label) or a peer object")
        return None
    if not isinstance(item, dict) or not item or set(item) - set(PEER_KEYS):
        problem(path, item, f"must be a namespace name or a NetworkPolicy peer: an object of {', '.join(PEER_KEYS)}")
        return None
    if "ipBlock" in item:
        if len(item) > 1:
            problem(path, item, "ipBlock stands alone in a peer (no selectors beside it)")
            return None
        return dict(item) if _ip_block(item["ipBlock"], f"{path}.ipBlock", problem) else None
    good = all(_selector(item[k], f"{path}.{k}", problem) for k in ("namespaceSelector", "podSelector") if k in item)
    return dict(item) if good else None


def parse_allow_from(value: Any, problem: Problem) -> tuple[dict[str, Any], ...]:
    """`metrics.allowFrom` (None: the default peers) -> NetworkPolicy peers."""
    if value is None:
        return DEFAULT_PEERS
    if not isinstance(value, list) or not value:
        # An empty `from` would admit every source: never what an empty list here means.
        problem("allowFrom", value, "must be a non-empty list of namespace names or NetworkPolicy peers (left out: the default)")
        return DEFAULT_PEERS
    peers = [_peer(item, f"allowFrom[{i}]", problem) for i, item in enumerate(value)]
    return tuple(p for p in peers if p is not None)


def policy_spec(allow_from: Sequence[dict[str, Any]], port: int, metrics_port: int) -> dict[str, object]:
    """The NetworkPolicy's spec: every Pod of the stack, ingress only; the registry's `port` from
    anywhere, its `metrics_port` from `allow_from`."""
    return {
        "podSelector": {"matchLabels": dict(STACK_PODS)},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"ports": [{"protocol": "TCP", "port": port}]},
            {"ports": [{"protocol": "TCP", "port": metrics_port}], "from": [dict(p) for p in allow_from]},
        ],
    }
