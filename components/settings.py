"""Stack settings: read raw config values and validate them into one typed, immutable object.

Everything here is pure: `load_settings` takes plain values (as `pulumi.Config.get_object` returns
them) and returns `Settings` (model.py) or raises `SettingsError` listing every problem at once, so
the program stops before it declares a single resource. The sections of the target and of the
cluster are read in settings_target.py and settings_cluster.py, all of them through problems.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from .images import parse_images, parse_source_registries
from .mirrors import MIRROR_USER, Mirror, parse_mirrors
from .model import (
    ACCESS_LEVELS,
    KubernetesSettings,
    KubernetesTarget,
    MetricsSettings,
    ReadOnlyInstance,
    Settings,
    SettingsError,
    Subject,
    Target,
    User,
)
from .names import ROTATED_SUFFIX, dns_name_ok, image_ref_ok, image_registry, is_ip, join_endpoint, san_covers, split_endpoint
from .network_policy import parse_allow_from
from .own_certificate import CertificateSecret, OwnCertificate, certificate_given, parse_certificate, secret_form_problem
from .problems import Problems, key, read_boolean, read_integer, read_object, read_string_list, refuse_unknown_keys
from .setting_keys import default, field_default, field_names
from .settings_cluster import cluster_section
from .settings_target import NODE_PORT_RANGE, target_section

MAX_BCRYPT_PASSWORD_BYTES = 72
ECDSA_CURVES = ("P256", "P384")
KEY_ALGORITHMS = ("RSA", "ECDSA")
USER_KEYS = field_names("users")
SUBJECT_FIELDS = {
    "commonName": "common_name",
    "organization": "organization",
    "organizationalUnit": "organizational_unit",
    "locality": "locality",
    "province": "province",
    "country": "country",
}


def _users(raw: Mapping[str, Any], p: Problems) -> tuple[User, ...]:
    value = raw.get("users", default("users"))
    if isinstance(value, dict):  # `--path 'users.password'`: the `[0]` was forgotten
        p.add("users", value, "must be a list of {name, password?} objects; with --path, index the entry: users[0].password")
        return ()
    if not isinstance(value, list) or not value:
        p.add("users", value, "must be a non-empty list of {name, password?} objects")
        return ()
    users: list[User] = []
    seen: dict[str, int] = {}  # name -> index of its first entry
    for i, item in enumerate(value):
        where = f"users[{i}]"
        if not isinstance(item, dict) or set(item) - set(USER_KEYS):
            p.add(where, item, "must be an object with keys name and optional password")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name or re.search(r"[:\s]", name) or not name.isprintable():
            p.add(f"{where}.name", name, "must be a non-empty name without ':', white space or control characters")
            continue
        if name.endswith(ROTATED_SUFFIX):
            p.add(
                f"{where}.name", name, f"must not end with {ROTATED_SUFFIX}: that name is the second name of a rotating pull user"
            )
            continue
        if name == MIRROR_USER:
            p.add(f"{where}.name", name, "is the name of the mirrors' own credential (the stack's): choose another")
            continue
        if name in seen:
            p.add(f"{where}.name", name, f"duplicate of users[{seen[name]}].name; each user may appear once")
            continue
        seen[name] = i
        access = item.get("access", field_default("users.access"))
        if access not in ACCESS_LEVELS:
            p.add(f"{where}.access", access, "must be push (push, pull and delete) or pull (pull only, through pullPort)")
            continue
        password = item.get("password")
        if password is not None:
            if not isinstance(password, str) or not password:
                p.add(f"{where}.password", password, "must be a non-empty string, or left out to generate one")
                continue
            if len(password.encode()) > MAX_BCRYPT_PASSWORD_BYTES:
                p.add(
                    f"{where}.password",
                    password,
                    f"is {len(password.encode())} bytes; bcrypt uses only the first "
                    f"{MAX_BCRYPT_PASSWORD_BYTES}, so at most {MAX_BCRYPT_PASSWORD_BYTES} bytes are allowed",
                )
                continue
        users.append(User(name=name, password=password, access="pull" if access == "pull" else "push"))
    return tuple(users)


def _hostnames(raw: Mapping[str, Any], p: Problems) -> tuple[str, ...]:
    names = read_string_list(raw, "hostnames", p)
    good = []
    for i, name in enumerate(names):
        if is_ip(name):
            p.add(f"hostnames[{i}]", name, "is an IP address; list it under ipAddresses")
        elif dns_name_ok(name, allow_wildcard=True):
            good.append(name.lower())
        else:
            p.add(f"hostnames[{i}]", name, "must be a DNS name (labels of a-z, 0-9 and '-', optionally '*.' first)")
    return tuple(good)


def _ip_addresses(raw: Mapping[str, Any], p: Problems) -> tuple[str, ...]:
    ips = read_string_list(raw, "ipAddresses", p)
    good = []
    for i, text in enumerate(ips):
        try:
            good.append(str(ipaddress.ip_address(text)))
        except ValueError:
            p.add(f"ipAddresses[{i}]", text, "must be an IPv4 or IPv6 address")
    return tuple(good)


def _subject(raw: Mapping[str, Any], default_cn: str, p: Problems) -> Subject:
    value = read_object(raw, "subject", list(SUBJECT_FIELDS), p)
    fields: dict[str, str] = {}
    for config_name, attr in SUBJECT_FIELDS.items():
        text = value.get(config_name, field_default(f"subject.{config_name}") or "")
        if not isinstance(text, str):
            p.add(f"subject.{config_name}", text, "must be a string")
            continue
        fields[attr] = text
    country = fields.get("country", "")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        p.add("subject.country", country, "must be a two-letter ISO 3166 code such as DE or US")
    fields["common_name"] = fields.get("common_name") or default_cn
    if len(fields["common_name"]) > 64:
        p.add("subject.commonName", fields["common_name"], "must be at most 64 characters")
    return Subject(**fields)


def _key(raw: Mapping[str, Any], p: Problems) -> tuple[Literal["RSA", "ECDSA"], int, str]:
    algorithm = raw.get("keyAlgorithm", default("keyAlgorithm"))
    rsa_bits = read_integer(raw, "rsaBits", p)
    curve = raw.get("ecdsaCurve", default("ecdsaCurve"))
    if curve not in ECDSA_CURVES:
        p.add("ecdsaCurve", curve, "must be P256 or P384 (Go TLS clients refuse P224 certificates)")
        curve = "P256"
    if algorithm not in KEY_ALGORITHMS:
        p.add("keyAlgorithm", algorithm, f"must be one of {', '.join(KEY_ALGORITHMS)}")
        algorithm = "RSA"
    return algorithm, rsa_bits, curve


def _image(raw: Mapping[str, Any], p: Problems, warnings: list[str]) -> str:
    image = raw.get("image", default("image"))
    if not isinstance(image, str) or not image_ref_ok(image):
        p.add("image", image, "must be an image reference such as registry:3.1.2 or host/repo@sha256:...")
        return str(default("image"))
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and (":" not in last or last.endswith(":latest")):
        warnings.append(
            f"{key('image')} = {p.show('image', image)} is a floating tag: once present on the Docker host it is never "
            "pulled again; pin an exact release or a digest"
        )
    return image


def _auth(raw: Mapping[str, Any], p: Problems, warnings: list[str]) -> dict[str, Any]:
    """Section `users` and `bcryptCost`."""
    users = _users(raw, p)
    cost = read_integer(raw, "bcryptCost", p)
    shown_cost = p.show("bcryptCost", cost)
    if cost < 10 and "bcryptCost" in raw:
        warnings.append(f"{key('bcryptCost')} = {shown_cost} is below 10: the hashes are cheap to brute-force")
    if cost > 13:
        warnings.append(f"{key('bcryptCost')} = {shown_cost}: the registry verifies the hash on every request; expect slow pulls")
    return {"users": users, "bcrypt_cost": cost}


def _certificate(raw: Mapping[str, Any], p: Problems) -> dict[str, Any]:
    """Section certificate: SANs, subject, key and lifetimes."""
    hostnames = _hostnames(raw, p)
    ips = _ip_addresses(raw, p)
    if not hostnames and not ips:
        p.add("hostnames", raw.get("hostnames"), "the certificate needs at least one valid DNS name or IP address")
    algorithm, rsa_bits, curve = _key(raw, p)
    validity = read_integer(raw, "validityDays", p)
    shown_validity = p.show("validityDays", validity)
    ca_validity = read_integer(raw, "caValidityDays", p)
    early = read_integer(raw, "earlyRenewalDays", p)
    if early >= validity:
        p.add(
            "earlyRenewalDays",
            early,
            f"must be shorter than validityDays ({shown_validity}); otherwise every run replaces the certificate",
        )
    if ca_validity < validity:
        p.add(
            "caValidityDays",
            ca_validity,
            f"must be at least validityDays ({shown_validity}): the CA must outlive its certificates",
        )
    return {
        "hostnames": hostnames,
        "ip_addresses": ips,
        # The first SAN names the server: default subject CN and default endpoint host.
        "subject": _subject(raw, first_san(hostnames, ips), p),
        "key_algorithm": algorithm,
        "rsa_bits": rsa_bits,
        "ecdsa_curve": curve,
        "validity_days": validity,
        "ca_validity_days": ca_validity,
        "early_renewal_days": early,
    }


def first_san(hostnames: Sequence[str], ips: Sequence[str]) -> str:
    return hostnames[0] if hostnames else (ips[0] if ips else "localhost")


def _pull_port(raw: Mapping[str, Any], target: Target, port: int, users: Sequence[User], p: Problems) -> int | None:
    """Section pull endpoint: `pullPort` (a read-only instance), and pull users only with one."""
    pull_port = read_integer(raw, "pullPort", p, default_value=port) if "pullPort" in raw else None
    pullers = [u.name for u in users if u.access == "pull"]
    if pull_port is None:
        for name in pullers:
            index = next(i for i, u in enumerate(users) if u.name == name)
            p.add(
                f"users[{index}].access",
                "pull",
                "needs pullPort: a pull-only user exists only beside a read-only instance (the read-write one would "
                "let it push); set pullPort, or make the user a push user",
            )
        return None
    if pull_port == port:
        p.add("pullPort", pull_port, f"must differ from port ({port}): the read-only instance has a port of its own")
    elif isinstance(target, KubernetesTarget) and target.service_type == "LoadBalancer":
        p.add(
            "pullPort",
            pull_port,
            "needs serviceType = NodePort: with LoadBalancer the read-only Service would get an address of its own, "
            "which the pull endpoint (the endpoint's host) does not name",
        )
    elif isinstance(target, KubernetesTarget) and not NODE_PORT_RANGE[0] <= pull_port <= NODE_PORT_RANGE[1]:
        p.add(
            "pullPort",
            pull_port,
            f"is the read-only Service's NodePort with target = kubernetes: it must be in "
            f"{NODE_PORT_RANGE[0]}..{NODE_PORT_RANGE[1]} (the API server's default --service-node-port-range)",
        )
    return pull_port


def _endpoint(raw: Mapping[str, Any], hostnames: Sequence[str], ips: Sequence[str], port: int, p: Problems) -> str:
    """`endpoint`: given, or the first SAN with the port; its host must be covered by the SANs (of
    the generated certificate; `_own_certificate` checks your own).
    """
    endpoint = raw.get("endpoint", join_endpoint(first_san(hostnames, ips), port))
    try:
        if not isinstance(endpoint, str):
            raise ValueError(endpoint)
        host, _ = split_endpoint(endpoint)
        if not certificate_given(raw.get("certificate")) and not san_covers(host, hostnames, ips):
            p.add(
                "endpoint",
                endpoint,
                f"host {p.show('endpoint', host)} is not covered by the certificate's SANs "
                f"(hostnames {p.show('hostnames', list(hostnames))}, ipAddresses {p.show('ipAddresses', list(ips))}); "
                "add it to one of them",
            )
    except ValueError:
        p.add("endpoint", endpoint, "must be host:port (IPv6 as [addr]:port) with a port in 1..65535")
    return str(endpoint)


# What only the generated certificate uses: refused beside your own (`certificate`).
GENERATED_CERTIFICATE_KEYS = (
    "subject",
    "keyAlgorithm",
    "rsaBits",
    "ecdsaCurve",
    "validityDays",
    "caValidityDays",
    "earlyRenewalDays",
)


def _own_certificate(raw: Mapping[str, Any], endpoint: str, p: Problems) -> OwnCertificate | CertificateSecret | None:
    """Section certificate (own_certificate.py): your own certificate, checked for the endpoint."""

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"certificate.{path}" if path else "certificate", value, message)

    try:
        host = split_endpoint(endpoint)[0]
    except ValueError:
        return None  # `_endpoint` said why
    own = parse_certificate(raw.get("certificate"), host, problem)
    if own is not None:
        for name in GENERATED_CERTIFICATE_KEYS:
            if name in raw and raw[name] != default(name):
                p.add(name, raw[name], "is not used with certificate: your own certificate sets it; remove the setting")
    return own


def _images(
    raw: Mapping[str, Any], users: Sequence[User], target: Target, kubernetes: KubernetesSettings, p: Problems
) -> dict[str, Any]:
    """Section images (images.py): declared images and their source registries; bundle files are
    looked up relative to the program's directory (the project's, where `pulumi` runs it).
    """
    images = parse_images(raw.get("images"), Path.cwd(), p.add)
    sources = parse_source_registries(raw.get("sourceRegistries"), p.add)
    if images and target.kind == "kubernetes" and kubernetes.mode == "render":
        p.add(
            "images",
            f"{len(images)} image(s)",
            "needs a running registry: with kubernetes.mode = render nothing runs to copy into",
        )
    if images and users and not any(u.access == "push" for u in users):
        p.add("images", f"{len(images)} image(s)", "are copied in as a push user: add a user with access: push")
    return {"images": images, "source_registries": sources}


def _mirrors(raw: Mapping[str, Any], target: Target, endpoint: str, ports: Sequence[int], p: Problems) -> tuple[Mirror, ...]:
    """Section mirrors (mirrors.py): a pull-through cache per upstream, beside the registry."""
    mirrors = parse_mirrors(raw.get("mirrors"), ports, endpoint, p.add)
    if isinstance(target, KubernetesTarget):
        low, high = NODE_PORT_RANGE
        for mirror in mirrors:
            if target.service_type != "NodePort":
                p.add(
                    f"mirrors.{mirror.upstream}",
                    mirror.upstream,
                    "needs serviceType = NodePort: a mirror is reached on the endpoint's host",
                )
            elif not low <= mirror.port <= high:
                p.add(
                    f"mirrors.{mirror.upstream}.port",
                    mirror.port,
                    f"is the mirror's NodePort with target = kubernetes: it must be in {low}..{high}",
                )
    return mirrors


def _metrics(raw: Mapping[str, Any], target: Target, p: Problems) -> MetricsSettings:
    """Section metrics: Prometheus' endpoint on every instance, and a ServiceMonitor (target kubernetes)."""
    value = read_object(raw, "metrics", field_names("metrics"), p)
    flags = {}
    for name in ("enabled", "serviceMonitor"):
        flag = value.get(name, field_default(f"metrics.{name}"))
        if not isinstance(flag, bool):
            p.add(f"metrics.{name}", flag, "must be true or false")
            flag = False
        flags[name] = flag
    if flags["serviceMonitor"] and not (flags["enabled"] and target.kind == "kubernetes"):
        p.add("metrics.serviceMonitor", True, "needs target = kubernetes and metrics.enabled = true")
    allowed = value.get("allowFrom")
    if allowed is not None and not (flags["enabled"] and target.kind == "kubernetes"):
        p.add("metrics.allowFrom", allowed, "needs target = kubernetes and metrics.enabled = true")
    allow_from = parse_allow_from(allowed, lambda path, v, what: p.add(f"metrics.{path}", v, what))
    return MetricsSettings(enabled=flags["enabled"], service_monitor=flags["serviceMonitor"], allow_from=allow_from)


def load_settings(
    raw: Mapping[str, Any], stack: str, secret_keys: frozenset[str] = frozenset(), kubernetes_provider: str | None = None
) -> Settings:
    """Validate raw config values (key without project prefix -> value) into `Settings`.

    Raises `SettingsError` naming every bad key, its value (unless it may hold a secret: see
    `Problems`) and what is allowed. `secret_keys` are the keys the engine holds encrypted.
    `kubernetes_provider`: the name of the kubernetes.Provider a program hands the component, the
    cluster then (no `kubernetes` setting may name another).
    """
    p = Problems(secret_keys, raw)
    warnings: list[str] = []
    refuse_unknown_keys(raw, p)
    auth = _auth(raw, p, warnings)
    certificate = _certificate(raw, p)
    image = _image(raw, p, warnings)
    pull_image = read_boolean(raw, "pullImage", p)
    target, port = target_section(raw, stack, p)
    endpoint = _endpoint(raw, certificate["hostnames"], certificate["ip_addresses"], port, p)
    if target.kind == "kubernetes" and image_registry(image) == endpoint:
        p.add(
            "image",
            image,
            "is in this registry, which cannot serve its own image before it runs: the nodes must pull the "
            "registry image from elsewhere (Docker Hub, a mirror, or preloaded with pullImage = false)",
        )
    own_certificate = _own_certificate(raw, endpoint, p)
    pull_port = _pull_port(raw, target, port, auth["users"], p)
    cluster = cluster_section(raw, stack, auth["users"], endpoint, target, pull_port, p, warnings, kubernetes_provider)
    if isinstance(own_certificate, CertificateSecret):
        refused = secret_form_problem(target.kind, cluster["kubernetes"].mode)
        if refused:
            p.add("certificate.secretName", own_certificate.name, refused)
    images = _images(raw, auth["users"], target, cluster["kubernetes"], p)
    metrics = _metrics(raw, target, p)
    mirrors = _mirrors(raw, target, endpoint, [port] + ([pull_port] if pull_port is not None else []), p)
    runtime: dict[str, Any] = {
        "retain_data": read_boolean(raw, "retainData", p),
        "delete_enabled": read_boolean(raw, "deleteEnabled", p),
        "health_timeout_seconds": read_integer(raw, "healthTimeoutSeconds", p),
    }
    if p.items:
        raise SettingsError(p.items)
    return Settings(
        stack=stack,
        **auth,
        **certificate,
        image=image,
        pull_image=pull_image,
        port=port,
        endpoint=endpoint,
        target=target,
        read_only=None if pull_port is None else ReadOnlyInstance(pull_port),
        own_certificate=own_certificate if isinstance(own_certificate, OwnCertificate) else None,
        certificate_secret=own_certificate.name if isinstance(own_certificate, CertificateSecret) else None,
        **runtime,
        **cluster,
        **images,
        mirrors=mirrors,
        metrics=metrics,
        warnings=tuple(warnings),
    )
