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

from tests.e2e.faults import OutageProbe, RegistryClient, container_id
from tests.e2e.helpers import CERTS_D, REGISTRY_HOST, REGISTRY_IMAGE, SANDBOX_CLUSTER, TEST_IMAGE, Stack, free_port, record, run

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
            "pullSecret": {
                "name": f"e2e-pull-{suffix}",
                "namespaces": NAMESPACES,
                "patchDefaultServiceAccount": True,
                "allowPushUser": True,
            },
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


def test_password_change_rewrites_htpasswd_in_place_and_restarts_nothing(deployment: Deployment) -> None:
    stack = deployment.stack
    before = deployment.outputs
    old_container = container_id(deployment.container)
    old_lines = htpasswd_lines(deployment.container)
    stack.set_secret("users[1].password", "ci-" + os.urandom(8).hex())
    steps = stack.preview_steps()
    changed = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps}
    # ci is not the pull user: neither the pull credential nor the pull secrets change.
    assert changed == {("update", "registry-users-file"), ("update", "registry-registry-config-files")}, changed
    started = time.perf_counter()
    admin = RegistryClient(before["endpoint"], before["caCertificate"], "admin", before["passwords"]["admin"])
    with OutageProbe(admin) as probe:
        stack.up()
        time.sleep(1)
    record(f"pulumi up (password change, htpasswd rewritten in place): {time.perf_counter() - started:.1f} s")
    record(f"registry unavailable during the password change: {probe.longest:.1f} s (longest gap)")
    assert probe.longest == 0, "the registry must go on answering"
    after = deployment.refresh_outputs()
    # Booleans, so that a failing assert prints no password.
    kept = [after["passwords"][u] == before["passwords"][u] for u in ("admin", "reader", "ci")]
    assert kept == [True, True, False], "only ci's password may change (admin, reader, ci)"
    assert after["caCertificate"] == before["caCertificate"]
    assert container_id(deployment.container) == old_container, "the container must not be replaced"
    new_lines = htpasswd_lines(deployment.container)
    assert new_lines["admin"] == old_lines["admin"] and new_lines["reader"] == old_lines["reader"]
    assert new_lines["ci"] != old_lines["ci"]
    ci = RegistryClient(after["endpoint"], after["caCertificate"], "ci", after["passwords"]["ci"])
    assert ci.authenticated(), "the running registry takes the new password at its next request"
    stack.pulumi("preview", "--expect-no-changes")


def test_pull_password_rotation_in_one_up_while_a_loop_pulls_with_the_pull_secret(deployment: Deployment) -> None:
    from tests.e2e.test_kube_target import PullLoop

    stack = deployment.stack
    out = deployment.refresh_outputs()
    old_password = out["passwords"]["admin"]
    admin = RegistryClient(out["endpoint"], out["caCertificate"], "admin", old_password)
    image = admin.push_image("e2e/rotation", "1")
    old_container = container_id(deployment.container)

    def from_pull_secret() -> RegistryClient:
        """As the kubelet does it: the credentials of the pull secret in the cluster, read for every pull."""
        secret = json.loads(kubectl("get", "secret", out["pullSecretName"], "-n", "e2e-apps", "-o", "json").stdout)
        entry = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"][out["endpoint"]]
        return RegistryClient(out["endpoint"], out["caCertificate"], entry["username"], entry["password"])

    kubelet = PullLoop(from_pull_secret, "e2e/rotation", "1", image)
    with kubelet:
        time.sleep(1)
        stack.set_secret("users[0].password", "admin-" + os.urandom(8).hex())
        planned = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in stack.preview_steps()}
        assert planned == {
            ("update", "registry-users-file"),
            ("update", "registry-users-pull-credential"),
            ("update", "registry-registry-config-files"),
            *(("update", f"registry-pull-secrets-{n}") for n in NAMESPACES),
        }, planned
        started = time.perf_counter()
        stack.up()
        up_seconds = time.perf_counter() - started
        assert from_pull_secret().user == "admin~rotated"
        assert admin.authenticated(), "the old credential stays valid until the next up"
        time.sleep(1)
    record(
        f"target docker: one-step pull password change: up {up_seconds:.1f} s; pulls with the pull secret: {kubelet.summary()}"
    )
    assert kubelet.pulls > 10 and kubelet.failures == 0 and kubelet.retries == 0, kubelet.errors[:3]
    assert container_id(deployment.container) == old_container, "the container must not be replaced"
    # The next up drops the old password; the pull secrets stay as they are.
    kubelet = PullLoop(from_pull_secret, "e2e/rotation", "1", image)
    with kubelet:
        planned = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in stack.preview_steps()}
        assert planned == {("update", "registry-users-file"), ("update", "registry-registry-config-files")}, planned
        stack.up()
        time.sleep(1)
    assert kubelet.pulls > 5 and kubelet.failures == 0 and kubelet.retries == 0, kubelet.errors[:3]
    assert not admin.authenticated(), "the old password is refused after the next up"
    after = deployment.refresh_outputs()
    assert RegistryClient(after["endpoint"], after["caCertificate"], "admin", after["passwords"]["admin"]).authenticated()
    stack.pulumi("preview", "--expect-no-changes")


def test_namespace_change_touches_only_kubernetes(deployment: Deployment) -> None:
    kubectl("create", "namespace", "e2e-more", check=False)
    name = deployment.outputs["pullSecretName"]
    deployment.stack.configure(
        {
            "pullSecret": {
                "name": name,
                "namespaces": [*NAMESPACES, "e2e-more"],
                "patchDefaultServiceAccount": True,
                "allowPushUser": True,
            }
        }
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
