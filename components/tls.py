"""The registry's PKI: a self-signed CA and a server certificate it signs (pulumi-tls).

Nodes and clients trust the CA once; the server certificate can then be renewed or re-issued for
new names without touching any node. With your own certificate (setting `certificate`, validated
by `own_certificate.py`) nothing is issued: the component passes it on, key as a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
from pulumi_tls import (
    CertRequest,
    CertRequestSubjectArgs,
    LocallySignedCert,
    PrivateKey,
    SelfSignedCert,
    SelfSignedCertSubjectArgs,
)

from .model import Subject
from .own_certificate import OwnCertificate

SERVER_USES = ["server_auth", "digital_signature", "key_encipherment"]
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]


def private_key_inputs(algorithm: str, rsa_bits: int, ecdsa_curve: str) -> dict[str, Any]:
    """pulumi-tls PrivateKey inputs; the ECDSA curve is always explicit (the default P224 is unusable)."""
    if algorithm == "ECDSA":
        return {"algorithm": "ECDSA", "ecdsa_curve": ecdsa_curve}
    return {"algorithm": "RSA", "rsa_bits": rsa_bits}


def subject_inputs(subject: Subject) -> dict[str, str]:
    """The subject as pulumi-tls keyword arguments, leaving out empty fields."""
    fields = {
        "common_name": subject.common_name,
        "organization": subject.organization,
        "organizational_unit": subject.organizational_unit,
        "locality": subject.locality,
        "province": subject.province,
        "country": subject.country,
    }
    return {k: v for k, v in fields.items() if v}


def ca_subject_for(server: Subject, stack: str) -> Subject:
    """The CA's subject: the server's organisation, a CN of its own (issuer != subject for OpenSSL)."""
    return replace(server, common_name=f"private-registry {stack} CA"[:64])


@dataclass(frozen=True)
class RegistryTlsArgs:
    """Names, subject, key type and lifetimes (in hours) of the CA and server certificates."""

    hostnames: Sequence[str]
    ip_addresses: Sequence[str]
    subject: Subject
    stack: str  # names the CA: `private-registry <stack> CA`
    key_algorithm: str
    rsa_bits: int
    ecdsa_curve: str
    validity_hours: int
    ca_validity_hours: int
    early_renewal_hours: int
    own: OwnCertificate | None = None  # yours instead of an issued one


class RegistryTls(pulumi.ComponentResource):
    """CA key and certificate, server key, request and CA-signed server certificate."""

    ca_cert_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    expires_at: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryTlsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:RegistryTls", name, None, opts)
        if args.own is not None:
            self._own(args.own)
            return
        child = pulumi.ResourceOptions(parent=self)
        key_inputs = private_key_inputs(args.key_algorithm, args.rsa_bits, args.ecdsa_curve)

        ca_key = PrivateKey(f"{name}-ca-key", **key_inputs, opts=child)
        ca_cert = SelfSignedCert(
            f"{name}-ca-cert",
            private_key_pem=ca_key.private_key_pem,
            subject=SelfSignedCertSubjectArgs(**subject_inputs(ca_subject_for(args.subject, args.stack))),
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=CA_USES,
            validity_period_hours=args.ca_validity_hours,
            opts=child,
        )
        server_key = PrivateKey(f"{name}-server-key", **key_inputs, opts=child)
        request = CertRequest(
            f"{name}-server-csr",
            private_key_pem=server_key.private_key_pem,
            subject=CertRequestSubjectArgs(**subject_inputs(args.subject)),
            dns_names=list(args.hostnames),
            ip_addresses=list(args.ip_addresses),
            opts=child,
        )
        server_cert = LocallySignedCert(
            f"{name}-server-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca_cert.cert_pem,
            allowed_uses=SERVER_USES,
            validity_period_hours=args.validity_hours,
            early_renewal_hours=args.early_renewal_hours,
            set_subject_key_id=True,
            opts=child,
        )

        self.ca_cert_pem = ca_cert.cert_pem
        self.cert_pem = server_cert.cert_pem
        self.private_key_pem = pulumi.Output.secret(server_key.private_key_pem)
        self.expires_at = server_cert.validity_end_time
        self._register()

    def _own(self, own: OwnCertificate) -> None:
        self.ca_cert_pem = pulumi.Output.from_input(own.ca_pem)
        self.cert_pem = pulumi.Output.from_input(own.cert_pem)
        self.private_key_pem = pulumi.Output.secret(own.key_pem)
        self.expires_at = pulumi.Output.from_input(own.expires_at)
        self._register()

    def _register(self) -> None:
        self.register_outputs(
            {
                "caCertPem": self.ca_cert_pem,
                "certPem": self.cert_pem,
                "privateKeyPem": self.private_key_pem,
                "expiresAt": self.expires_at,
            }
        )
