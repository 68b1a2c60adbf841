"""End to end: the OCI distribution-spec conformance suite against a deployed stack, through TLS and htpasswd.

The suite (built by sandbox/build-conformance.sh) runs all four workflows against a stack with
`deleteEnabled: true`. It never verifies the server certificate itself, so the same test checks the
certificate on its own handshakes. A second stack with the default `deleteEnabled: false` proves
that deletes are refused there (the image's own config enables them; our explicit setting wins).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conformance_report import OTHER, WORKFLOWS, WorkflowResult, parse_junit
from tests.e2e.helpers import REGISTRY_HOST, REPO, Stack, free_port, record, run, throwaway_registry_stack

USER = "conformance"
REFERRERS = "Test content discovery endpoints (listing references) "

# Failures that are Distribution's known gaps, never our configuration: a failure not listed here
# fails the test, and so does a listed one that passes (the list must then shrink). README.md
# "OCI conformance" gives the upstream cause of each.
KNOWN_UPSTREAM_FAILURES: dict[str, set[str]] = {
    "Pull": set(),
    "Push": set(),
    "Content Discovery": {
        # Distribution 3.1 stores a manifest's `subject` but answers its PUT without an `OCI-Subject`
        # header; the suite's setup stops there, before the rest of its referrers are pushed.
        "Setup References setup",
        # Distribution 3.1 has no referrers API: GET /v2/<name>/referrers/<digest> answers 404.
        REFERRERS + "GET request to nonexistent blob should result in empty 200 response",
        REFERRERS + "GET request to existing blob should yield 200",
        REFERRERS + "GET request to existing blob with filter should yield 200",
        # Follows from the setup failure: it deletes the referrers the setup never pushed (404).
        "Teardown References teardown",
    },
    "Content Management": set(),
}


def conformance_binary() -> Path:
    """The cached suite binary (scripts/test.sh builds it before the end-to-end phase; instant then)."""
    built = run(["bash", str(REPO / "sandbox" / "build-conformance.sh")], timeout=1800)
    path = Path(built.stdout.strip().splitlines()[-1])
    assert path.is_file(), path
    return path


def settings(port: int, **extra: Any) -> dict[str, Any]:
    """A stack on the sandbox bridge address (not loopback), one user, no Kubernetes resources."""
    return {
        "hostnames": ["localhost"],
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",
        "port": port,
        "users": [{"name": USER}],
        "pullSecret": {"namespaces": []},
        **extra,
    }


def deploy(stack: Stack) -> tuple[str, str]:
    """Set the user's password, `pulumi up`; returns (password, CA PEM)."""
    password = "pw-" + os.urandom(12).hex()
    stack.set_secret("users[0].password", password)
    stack.up()
    out = stack.outputs()
    configured = out["passwords"] == {USER: password}
    assert configured, "the stack's `passwords` output is not the configured password"  # no diff: it would print it
    return password, out["caCertificate"]


def handshake(host: str, port: int, context: ssl.SSLContext, server_hostname: str) -> dict[str, Any]:
    """The verified peer certificate of one TLS handshake (raises ssl.SSLError when verification fails)."""
    with (
        socket.create_connection((host, port), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=server_hostname) as tls,
    ):
        return tls.getpeercert() or {}


class Registry:
    """A few raw registry API calls over TLS verified against the stack's CA."""

    def __init__(self, endpoint: str, ca_pem: str, user: str, password: str) -> None:
        self.base = f"https://{endpoint}"
        self.context = ssl.create_default_context(cadata=ca_pem)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None, auth: str | None = ""
    ) -> tuple[int, Any, bytes]:
        """(status, headers, body); `auth=None` sends no credentials, "" the user's."""
        request = urllib.request.Request(urllib.parse.urljoin(self.base, url), data=body or None, method=method)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        if auth is not None:
            request.add_header("Authorization", auth or self.auth)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self.call("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, status
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        status, _, body = self.call(
            "PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"}
        )
        assert status == 201, (status, body)
        return digest

    def push_image(self, repo: str, tag: str) -> tuple[str, str]:
        """Pushes a one-layer OCI image; returns the digests of the manifest and the layer."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        layer = os.urandom(64)
        layer_digest = self.push_blob(repo, layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": self.push_blob(repo, config),
                    "size": len(config),
                },
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
            }
        ).encode()
        status, headers, body = self.call(
            "PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        )
        assert status == 201, (status, body)
        digest = headers["Docker-Content-Digest"]
        assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
        return str(digest), layer_digest


def check_certificate_and_auth(endpoint: str, ca_pem: str, password: str) -> None:
    """The suite skips certificate checks: verify the chain and the SAN here, and that /v2/ needs credentials."""
    host, port = endpoint.rsplit(":", 1)
    only_our_ca = ssl.create_default_context(cadata=ca_pem)  # with cadata, no system CAs are loaded
    assert only_our_ca.get_ca_certs() and len(only_our_ca.get_ca_certs()) == 1
    certificate = handshake(host, int(port), only_our_ca, server_hostname=host)
    assert ("IP Address", host) in certificate["subjectAltName"], certificate["subjectAltName"]
    assert certificate["issuer"] != certificate["subject"], "the server certificate must be signed by the CA"
    assert ssl.cert_time_to_seconds(certificate["notAfter"]) > time.time()
    # The same handshake fails with the system trust store, and with a name the SANs do not cover.
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(host, int(port), ssl.create_default_context(), server_hostname=host)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(host, int(port), only_our_ca, server_hostname="not-in-the-sans.invalid")

    registry = Registry(endpoint, ca_pem, USER, password)
    status, headers, _ = registry.call("GET", "/v2/", auth=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic "), (status, dict(headers))
    wrong = "Basic " + base64.b64encode(f"{USER}:not-the-password".encode()).decode()
    assert registry.call("GET", "/v2/", auth=wrong)[0] == 401
    assert registry.call("GET", "/v2/")[0] == 200


def run_suite(binary: Path, endpoint: str, password: str, report_dir: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Runs all four workflows in `report_dir` (the suite writes junit.xml and report.html there)."""
    suffix = os.urandom(3).hex()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OCI_")}
    env.update(
        {
            "OCI_ROOT_URL": f"https://{endpoint}",
            "OCI_NAMESPACE": f"conformance/repo-{suffix}",
            "OCI_CROSSMOUNT_NAMESPACE": f"conformance/crossmount-{suffix}",
            "OCI_USERNAME": USER,
            "OCI_PASSWORD": password,
            "OCI_TEST_PULL": "1",
            "OCI_TEST_PUSH": "1",
            "OCI_TEST_CONTENT_DISCOVERY": "1",
            "OCI_TEST_CONTENT_MANAGEMENT": "1",
            # Distribution starts an upload (202) for `?mount=` without `from`: test that it does not
            # mount on its own.
            "OCI_AUTOMATIC_CROSSMOUNT": "false",
            "OCI_REPORT_DIR": str(report_dir),
            "OCI_DEBUG": "false",
        }
    )
    started = time.perf_counter()
    result = subprocess.run(
        [str(binary), "-ginkgo.no-color"], env=env, cwd=report_dir, capture_output=True, text=True, timeout=900
    )
    return result, time.perf_counter() - started


def test_conformance_all_workflows_through_tls_and_htpasswd(workdir: Path) -> None:
    binary = conformance_binary()
    port = free_port()
    with throwaway_registry_stack(workdir / "conformance", "e2e-conformance", settings(port, deleteEnabled=True)) as stack:
        password, ca_pem = deploy(stack)
        endpoint = f"{REGISTRY_HOST}:{port}"
        check_certificate_and_auth(endpoint, ca_pem, password)

        report_dir = workdir / "conformance-report"
        report_dir.mkdir()
        result, seconds = run_suite(binary, endpoint, password, report_dir)

    secrets = (password, base64.b64encode(f"{USER}:{password}".encode()).decode())
    # The suite's report.html logs each request's headers, the Basic credentials among them.
    report_html = report_dir / "report.html"
    if report_html.exists():  # bytes: it also holds the raw bodies of the pushed layers
        content = report_html.read_bytes()
        for secret in secrets:
            content = content.replace(secret.encode(), b"*****")
        report_html.write_bytes(content)
    artefacts = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    artefacts |= {p.name: p.read_bytes() for p in report_dir.iterdir() if p.is_file()}
    assert "junit.xml" in artefacts, f"no junit.xml; exit {result.returncode}\n{scrub(result.stderr[-3000:], secrets)}"
    leaked = [name for name, data in artefacts.items() for secret in secrets if secret.encode() in data]
    assert not leaked, f"the password appears in the suite's {leaked}"

    results = parse_junit(artefacts["junit.xml"].decode())
    record(f"OCI conformance suite run: {seconds:.1f} s (exit {result.returncode})")
    for workflow in WORKFLOWS:
        record(f"OCI conformance, {results[workflow].line(workflow)}")
        print(f"OCI conformance, {results[workflow].line(workflow)}")
    details = "\n".join(
        f"{workflow} / {name}: {scrub(results[workflow].messages[name][:600], secrets)}"
        for workflow in (*WORKFLOWS, OTHER)
        for name in results[workflow].failures
    )
    assert results[OTHER].failed == 0, details
    for workflow in WORKFLOWS:
        outcome: WorkflowResult = results[workflow]
        assert outcome.passed > 0, f"{workflow}: no spec ran ({outcome.line(workflow)})"
        unexpected = set(outcome.failures) - KNOWN_UPSTREAM_FAILURES[workflow]
        assert not unexpected, f"{workflow}: failures outside the upstream allow-list:\n{details}"
        assert set(outcome.failures) == KNOWN_UPSTREAM_FAILURES[workflow], (
            f"{workflow}: allow-listed failures that now pass: {KNOWN_UPSTREAM_FAILURES[workflow] - set(outcome.failures)}"
        )
    # The suite exits non-zero exactly when some spec failed.
    assert (result.returncode != 0) == any(results[w].failed for w in WORKFLOWS)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "*****")
    return text


def test_deletes_are_refused_when_delete_is_not_enabled(workdir: Path) -> None:
    port = free_port()
    with throwaway_registry_stack(workdir / "no-delete", "e2e-no-delete", settings(port)) as stack:
        password, ca_pem = deploy(stack)
        registry = Registry(f"{REGISTRY_HOST}:{port}", ca_pem, USER, password)
        repo = "e2e/no-delete"
        digest, layer = registry.push_image(repo, "v1")

        for target in (f"manifests/{digest}", "manifests/v1", f"blobs/{layer}"):
            status, _, body = registry.call("DELETE", f"/v2/{repo}/{target}")
            assert status == 405, (target, status, body)
            assert [e["code"] for e in json.loads(body)["errors"]] == ["UNSUPPORTED"], (target, body)
        # Everything is still there.
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        assert registry.call("GET", f"/v2/{repo}/manifests/{digest}", headers=accept)[0] == 200
        assert registry.call("GET", f"/v2/{repo}/manifests/v1", headers=accept)[0] == 200
        assert registry.call("HEAD", f"/v2/{repo}/blobs/{layer}")[0] == 200
