"""Unit and program tests: setting `certificate`, your own certificate instead of the stack's CA."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.settings import SettingsError, load_settings
from tests.certs import issue, own_certificate_setting
from tests.program_harness import evaluate

CA = issue("Example Root CA", ca=True)
SERVER = issue("registry.example.com", CA, dns=("registry.example.com", "*.registry.example.com"), ips=("10.0.0.5",))
GOOD = own_certificate_setting(SERVER, ca=CA)
BASE: dict[str, Any] = {"hostnames": ["registry.example.com"], "ipAddresses": [], "certificate": GOOD}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev", secret_keys=frozenset({"certificate"}))
    return list(caught.value.problems)


def test_a_good_certificate_is_taken_with_its_expiry() -> None:
    s = load_settings(BASE, "dev")
    assert s.own_certificate is not None and s.own_certificate.ca_pem == CA.cert_pem
    assert s.own_certificate.expires_at == SERVER.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert s.endpoint == "registry.example.com:5000"
    # A wildcard SAN and an IP SAN cover other endpoints; an intermediate in the chain is followed.
    assert load_settings({**BASE, "endpoint": "eu.registry.example.com:443"}, "dev").own_certificate
    assert load_settings({**BASE, "endpoint": "10.0.0.5:5000"}, "dev").own_certificate
    middle = issue("Example Issuing CA", CA, ca=True)
    leaf = issue("registry.example.com", middle, dns=("registry.example.com",))
    assert load_settings({**BASE, "certificate": own_certificate_setting(leaf, middle, ca=CA)}, "dev").own_certificate
    assert load_settings({}, "dev").own_certificate is None
    # An empty `certificate` is the stack's CA: the endpoint is checked against its SANs as without it.
    empty = problems({"certificate": {}, "endpoint": "registry.example.com:5000"})
    assert [p for p in empty if p.startswith("private-registry:endpoint = 'registry.example.com:5000': host")], empty


@pytest.mark.parametrize(
    ("certificate", "expected"),
    [
        ({**GOOD, "key": issue("other", CA, dns=("x",)).key_pem}, "certificate.key = <secret"),
        (own_certificate_setting(issue("r", CA, dns=("registry.example.com",), days=(-30, -1)), ca=CA), "is not valid now"),
        (own_certificate_setting(issue("r", CA, dns=("other.example.com",)), ca=CA), "does not cover the endpoint's host"),
        ({**GOOD, "ca": issue("Another CA", ca=True).cert_pem}, "does not issue certificate.cert"),
        (
            own_certificate_setting(issue("r", CA, dns=("registry.example.com",), usage=ExtendedKeyUsageOID.CLIENT_AUTH), ca=CA),
            "its extended key usage lacks serverAuth",
        ),
        ({**GOOD, "cert": "not a certificate"}, "certificate.cert = <secret: null>: is required: PEM text"),
        ({**GOOD, "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "must be an unencrypted PEM"),
        ({"cert": GOOD["cert"]}, "certificate.key = <secret: null>: is required"),
        ({**GOOD, "chain": "x"}, "certificate = <secret"),
    ],
)
def test_a_bad_certificate_is_refused_naming_the_part_and_never_showing_it(certificate: dict[str, Any], expected: str) -> None:
    found = problems({**BASE, "certificate": certificate})
    assert [p for p in found if expected in p], found
    assert not any("BEGIN" in p for p in found), found


def test_the_generated_certificate_settings_are_refused_beside_your_own() -> None:
    found = problems({**BASE, "validityDays": 90, "keyAlgorithm": "ECDSA"})
    assert found == [
        "private-registry:keyAlgorithm = 'ECDSA': is not used with certificate: your own certificate sets it; remove the setting",
        "private-registry:validityDays = 90: is not used with certificate: your own certificate sets it; remove the setting",
    ]
    assert load_settings({**BASE, "validityDays": 365}, "dev").own_certificate  # the declared default arrives as a value


def test_the_program_issues_nothing_and_serves_your_certificate() -> None:
    run = evaluate(BASE, secret_keys=["private-registry:certificate"])
    assert not [r for r in run.registrations if r.type.startswith("tls:")]
    assert run.outputs["caCertificate"] == CA.cert_pem
    assert run.outputs["certificateExpiresAt"] == SERVER.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    files = run.one("pulumi-python:dynamic/private-registry:ConfigFiles")
    assert files.inputs["files"]["certs/tls.crt"]["content"] == SERVER.cert_pem
    assert "files" in files.secret_inputs  # the key among them
