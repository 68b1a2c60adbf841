"""Setting `certificate`: the registry's TLS certificate from your own PKI instead of the stack's CA.

Two forms, one or the other:

- `{cert, key, ca}` as PEM text (config secrets): `cert` the server certificate, optionally followed
  by its intermediates (the registry serves the whole chain); `key` its unencrypted private key; `ca`
  the certificate(s) nodes and clients must trust (the root, or the issuing CA). Checked before
  anything is created: each part parses, the key belongs to the certificate, the certificate is valid
  now and for the registry's endpoint, may be used by a TLS server, and chains to `ca`; `tls.py`
  takes the result instead of issuing a certificate.
- `{secretName}` (target `kubernetes`): an existing `kubernetes.io/tls` Secret in the registry's
  namespace, kept by someone else (cert-manager). `certificate_secret.py` reads it on every run and
  `check_tls_secret` applies the same checks to its `tls.crt`, `tls.key` and `ca.crt`; the Pods
  mount the Secret itself, and `roll_hash` (keyed, over the public certificates only) rolls them
  when it changes.

Pure (the `cryptography` package).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .names import dns_subdomain_ok, san_covers
from .problems import Problem
from .setting_keys import field_names

if TYPE_CHECKING:
    from cryptography import x509

# `cryptography` is imported only where a certificate is checked: a stack without one does not pay
# for its import (about 0.1 s of every preview; bench/mock_eval.py).

SECRET_NAME = "secretName"  # the other form: an existing kubernetes.io/tls Secret
KEYS = tuple(k for k in field_names("certificate") if k != SECRET_NAME)  # the PEM form: cert, key, ca
TLS_SECRET_TYPE = "kubernetes.io/tls"


@dataclass(frozen=True)
class OwnCertificate:
    """A validated certificate of your own: PEM texts as given, and the server certificate's expiry."""

    cert_pem: str
    key_pem: str = field(repr=False)
    ca_pem: str
    expires_at: str  # RFC 3339, as pulumi-tls reports the generated certificate's


@dataclass(frozen=True)
class CertificateSecret:
    """`certificate.secretName`: the registry serves what this Secret of its namespace holds."""

    name: str


@dataclass(frozen=True)
class SecretCertificate:
    """What a checked `kubernetes.io/tls` Secret holds that the stack may show: public certificates only."""

    cert_pem: str  # tls.crt: the server certificate and its intermediates
    ca_pem: str  # ca.crt, else the last certificate of tls.crt (what nodes and clients must trust)
    expires_at: str  # the server certificate's expiry, RFC 3339
    has_ca: bool  # whether the Secret had a ca.crt


def certificate_given(value: Any) -> bool:
    """Whether the `certificate` setting asks for your own certificate (absent or `{}`: the stack's CA)."""
    return value not in (None, {})


def _public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    from cryptography import x509

    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return names.get_values_for_type(x509.DNSName), [str(a) for a in names.get_values_for_type(x509.IPAddress)]


def _chains_to(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> bool:
    """Whether each certificate of `chain` is issued by the next, and the last by one of `anchors`."""
    from cryptography.exceptions import InvalidSignature

    for cert, issuer in itertools.pairwise(chain):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):  # a wrong issuer, key type or signature
            return False
    for anchor in anchors:
        try:
            chain[-1].verify_directly_issued_by(anchor)
            return True
        except (ValueError, TypeError, InvalidSignature):  # not this anchor: try the next
            continue
    return any(chain[-1] == anchor for anchor in anchors)


def _server_use_ok(cert: x509.Certificate) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        uses = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no restriction
    return ExtendedKeyUsageOID.SERVER_AUTH in uses or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in uses


def _load(value: dict[str, Any], problem: Problem) -> tuple[list[x509.Certificate], Any, list[x509.Certificate]] | None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    parsed: dict[str, Any] = {}
    for part in KEYS:
        text = value.get(part)
        if not isinstance(text, str) or "-----BEGIN" not in text:
            problem(part, None, "is required: PEM text (set it with pulumi config set --secret --path certificate." + part + ")")
            continue
        try:
            if part == "key":
                parsed[part] = serialization.load_pem_private_key(text.encode(), password=None)
            else:
                parsed[part] = x509.load_pem_x509_certificates(text.encode())
        except (ValueError, TypeError) as error:
            what = "an unencrypted PEM private key" if part == "key" else "PEM certificate(s)"
            problem(part, None, f"must be {what} ({str(error)[:80]})")
    if len(parsed) < len(KEYS):
        return None
    return parsed["cert"], parsed["key"], parsed["ca"]


def check_served(
    chain: list[x509.Certificate],
    key: Any,
    anchors: list[x509.Certificate] | None,
    endpoint_host: str,
    now: datetime.datetime | None,
    problem: Problem,
    parts: tuple[str, str, str],
    prefix: str = "",
) -> None:
    """What the registry serves: the key is the leaf's, the leaf is valid now, covers the endpoint's
    host and may serve TLS, and the chain leads to `anchors` (when given). `parts` name the
    certificate, key and CA in the problems (setting paths below `prefix`, or a Secret's keys).
    """
    cert_part, key_part, ca_part = parts
    shown = prefix + cert_part
    leaf = chain[0]
    moment = now or datetime.datetime.now(datetime.UTC)
    if _public(key.public_key()) != _public(leaf.public_key()):
        problem(key_part, None, f"is not the private key of {shown} (their public keys differ)")
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        problem(
            cert_part,
            None,
            f"is not valid now: valid from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        )
    hostnames, ips = _sans(leaf)
    if not san_covers(endpoint_host, hostnames, ips):
        problem(
            cert_part,
            None,
            f"does not cover the endpoint's host {endpoint_host}: its SANs are DNS {hostnames or 'none'}, IP "
            f"{ips or 'none'}; issue it for that name, or set endpoint to one of them",
        )
    if not _server_use_ok(leaf):
        problem(cert_part, None, "may not be used by a TLS server (its extended key usage lacks serverAuth)")
    if anchors is not None and not _chains_to(chain, anchors):
        problem(ca_part, None, f"does not issue {shown} (nor the last certificate of its chain): nodes could not verify it")


def parse_certificate(
    value: Any, endpoint_host: str, problem: Problem, now: datetime.datetime | None = None
) -> OwnCertificate | CertificateSecret | None:
    """Validate `certificate` for a registry reached at `endpoint_host`; None when it is not set.
    The Secret form is only named here: its content is checked when `up` reads it (`check_tls_secret`).
    """
    if not certificate_given(value):
        return None
    if isinstance(value, dict) and SECRET_NAME in value:
        return _secret_form(value, problem)
    if not isinstance(value, dict) or set(value) - set(KEYS):
        problem("", None, f"must be an object with keys {', '.join(KEYS)} (PEM text each), or with {SECRET_NAME} alone")
        return None
    loaded = _load(value, problem)
    if loaded is None:
        return None
    chain, key, anchors = loaded
    check_served(chain, key, anchors, endpoint_host, now, problem, ("cert", "key", "ca"), "certificate.")
    return OwnCertificate(
        cert_pem=value["cert"].strip() + "\n",
        key_pem=value["key"].strip() + "\n",
        ca_pem=value["ca"].strip() + "\n",
        expires_at=chain[0].not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _secret_form(value: dict[str, Any], problem: Problem) -> CertificateSecret | None:
    name = value[SECRET_NAME]
    both = sorted(set(value) & set(KEYS))
    if both:
        problem(
            "",
            None,
            f"has both {SECRET_NAME} and {', '.join(both)}: certificate.{SECRET_NAME} (a kubernetes.io/tls Secret) and "
            "certificate.cert/key/ca (PEM text) are two ways to give your own certificate; keep one",
        )
        return None
    if set(value) - {SECRET_NAME}:
        problem("", None, f"with {SECRET_NAME} takes no other key (unknown: {', '.join(sorted(set(value) - {SECRET_NAME}))})")
        return None
    if not isinstance(name, str) or not dns_subdomain_ok(name):
        problem(SECRET_NAME, None, "must be the name of a Secret (a DNS-1123 subdomain: a-z, 0-9, '-', '.', at most 253)")
        return None
    return CertificateSecret(name)


def secret_form_problem(target_kind: str, kubernetes_mode: str) -> str | None:
    """Why `certificate.secretName` cannot be used on this stack, or None: the registry's Pods mount
    the Secret (target kubernetes), and `up` reads it from the cluster (mode cluster, not render).
    """
    if target_kind != "kubernetes" or kubernetes_mode != "cluster":
        return (
            f"needs target = kubernetes and kubernetes.mode = cluster (not target {target_kind}, mode {kubernetes_mode}): "
            "the registry's Pods mount the Secret and up reads it from the cluster; elsewhere give cert, key and ca"
        )
    return None


def _decoded(data: dict[str, Any], key: str) -> str | None:
    """One value of a Secret's `data` (base64), as text; None when absent or not base64 text."""
    raw = data.get(key)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _pem(text: str | None, load: Callable[[bytes], Any]) -> Any:
    """`load` applied to `text`; None when there is no text or it does not parse."""
    if text is None:
        return None
    try:
        return load(text.encode())
    except (ValueError, TypeError):
        return None


def check_tls_secret(
    secret_type: Any, data: Any, endpoint_host: str, now: datetime.datetime | None = None
) -> tuple[SecretCertificate | None, list[str]]:
    """Check what a `kubernetes.io/tls` Secret holds (its `type` and base64 `data`, as the API gives
    them) for a registry at `endpoint_host`: the checks of the PEM form, `ca.crt` optional. Returns
    the public part and the problems (naming the Secret's keys, never showing a value).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    found: list[str] = []

    def problem(part: str, _value: Any, message: str) -> None:
        found.append(f"{part}: {message}" if part else message)

    if secret_type != TLS_SECRET_TYPE:
        problem("", None, f"is of type {secret_type}, not {TLS_SECRET_TYPE} (cert-manager writes that type)")
        return None, found
    values = data if isinstance(data, dict) else {}
    cert_text, key_text, ca_text = (_decoded(values, k) for k in ("tls.crt", "tls.key", "ca.crt"))
    chain, key, anchors = _pem(cert_text, x509.load_pem_x509_certificates), None, None
    if not chain:
        problem("tls.crt", None, "is missing or not PEM certificate(s)")
    key = _pem(key_text, lambda b: serialization.load_pem_private_key(b, password=None))
    if key is None:
        problem("tls.key", None, "is missing or not an unencrypted PEM private key")
    if ca_text is not None:
        anchors = _pem(ca_text, x509.load_pem_x509_certificates)
        if not anchors:
            problem("ca.crt", None, "is not PEM certificate(s)")
            return None, found
    if chain is None or key is None or cert_text is None:
        return None, found
    check_served(chain, key, anchors, endpoint_host, now, problem, ("tls.crt", "tls.key", "ca.crt"))
    if found:
        return None, found
    trusted = ca_text if ca_text is not None else chain[-1].public_bytes(serialization.Encoding.PEM).decode()
    expires = chain[0].not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return SecretCertificate(cert_text.strip() + "\n", trusted.strip() + "\n", expires, ca_text is not None), found


def roll_hash(key: str, *parts: str) -> str:
    """A pod template's trigger for a change of `parts` (a certificate and its CA; the secret
    variables; a mirror's upstream credentials): HMAC-SHA256 keyed with a stack secret. Keyed, so
    the annotation lets nobody who can read the Deployment test a guessed password against it.
    """
    return hmac.new(key.encode(), "\0".join(parts).encode(), hashlib.sha256).hexdigest()
