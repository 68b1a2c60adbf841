"""Unit and program tests: setting `certificate`, your own certificate instead of the stack's CA, as PEM
text or from a `kubernetes.io/tls` Secret (`certificate.secretName`)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any, ClassVar

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from pulumi.runtime.mocks import MockResourceArgs

from components.certificate_secret import HASH_KEY_BYTES, CertificateSecretError
from components.model import SettingsError
from components.own_certificate import TLS_SECRET_TYPE, check_tls_secret, roll_hash
from components.settings import load_settings
from tests import program_harness
from tests.certs import Issued, issue, own_certificate_setting
from tests.program_harness import ProgramRun, RecordingMonitor, RegistryMocks, evaluate

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


# --- certificate.secretName: an existing kubernetes.io/tls Secret (cert-manager's) -----------------

KUBE: dict[str, Any] = {
    "target": "kubernetes",
    "hostnames": ["registry.example.com"],
    "ipAddresses": [],
    "replicas": 2,
    "storage": {"driver": "s3", "bucket": "images"},
    "kubernetes": {"context": "prod"},
    "certificate": {"secretName": "registry-cert"},
}
NOW = datetime.datetime.now(datetime.UTC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tls_data(server: Issued, *chain: Issued, ca: Issued | None = CA, key: Issued | None = None) -> dict[str, str]:
    """A Secret's `data` as cert-manager writes it: tls.crt (leaf, then chain), tls.key, ca.crt."""
    data = {"tls.crt": b64(server.cert_pem + "".join(c.cert_pem for c in chain)), "tls.key": b64((key or server).key_pem)}
    return data | ({"ca.crt": b64(ca.cert_pem)} if ca else {})


def test_a_secret_name_is_taken_on_target_kubernetes_and_nothing_else_is() -> None:
    s = load_settings(KUBE, "dev")
    assert s.certificate_secret == "registry-cert" and s.own_certificate is None
    assert s.endpoint == "registry.example.com:30500"  # the SANs are checked when up reads the Secret


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"certificate": {"secretName": "registry-cert", **GOOD}},
            "private-registry:certificate = <secret: null>: has both secretName and ca, cert, key: certificate.secretName "
            "(a kubernetes.io/tls Secret) and certificate.cert/key/ca (PEM text) are two ways to give your own certificate; "
            "keep one",
        ),
        ({"certificate": {"secretName": "Not_A_Name"}}, "certificate.secretName = <secret: null>: must be the name of a Secret"),
        ({"certificate": {"secretName": "x", "namespace": "y"}}, "with secretName takes no other key (unknown: namespace)"),
        ({"target": "docker", "replicas": None, "storage": None}, "needs target = kubernetes and kubernetes.mode = cluster"),
        ({"kubernetes": {"mode": "render"}}, "(not target kubernetes, mode render)"),
        ({"validityDays": 90}, "validityDays = 90: is not used with certificate"),
    ],
)
def test_a_secret_name_is_refused_where_it_cannot_work(change: dict[str, Any], expected: str) -> None:
    raw = {k: v for k, v in {**KUBE, **change}.items() if v is not None}
    found = problems(raw)
    assert [p for p in found if expected in p], found


def test_the_secrets_certificate_is_checked_as_the_pem_form_is() -> None:
    middle = issue("Issuing CA", CA, ca=True)
    leaf = issue("registry.example.com", middle, dns=("registry.example.com",))
    got, found = check_tls_secret(TLS_SECRET_TYPE, tls_data(leaf, middle), "registry.example.com", NOW)
    assert found == [] and got is not None
    assert got.ca_pem == CA.cert_pem and got.has_ca and got.cert_pem == leaf.cert_pem + middle.cert_pem
    assert got.expires_at == leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Without ca.crt (an ACME issuer): what clients must trust is the last certificate of tls.crt.
    got, found = check_tls_secret(TLS_SECRET_TYPE, tls_data(leaf, middle, ca=None), "registry.example.com", NOW)
    assert found == [] and got is not None and got.ca_pem == middle.cert_pem and not got.has_ca


@pytest.mark.parametrize(
    ("secret_type", "data", "expected"),
    [
        ("Opaque", tls_data(SERVER), "is of type Opaque, not kubernetes.io/tls"),
        (TLS_SECRET_TYPE, {}, "tls.crt: is missing or not PEM certificate(s)"),
        (TLS_SECRET_TYPE, {**tls_data(SERVER), "tls.key": "not base64!"}, "tls.key: is missing or not an unencrypted PEM"),
        (TLS_SECRET_TYPE, tls_data(SERVER, key=issue("x", CA, dns=("x",))), "tls.key: is not the private key of tls.crt"),
        (TLS_SECRET_TYPE, tls_data(issue("r", CA, dns=("other.example.com",))), "tls.crt: does not cover the endpoint's host"),
        (TLS_SECRET_TYPE, tls_data(issue("r", CA, dns=("registry.example.com",), days=(-9, -1))), "tls.crt: is not valid now"),
        (TLS_SECRET_TYPE, tls_data(SERVER, ca=issue("Another CA", ca=True)), "ca.crt: does not issue tls.crt"),
        (TLS_SECRET_TYPE, {**tls_data(SERVER), "ca.crt": b64("junk")}, "ca.crt: is not PEM certificate(s)"),
    ],
)
def test_a_bad_secret_is_refused_naming_its_key_and_never_showing_it(
    secret_type: str, data: dict[str, str], expected: str
) -> None:
    got, found = check_tls_secret(secret_type, data, "registry.example.com", NOW)
    assert got is None and [p for p in found if expected in p], found
    assert not any("BEGIN" in p or "MI" in p for p in found), found


def test_the_roll_hash_is_keyed_and_follows_the_certificates_only() -> None:
    first = roll_hash("stack-secret", SERVER.cert_pem, CA.cert_pem)
    assert first == roll_hash("stack-secret", SERVER.cert_pem, CA.cert_pem)  # stable: no roll without a change
    assert first != roll_hash("stack-secret", issue("registry.example.com", CA, dns=("r",)).cert_pem, CA.cert_pem)
    assert first != roll_hash("stack-secret", SERVER.cert_pem, issue("Other", ca=True).cert_pem)
    assert first != roll_hash("another-stack", SERVER.cert_pem, CA.cert_pem)  # keyed: not a bare hash
    assert first != hashlib.sha256(f"{SERVER.cert_pem}\0{CA.cert_pem}".encode()).hexdigest()


class SecretMocks(RegistryMocks):
    """The mocks, answering the read of the named Secret with `data`, and a fixed hash key."""

    data: ClassVar[dict[str, str]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "kubernetes:core/v1:Secret" and args.resource_id:
            return args.resource_id, {"type": TLS_SECRET_TYPE, "data": dict(self.data), "metadata": {"name": "registry-cert"}}
        if args.name.endswith("-certificate-hash-key"):
            return "hash-key-id", {"length": HASH_KEY_BYTES, "value": "a-stack-secret"}
        return super().new_resource(args)


class ReadRecorder(RecordingMonitor):
    reads: ClassVar[list[Any]] = []

    def ReadResource(self, request: Any) -> Any:
        ReadRecorder.reads.append(request)
        return super().ReadResource(request)


def evaluate_with_secret(monkeypatch: pytest.MonkeyPatch, data: dict[str, str], **kw: Any) -> ProgramRun:
    monkeypatch.setattr(SecretMocks, "data", data)
    monkeypatch.setattr(program_harness, "RegistryMocks", SecretMocks)
    monkeypatch.setattr(program_harness, "RecordingMonitor", ReadRecorder)
    ReadRecorder.reads = []
    return evaluate(KUBE, **kw)


def tls_annotation(run: ProgramRun) -> str:
    template = run.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]
    return str(template["metadata"]["annotations"]["private-registry/tls-sha256"])


def test_the_program_mounts_the_named_secret_and_rolls_when_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    run = evaluate_with_secret(monkeypatch, tls_data(SERVER))
    spec = run.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "registry-cert", "defaultMode": 0o440}} in spec["volumes"]
    # Nothing issued, no copy of the key in a Secret of the stack's: only the env Secret and the pull secret.
    assert not [r for r in run.registrations if r.type.startswith("tls:")]
    assert sorted(r.inputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Secret")) == [
        "registry-auth",
        "registry-env",
        "registry-pull-secret",
    ]
    (read,) = ReadRecorder.reads
    assert (
        read.id == "registry-dev/registry-cert"
        and read.provider == run.one("pulumi:providers:kubernetes").urn + "::registry-k8s-id"
    )
    assert {"data", "stringData", "metadata"} <= set(read.additionalSecretOutputs)
    assert run.outputs["caCertificate"] == CA.cert_pem
    assert run.outputs["certificateExpiresAt"] == SERVER.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    key_body = "".join(SERVER.key_pem.splitlines()[1:-1])
    assert key_body not in json.dumps(run.outputs) and not {"caCertificate", "certificateExpiresAt"} & run.secret_outputs
    assert tls_annotation(run) == roll_hash("a-stack-secret", SERVER.cert_pem, CA.cert_pem)
    # The same Secret again: the same annotation (no roll); a renewed certificate: another one (a roll).
    assert tls_annotation(evaluate_with_secret(monkeypatch, tls_data(SERVER))) == tls_annotation(run)
    renewed = issue("registry.example.com", CA, dns=("registry.example.com",))
    assert tls_annotation(evaluate_with_secret(monkeypatch, tls_data(renewed))) != tls_annotation(run)


def test_the_program_stops_on_a_secret_that_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = issue("r", CA, dns=("other.example.com",))
    with pytest.raises(CertificateSecretError) as caught:
        evaluate_with_secret(monkeypatch, tls_data(wrong))
    message = str(caught.value)
    assert message.startswith("private-registry:certificate.secretName: Secret registry-dev/registry-cert tls.crt: does not")
    assert "BEGIN" not in message
