"""RegistryTls with a settable renewal window (hours), for tests/e2e/test_renewal.py."""

import sys
from pathlib import Path

import pulumi

sys.path.insert(0, str(Path.cwd() / "program"))

from components.model import Subject
from components.tls import RegistryTls, RegistryTlsArgs

config = pulumi.Config()
tls = RegistryTls(
    "check",
    RegistryTlsArgs(
        hostnames=["localhost"],
        ip_addresses=["127.0.0.1"],
        subject=Subject(common_name="localhost"),
        stack="renewal-check",
        key_algorithm="ECDSA",
        rsa_bits=2048,
        ecdsa_curve="P256",
        validity_hours=config.require_int("validityHours"),
        ca_validity_hours=24 * 30,
        early_renewal_hours=config.require_int("earlyRenewalHours"),
    ),
)
pulumi.export("certPem", tls.cert_pem)
pulumi.export("expiresAt", tls.expires_at)
