"""End to end on the sandbox: setting `certificate`, the registry on a certificate of your own PKI.

A running stack on the generated CA holds an image; then it moves to a certificate issued by another
CA (with an intermediate, the chain served by the registry): the image stays, clients verify against
the given CA and no longer against the old one, the outputs carry the given CA and the certificate's
expiry, no part of the private key is in the state or anything the CLI printed, and a second run
changes nothing. A certificate that does not cover the endpoint stops `preview` naming the setting.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tests.certs import issue
from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import throwaway_registry_stack


def test_a_running_stack_moves_to_its_own_certificate(workdir: Path) -> None:
    root = issue("E2E Root CA", ca=True)
    middle = issue("E2E Issuing CA", root, ca=True)
    server = issue("registry", middle, dns=("localhost",), ips=("127.0.0.1",))
    with throwaway_registry_stack(workdir / "own", "e2e-own-cert", {"users": [{"name": "ci"}]}) as s:
        s.up()
        before: dict[str, Any] = s.outputs()
        old = RegistryClient(before["endpoint"], before["caCertificate"], "ci", before["passwords"]["ci"])
        image = old.push_image("team/kept", "1")
        s.set_secret("certificate.cert", server.cert_pem + middle.cert_pem)
        s.set_secret("certificate.key", server.key_pem)
        s.set_secret("certificate.ca", root.cert_pem)
        preview = s.pulumi("preview", "--diff").stdout
        assert "registry-tls-ca-cert" in preview and "delete" in preview, preview  # the generated CA goes
        s.up()
        after: dict[str, Any] = s.outputs()
        assert after["caCertificate"].strip() == root.cert_pem.strip()
        assert after["certificateExpiresAt"] == server.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert after["passwords"]["ci"] == before["passwords"]["ci"]
        RegistryClient(after["endpoint"], root.cert_pem, "ci", after["passwords"]["ci"]).assert_image("team/kept", "1", image)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # the old CA no longer verifies it
            old.request("GET", "/v2/")
        s.pulumi("preview", "--expect-no-changes")
        key_body = "".join(server.key_pem.splitlines()[1:-1])
        assert key_body not in s.state_text() and key_body not in "\n".join(s.transcript)
        # A certificate that does not cover the endpoint: refused before anything changes.
        other = issue("registry", middle, dns=("registry.example.com",))
        s.set_secret("certificate.cert", other.cert_pem + middle.cert_pem)
        s.set_secret("certificate.key", other.key_pem)
        failed = s.pulumi("preview", check=False)
        assert failed.returncode != 0
        message = "private-registry:certificate.cert = <secret: null>: does not cover the endpoint's host localhost"
        assert message in failed.stdout + failed.stderr, failed.stdout[-2000:]
