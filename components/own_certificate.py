"""Setting `certificate`: the registry's TLS certificate from your own PKI instead of the stack's CA.

`{cert, key, ca}` as PEM text (config secrets): `cert` the server certificate, optionally followed by
its intermediates (the registry serves the whole chain); `key` its unencrypted private key; `ca` the
certificate(s) nodes and clients must trust (the root, or the issuing CA). Checked before anything is
created: each part parses, the key belongs to the certificate, the certificate is valid now and for
the registry's endpoint, may be used by a TLS server, and chains to `ca`. Pure (the `cryptography`
package); `tls.py` takes the result instead of issuing a certificate.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .names import san_covers

if TYPE_CHECKING:
    from cryptography import x509

# `cryptography` is imported only where a certificate is checked: a stack without one does not pay
# for its import (about 0.1 s of every preview; bench/mock_eval.py).

Problem = Callable[[str, Any, str], None]  # (path below `certificate`, value, what is allowed)
KEYS = ("cert", "key", "ca")


@dataclass(frozen=True)
class OwnCertificate:
    """A validated certificate of your own: PEM texts as given, and the server certificate's expiry."""

    cert_pem: str
    key_pem: str = field(repr=False)
    ca_pem: str
    expires_at: str  # RFC 3339, as pulumi-tls reports the generated certificate's


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


def parse_certificate(
    value: Any, endpoint_host: str, problem: Problem, now: datetime.datetime | None = None
) -> OwnCertificate | None:
    """Validate `certificate` for a registry reached at `endpoint_host`; None when it is not set."""
    if not certificate_given(value):
        return None
    if not isinstance(value, dict) or set(value) - set(KEYS):
        problem("", None, f"must be an object with keys {', '.join(KEYS)} (PEM text each)")
        return None
    loaded = _load(value, problem)
    if loaded is None:
        return None
    chain, key, anchors = loaded
    leaf = chain[0]
    moment = now or datetime.datetime.now(datetime.UTC)
    if _public(key.public_key()) != _public(leaf.public_key()):
        problem("key", None, "is not the private key of certificate.cert (their public keys differ)")
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        problem(
            "cert",
            None,
            f"is not valid now: valid from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        )
    hostnames, ips = _sans(leaf)
    if not san_covers(endpoint_host, hostnames, ips):
        problem(
            "cert",
            None,
            f"does not cover the endpoint's host {endpoint_host}: its SANs are DNS {hostnames or 'none'}, IP "
            f"{ips or 'none'}; issue it for that name, or set endpoint to one of them",
        )
    if not _server_use_ok(leaf):
        problem("cert", None, "may not be used by a TLS server (its extended key usage lacks serverAuth)")
    if not _chains_to(chain, anchors):
        problem("ca", None, "does not issue certificate.cert (nor the last certificate of its chain): nodes could not verify it")
    return OwnCertificate(
        cert_pem=value["cert"].strip() + "\n",
        key_pem=value["key"].strip() + "\n",
        ca_pem=value["ca"].strip() + "\n",
        expires_at=leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
