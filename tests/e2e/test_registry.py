"""End to end: `pulumi up` of a test stack, then the seed's checks with real clients, using only outputs.

The tests run in file order against one stack: up, use, no-op preview, password change, destroy.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CERTS_D, REGISTRY_HOST, REGISTRY_IMAGE, SANDBOX_CLUSTER, TEST_IMAGE, Stack, free_port, record, run
from tests.e2e.faults import OutageProbe, RegistryClient, wait_until

NAMESPACES = ["default", "e2e-apps"]


def htpasswd_lines(container: str) -> dict[str, str]:
    """The htpasswd file inside the running registry container, user -> line."""
    text = run(["docker", "exec", container, "cat", "/etc/distribution/auth/htpasswd"]).stdout
    return {line.split(":", 1)[0]: line for line in text.splitlines()}


def kubectl(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(["kubectl", *args], **kw)


class Deployment:
    """The deployed test stack and what the tests learn about it."""

    def __init__(self, stack: Stack, port: int, volume: str, container: str) -> None:
        self.stack = stack
        self.port = port
        self.volume = volume
        self.container = container
        self.outputs: dict[str, Any] = {}
        self.docker_config = stack.workdir / "docker-config"
        self.docker_config.mkdir(exist_ok=True)
        self.image_ref = ""

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["docker", "--config", str(self.docker_config), *args], check=check)

    def refresh_outputs(self) -> dict[str, Any]:
        self.outputs = self.stack.outputs()
        return self.outputs


@pytest.fixture(scope="module")
def deployment(workdir: Path) -> Iterator[Deployment]:
    port = free_port()
    suffix = os.urandom(3).hex()
    stack = Stack(workdir, "e2e")
    dep = Deployment(stack, port, volume=f"registry-data-e2e-{suffix}", container=f"registry-e2e-{suffix}")
    kubectl("create", "namespace", "e2e-apps", check=False)
    stack.init(
        {
            "hostnames": ["localhost"],
            "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
            "endpoint": f"{REGISTRY_HOST}:{port}",
            "users": [{"name": "admin"}, {"name": "ci"}, {"name": "reader"}],  # reader: generated password
            "image": REGISTRY_IMAGE,
            "pullImage": False,
            "port": port,
            "containerName": dep.container,
            "dataVolume": dep.volume,
            # A name of its own: another stack on the same cluster (the dev stack) owns the default one.
            "pullSecret": {"name": f"e2e-pull-{suffix}", "namespaces": NAMESPACES, "patchDefaultServiceAccount": True},
            "subject": {"organization": "e2e"},
            "localRegistryHosting": False,  # tests/e2e/test_cluster_pull.py owns it on the sandbox cluster
            **SANDBOX_CLUSTER,
        }
    )
    stack.set_secret("users[0].password", "admin-" + os.urandom(8).hex())
    stack.set_secret("users[1].password", "ci-" + os.urandom(8).hex())
    ca_dir = CERTS_D / f"{REGISTRY_HOST}:{port}"
    try:
        yield dep
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", dep.container], check=False)
        run(["docker", "volume", "rm", dep.volume], check=False)
        subprocess.run(["rm", "-rf", str(ca_dir)], check=False)


def test_up_creates_a_healthy_registry(deployment: Deployment) -> None:
    seconds = deployment.stack.up()
    record(f"pulumi up (create): {seconds:.1f} s")
    out = deployment.refresh_outputs()
    assert out["endpoint"] == f"{REGISTRY_HOST}:{deployment.port}"
    assert out["containerName"] == deployment.container and out["dataVolume"] == deployment.volume
    state = run(["docker", "inspect", "-f", "{{.State.Health.Status}} {{.HostConfig.RestartPolicy.Name}}", deployment.container])
    assert state.stdout.split() == ["healthy", "always"]


def test_tls_verifies_against_the_ca_and_v2_needs_credentials(deployment: Deployment) -> None:
    out = deployment.outputs
    context = ssl.create_default_context(cadata=out["caCertificate"])
    url = f"https://{out['endpoint']}/v2/"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, context=context, timeout=10)
    assert refused.value.code == 401
    for user, password in out["passwords"].items():
        request = urllib.request.Request(
            url, headers={"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            assert response.status == 200
    # The same name with an untrusted CA fails the handshake: the check above really verified.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10)


def test_docker_login_push_pull_run(deployment: Deployment) -> None:
    out = deployment.outputs
    untrusted = run(["docker", "--config", str(deployment.stack.workdir / "untrusted"), "login", out["endpoint"], "-u", "admin",
                     "--password-stdin"], input=out["passwords"]["admin"], check=False)  # fmt: skip
    assert untrusted.returncode != 0 and "x509" in untrusted.stderr, "docker must refuse the registry before the CA is installed"
    ca_dir = CERTS_D / out["endpoint"]
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.crt").write_text(out["caCertificate"])
    endpoint = out["endpoint"]
    for user, password in out["passwords"].items():
        login = run(
            ["docker", "--config", str(deployment.docker_config), "login", endpoint, "-u", user, "--password-stdin"],
            input=password,
        )
        assert "Login Succeeded" in login.stdout
    deployment.image_ref = f"{endpoint}/e2e/busybox:1"
    deployment.docker("tag", TEST_IMAGE, deployment.image_ref)
    deployment.docker("push", deployment.image_ref)
    deployment.docker("rmi", deployment.image_ref)
    deployment.docker("pull", deployment.image_ref)
    ran = deployment.docker("run", "--rm", deployment.image_ref, "echo", "hello from the private registry")
    assert ran.stdout.strip() == "hello from the private registry"


def test_wrong_password_is_refused(deployment: Deployment) -> None:
    endpoint = deployment.outputs["endpoint"]
    wrong = run(
        ["docker", "--config", str(deployment.stack.workdir / "wrong"), "login", endpoint, "-u", "admin", "--password-stdin"],
        input="not-the-password",
        check=False,
    )
    assert wrong.returncode != 0 and "unauthorized" in (wrong.stdout + wrong.stderr).lower()


def test_pull_secret_from_the_api_server_pulls_the_image(deployment: Deployment) -> None:
    out = deployment.outputs
    for namespace in NAMESPACES:
        secret = json.loads(kubectl("get", "secret", out["pullSecretName"], "-n", namespace, "-o", "json").stdout)
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        annotations = secret["metadata"].get("annotations", {})
        assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations
        document = base64.b64decode(secret["data"][".dockerconfigjson"])
        sa = json.loads(kubectl("get", "serviceaccount", "default", "-n", namespace, "-o", "json").stdout)
        assert {"name": out["pullSecretName"]} in sa.get("imagePullSecrets", [])
    auth = json.loads(document)["auths"][out["endpoint"]]
    matches = base64.b64decode(auth["auth"]).decode() == f"admin:{out['passwords']['admin']}"
    assert matches, "the pull secret's auth is not admin's user:password"  # a bool: no secret in the report
    authfile = deployment.stack.workdir / "authfile.json"
    authfile.write_bytes(document)
    certs = deployment.stack.workdir / "skopeo-certs"
    certs.mkdir(exist_ok=True)
    (certs / "ca.crt").write_text(out["caCertificate"])
    target = deployment.stack.workdir / "pulled"
    run(
        [
            "skopeo",
            "copy",
            "--authfile",
            str(authfile),
            "--src-cert-dir",
            str(certs),
            f"docker://{deployment.image_ref}",
            f"dir:{target}",
        ]
    )
    assert (target / "manifest.json").exists()


def test_preview_right_after_up_shows_no_changes(deployment: Deployment) -> None:
    started = time.perf_counter()
    deployment.stack.pulumi("preview", "--expect-no-changes")
    record(f"pulumi preview (no changes): {time.perf_counter() - started:.1f} s")


def test_password_change_touches_only_what_depends_on_it(deployment: Deployment) -> None:
    stack = deployment.stack
    before = deployment.outputs
    old_container = run(["docker", "inspect", "-f", "{{.Id}}", deployment.container]).stdout.strip()
    old_lines = htpasswd_lines(deployment.container)
    stack.set_secret("users[1].password", "ci-" + os.urandom(8).hex())
    steps = stack.preview_steps()
    changed = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps}
    touched = {name for _, name in changed}
    assert touched == {"registry-users-file", "registry-registry-container"}, changed
    assert ("update", "registry-users-file") in changed
    assert any(
        op in ("replace", "delete-replaced", "create-replacement")
        for op, name in changed
        if name == "registry-registry-container"
    )
    started = time.perf_counter()
    admin = RegistryClient(before["endpoint"], before["caCertificate"], "admin", before["passwords"]["admin"])
    with OutageProbe(admin) as probe:
        stack.up()
        wait_until(lambda: probe.down_since is None, 30, "the probe sees the new container answer")
    record(f"pulumi up (password change, container replaced): {time.perf_counter() - started:.1f} s")
    record(f"registry unavailable during the container replacement: {probe.longest:.1f} s (longest gap)")
    assert probe.longest > 0, "the replacement must have been observed by the probe"
    after = deployment.refresh_outputs()
    # Booleans, so that a failing assert prints no password.
    kept = [after["passwords"][u] == before["passwords"][u] for u in ("admin", "reader", "ci")]
    assert kept == [True, True, False], "only ci's password may change (admin, reader, ci)"
    assert after["caCertificate"] == before["caCertificate"]
    new_container = run(["docker", "inspect", "-f", "{{.Id}}", deployment.container]).stdout.strip()
    assert new_container != old_container
    new_lines = htpasswd_lines(deployment.container)
    assert new_lines["admin"] == old_lines["admin"] and new_lines["reader"] == old_lines["reader"]
    assert new_lines["ci"] != old_lines["ci"]
    # The image pushed before the replacement is still there: the named volume survived.
    deployment.docker("rmi", deployment.image_ref, check=False)
    deployment.docker("pull", deployment.image_ref)
    stack.pulumi("preview", "--expect-no-changes")


def test_namespace_change_touches_only_kubernetes(deployment: Deployment) -> None:
    kubectl("create", "namespace", "e2e-more", check=False)
    name = deployment.outputs["pullSecretName"]
    deployment.stack.configure(
        {"pullSecret": {"name": name, "namespaces": [*NAMESPACES, "e2e-more"], "patchDefaultServiceAccount": True}}
    )
    steps = deployment.stack.preview_steps()
    types = {s["urn"].split("::")[-2].rsplit("$", 1)[-1] for s in steps}
    assert types == {"kubernetes:core/v1:Secret", "kubernetes:core/v1:ServiceAccountPatch"}, steps
    deployment.stack.up()
    kubectl("get", "secret", deployment.outputs["pullSecretName"], "-n", "e2e-more")


def test_state_and_cli_output_hold_no_plaintext_secret(deployment: Deployment) -> None:
    out = deployment.refresh_outputs()
    state = deployment.stack.state_text()
    transcript = "\n".join(deployment.stack.transcript)
    http_secret = next(
        e.split("=", 1)[1]
        for e in json.loads(run(["docker", "inspect", deployment.container]).stdout)[0]["Config"]["Env"]
        if e.startswith("REGISTRY_HTTP_SECRET=")
    )
    secrets = [*out["passwords"].values(), http_secret, out["dockerConfigJson"]]
    secrets += [json.loads(out["dockerConfigJson"])["auths"][out["endpoint"]]["auth"]]
    for text, where in ((state, "state"), (transcript, "CLI output")):
        for value in secrets:
            leaked = value in text  # a bool: the report must not print the value
            assert not leaked, f"a secret value appears in plaintext in the {where}"
        assert "PRIVATE KEY-----" not in text, f"a private key appears in plaintext in the {where}"
    record(f"state file checked: {len(state)} bytes, CLI transcript {len(transcript)} bytes, {len(secrets)} secret values")


def test_destroy_removes_container_and_secrets_and_keeps_the_volume(deployment: Deployment) -> None:
    started = time.perf_counter()
    deployment.stack.pulumi("destroy", "--yes")
    record(f"pulumi destroy: {time.perf_counter() - started:.1f} s")
    assert run(["docker", "inspect", deployment.container], check=False).returncode != 0
    for namespace in NAMESPACES:
        gone = kubectl("get", "secret", deployment.outputs["pullSecretName"], "-n", namespace, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
    volumes = run(["docker", "volume", "ls", "-q"]).stdout.split()
    assert deployment.volume in volumes
