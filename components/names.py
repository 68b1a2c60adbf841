"""Name and address rules of the settings checks: DNS, Kubernetes and Docker names; endpoints and
SANs; the labels of the stack's Kubernetes objects; Kubernetes quantities. One rule each."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

NAME_LABEL, PART_OF_LABEL = "app.kubernetes.io/name", "app.kubernetes.io/part-of"
PART_OF = {PART_OF_LABEL: "private-registry"}  # every Pod and object of the stack: a selector of all of them
QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?")  # a Kubernetes quantity (no exponent)
_SCALE = {"m": Fraction(1, 1000), "": Fraction(1)} | {s: Fraction(1000**i) for i, s in enumerate("kMGTP", 1)}
_SCALE |= {f"{s}i": Fraction(1024**i) for i, s in enumerate("KMGTP", 1)}


def app_labels(name: str) -> dict[str, str]:
    """The labels (and selector) of one workload's Pods: its own name, and the stack's."""
    return {NAME_LABEL: name, **PART_OF}


def quantity(text: str) -> Fraction:
    """A Kubernetes quantity (`500m`, `1.5`, `512Mi`) as a number, to compare a request with its limit."""
    match = QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")
    return Fraction(match.group(1)) * _SCALE[match.group(2) or ""]


def size_ok(value: Any) -> bool:
    """A volume's size: a quantity of bytes above 0 (`10Gi`, `500Mi`, `0.5Gi`; no milli)."""
    if not isinstance(value, str):
        return False
    match = QUANTITY.fullmatch(value)
    return match is not None and match.group(2) != "m" and quantity(value) > 0


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_IMAGE_REF = re.compile(r"[a-z0-9][a-z0-9._/:@-]*[a-zA-Z0-9]?")


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


def image_ref_ok(ref: str) -> bool:
    """An image reference such as `registry:3.1.2`, `host:5000/team/app:1` or `repo@sha256:...`."""
    return bool(_IMAGE_REF.fullmatch(ref.lower())) and ref == ref.strip()


def looks_like_host(part: str) -> bool:
    """Whether the first part of an image name is a registry host, by Docker's rule."""
    return "." in part or ":" in part or part == "localhost" or part.startswith("[")


def image_registry(ref: str) -> str | None:
    """The registry host (with port) an image reference names, or None for Docker Hub's."""
    first, slash, _ = ref.partition("/")
    return first if slash and looks_like_host(first) else None


def docker_name_ok(name: str) -> bool:
    """A Docker container or volume name."""
    return len(name) <= 255 and bool(_DOCKER_NAME.fullmatch(name))


def is_ip(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[addr]:port`) into host and port; raise ValueError when malformed."""
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", endpoint)
    if not match:
        raise ValueError(endpoint)
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise ValueError(endpoint)
    return host, port


def join_endpoint(host: str, port: int) -> str:
    """`host:port`, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def san_covers(host: str, hostnames: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """Whether a certificate with these SANs is valid for `host` (IP SANs for IPs, DNS SANs else).

    A wildcard SAN matches exactly one leftmost label, as TLS clients do.
    """
    if is_ip(host):
        ip = ipaddress.ip_address(host)
        return any(ipaddress.ip_address(a) == ip for a in ip_addresses)
    host = host.lower().rstrip(".")
    for name in hostnames:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def object_name(prefix: str, stack: str) -> str:
    """A Kubernetes object name for this stack (DNS-1123: lower case, digits and '-', at most 63)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-") or "stack"
    return f"{prefix}-{slug}"[:63].rstrip("-")


def registry_slug(registry: str) -> str:
    """A registry's name as a part of object names (`harbor.corp:8443` -> `harbor-corp-8443`)."""
    return re.sub(r"[^a-z0-9]+", "-", registry.lower()).strip("-")


# The second name a pull user's credential may have during and after a rotation (htpasswd.py);
# no configured user may take it.
ROTATED_SUFFIX = "~rotated"
