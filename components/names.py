"""Name rules shared by the settings checks: DNS names, Kubernetes names and Docker object names."""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def dns_label_ok(name: str) -> bool:
    """A DNS-1123 label, as Kubernetes requires for namespace names."""
    return bool(_DNS_LABEL.fullmatch(name))


def dns_subdomain_ok(name: str) -> bool:
    """A DNS-1123 subdomain, as Kubernetes requires for most object names."""
    return len(name) <= 253 and all(dns_label_ok(label) for label in name.split("."))


def dns_name_ok(name: str, allow_wildcard: bool = False) -> bool:
    """A host name for a certificate SAN: DNS labels, case-insensitive, optionally `*.` first."""
    if allow_wildcard and name.startswith("*."):
        name = name[2:]
    name = name.lower().rstrip(".")
    if not name or len(name) > 253:
        return False
    return all(dns_label_ok(label) for label in name.split("."))


def docker_name_ok(name: str) -> bool:
    """A Docker container or volume name."""
    return len(name) <= 255 and bool(_DOCKER_NAME.fullmatch(name))
