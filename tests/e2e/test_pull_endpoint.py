"""End to end on the sandbox: `pullPort`, a read-only instance beside the registry (target docker).

Two users: `ci` (push) and `puller` (pull). The pull user reads through the read-only instance;
it cannot push there (405) nor on the read-write instance, which does not know it (401), nor
delete. A push by `ci` is served by the read-only instance at once; `ci` reads there too. A Pod on
the sandbox node pulls `<endpoint>/e2e/hello:1` (the name CI pushed) with the stack's pull secret,
which holds the pull user's credentials only, and the node's `hosts.toml` sends the pull to the
read-only instance (its log shows the pull user's requests; the writer's shows none).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults import BackgroundLoop, RegistryClient, container_id
from tests.e2e.helpers import (
    CERTS_D,
    REGISTRY_HOST,
    REPO,
    SANDBOX_CLUSTER,
    TEST_IMAGE,
    Stack,
    free_port,
    record,
    run,
    throwaway_registry_stack,
)
from tests.e2e.test_cluster_pull import Cluster, kubectl

USERS = [{"name": "ci"}, {"name": "puller", "access": "pull"}]
NAMESPACE = "e2e-pull-endpoint"


@pytest.fixture(scope="module")
def stack(workdir: Path) -> Iterator[Stack]:
    port, pull_port = free_port(), free_port()
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("create", "namespace", NAMESPACE)
    settings = {
        "users": USERS,
        "port": port,
        "pullPort": pull_port,
        "ipAddresses": ["127.0.0.1", REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",  # the node reaches the registry on the sandbox bridge
        "deleteEnabled": True,
        "pullSecret": {"name": f"pull-{os.urandom(3).hex()}", "namespaces": [NAMESPACE]},
        **SANDBOX_CLUSTER,
    }
    with throwaway_registry_stack(workdir, "e2e-pull", settings) as s:
        try:
            record(f"pull endpoint: pulumi up with the read-only container beside the registry in {s.up():.1f} s")
            yield s
        finally:
            kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)


def clients(stack: Stack) -> dict[str, RegistryClient]:
    out: dict[str, Any] = stack.outputs()
    ca, passwords = out["caCertificate"], out["passwords"]
    return {
        "ci@push": RegistryClient(out["endpoint"], ca, "ci", passwords["ci"]),
        "ci@pull": RegistryClient(out["pullEndpoint"], ca, "ci", passwords["ci"]),
        "puller@push": RegistryClient(out["endpoint"], ca, "puller", passwords["puller"]),
        "puller@pull": RegistryClient(out["pullEndpoint"], ca, "puller", passwords["puller"]),
    }


def test_a_push_is_pulled_through_the_read_only_instance_by_both_users(stack: Stack) -> None:
    c = clients(stack)
    image = c["ci@push"].push_image("team/app", "1")
    c["puller@pull"].assert_image("team/app", "1", image)
    c["ci@pull"].assert_image("team/app", "1", image)


def test_the_pull_user_can_neither_push_nor_delete(stack: Stack) -> None:
    c = clients(stack)
    status, _, body = c["puller@pull"].request("POST", "/v2/team/app/blobs/uploads/")
    assert status == 405, (status, body)
    record(
        f"pull endpoint: a push as the pull user, read-only instance: HTTP {status} {body.decode(errors='replace').strip()[:60]}"
    )
    status, _, body = c["puller@push"].request("POST", "/v2/team/app/blobs/uploads/")
    assert status == 401, (status, body)
    record(
        f"pull endpoint: a push as the pull user, read-write instance: HTTP {status} {body.decode(errors='replace').strip()[:90]}"
    )
    digest = c["ci@push"].push_image("team/app", "2")[0]
    assert c["puller@pull"].request("DELETE", f"/v2/team/app/manifests/{digest}")[0] == 405
    assert c["puller@push"].request("DELETE", f"/v2/team/app/manifests/{digest}")[0] == 401


def test_nothing_changes_on_a_second_run(stack: Stack) -> None:
    stack.pulumi("preview", "--expect-no-changes")


def registry_log(container: str, since: str) -> list[str]:
    logs = run(["docker", "logs", "--since", since, container])
    return (logs.stdout + logs.stderr).splitlines()


def test_a_pod_pulls_by_the_pushed_name_through_the_read_only_instance(stack: Stack) -> None:
    out: dict[str, Any] = stack.outputs()
    endpoint = out["endpoint"]
    # The pull secret holds the pull user, for the registry's name in image references; nothing else.
    secret = json.loads(kubectl("get", "secret", out["pullSecretName"], "-n", NAMESPACE, "-o", "json").stdout)
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert list(auths) == [endpoint] and auths[endpoint]["username"] == "puller"
    # CI pushes a runnable image to the read-write endpoint (dockerd trusts the CA through certs.d).
    ca_dir, config = CERTS_D / endpoint, stack.workdir / "pull-endpoint-docker-config"
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.crt").write_text(out["caCertificate"])
    config.mkdir(exist_ok=True)
    docker = ["docker", "--config", str(config)]
    node = Cluster(stack, int(endpoint.rsplit(":", 1)[1]))  # Pods name the image as CI pushed it
    node.outputs = out
    try:
        run([*docker, "login", endpoint, "-u", "ci", "--password-stdin"], input=out["passwords"]["ci"])
        run([*docker, "tag", TEST_IMAGE, f"{endpoint}/e2e/hello:1"])
        run([*docker, "push", f"{endpoint}/e2e/hello:1"])
        node.install_trust_by_hand()  # what node provisioning does with the outputs
        since = str(int(time.time()) - 1)
        pod = node.run_pod(NAMESPACE, "pulled-read-only", secret=out["pullSecretName"])
        phase, seconds = node.wait_pod(NAMESPACE, pod)
        assert phase == "Succeeded", node.events(NAMESPACE, pod)
        reader = [line for line in registry_log(out["pullContainerName"], since) if "e2e/hello/manifests/1" in line]
        # The node's containerd (its user agent) never reached the writer; CI's docker push did, before.
        writer = [line for line in registry_log(out["containerName"], since) if "e2e/hello" in line and "containerd/" in line]
        assert any("auth.user.name=puller" in line for line in reader), reader
        assert not writer, writer
        record(
            f"pull endpoint: a Pod pulled {node.image} with the pull secret in {seconds:.1f} s, served by the read-only "
            f"instance ({len(reader)} log lines of its manifest there, none at the writer)"
        )
    finally:
        node.remove_trust()
        shutil.rmtree(ca_dir, ignore_errors=True)


def test_a_running_single_endpoint_stack_gains_a_pull_endpoint_without_losing_images(workdir: Path) -> None:
    with throwaway_registry_stack(workdir / "upgrade", "e2e-pull-upgrade", {"users": [{"name": "ci"}]}) as s:
        s.up()
        before: dict[str, Any] = s.outputs()
        ci = RegistryClient(before["endpoint"], before["caCertificate"], "ci", before["passwords"]["ci"])
        image = ci.push_image("team/kept", "1")
        s.configure({"users": USERS, "pullPort": free_port()})
        writer = container_id(before["containerName"])
        preview = s.pulumi("preview", "--diff").stdout
        # The writer's htpasswd (now the push users only) is rewritten in place: its container stays.
        assert "registry-pull-container" in preview and "registry-registry-config-files" in preview, preview
        seconds = s.up()
        assert container_id(before["containerName"]) == writer, "the writer's container must not be replaced"
        record(f"pull endpoint added to a running stack: pulumi up {seconds:.1f} s (the writer's htpasswd rewritten in place)")
        after: dict[str, Any] = s.outputs()
        assert (after["endpoint"], after["dataVolume"], after["passwords"]["ci"]) == (
            before["endpoint"],
            before["dataVolume"],
            before["passwords"]["ci"],
        )
        puller = RegistryClient(after["pullEndpoint"], after["caCertificate"], "puller", after["passwords"]["puller"])
        puller.assert_image("team/kept", "1", image)
        ci.assert_image("team/kept", "1", image)
        s.pulumi("preview", "--expect-no-changes")


class Pulls(BackgroundLoop):
    """Pulls one image (manifest, then layer) through one client in a loop; no retries: every failed
    pull counts.
    """

    def __init__(self, client: RegistryClient, repo: str, tag: str, image: tuple[str, str, bytes]) -> None:
        super().__init__()
        self.client, self.repo, self.tag, self.image = client, repo, tag, image
        self.pulls = 0
        self.errors: list[str] = []

    def _run(self) -> None:
        started = time.perf_counter()
        while not self.stop.is_set():
            self.pulls += 1
            asked = time.perf_counter()
            try:
                self.client.assert_image(self.repo, self.tag, self.image)
            except Exception as err:  # any failure of a pull counts
                now = time.perf_counter()
                self.errors.append(f"{asked - started:.1f}-{now - started:.1f} s: {str(err)[:200]}")


def test_garbage_collection_leaves_pulls_through_the_read_only_instance_going(stack: Stack) -> None:
    c = clients(stack)
    kept = c["ci@push"].push_image("team/gc", "kept")
    doomed = c["ci@push"].push_image("team/gc", "doomed")
    assert c["ci@push"].request("DELETE", f"/v2/team/gc/manifests/{doomed[0]}")[0] == 202
    env = {**stack.env, "PROJECT_DIR": str(stack.project_dir)}
    with Pulls(c["puller@pull"], "team/gc", "kept", kept) as loop:
        time.sleep(0.5)
        gc_started = time.perf_counter()
        gc = run(["bash", str(REPO / "scripts" / "gc.sh"), stack.name], env=env)
        gc_seconds = time.perf_counter() - gc_started
        time.sleep(0.5)
    assert loop.pulls > 10 and not loop.errors, (
        loop.pulls,
        loop.errors[:3],
        f"gc.sh ran 0.5-{0.5 + gc_seconds:.1f} s",
        gc.stderr[-3000:],
    )
    lines = gc.stdout.strip().splitlines()
    assert any("pulls through the read-only instance" in line for line in lines), gc.stdout + gc.stderr
    # No stale cache on the read-only side: the collected layer is gone there too, the kept one is not.
    assert c["puller@pull"].request("GET", f"/v2/team/gc/blobs/{doomed[1]}")[0] == 404
    c["puller@pull"].assert_image("team/gc", "kept", kept)
    record(f"gc with a pull endpoint: {loop.pulls} pulls through the read-only instance during gc.sh, 0 failed")
    record("; ".join(lines[-3:]))


def test_after_each_up_of_a_pull_password_rotation_every_pair_of_the_outputs_logs_in(stack: Stack) -> None:
    """Issue 23's case: the pull user behind `pullPort` gets a new password. After the `up` that
    rotates, `usernames` and `passwords` give `puller` with its old password and `puller~rotated`
    with the new one (the pair `puller` + new password, which the registry refuses until the next
    `up`, is in no output); after the next `up`, both names with the new one. Each pair the outputs
    give logs in where that user reads (the read-only instance), and the pull secret carries one.
    """

    def output_logins() -> tuple[dict[str, Any], dict[str, bool]]:
        out: dict[str, Any] = stack.outputs()
        assert sorted(out["usernames"]) == sorted(out["passwords"])
        client = {
            name: RegistryClient(out["pullEndpoint"], out["caCertificate"], name, out["passwords"][name])
            for name in out["usernames"]
        }
        return out, {name: c.authenticated() for name, c in client.items()}

    old = stack.outputs()["passwords"]["puller"]
    new = "puller-" + os.urandom(8).hex()
    stack.set_secret("users[1].password", new)
    stack.up()
    out, logged_in = output_logins()
    assert logged_in == {"ci": True, "puller": True, "puller~rotated": True}
    assert out["usernames"] == ["ci", "puller", "puller~rotated"]  # the file's order
    assert [out["passwords"]["puller"] == old, out["passwords"]["puller~rotated"] == new] == [True, True]  # no secret printed
    assert not RegistryClient(out["pullEndpoint"], out["caCertificate"], "puller", new).authenticated()
    auth = json.loads(out["dockerConfigJson"])["auths"][out["endpoint"]]
    assert auth["username"] == "puller~rotated" and auth["password"] == out["passwords"]["puller~rotated"]

    stack.up()  # the next up drops the old password
    out, logged_in = output_logins()
    assert logged_in == {"ci": True, "puller": True, "puller~rotated": True}
    assert out["usernames"] == ["ci", "puller", "puller~rotated"]  # the file's order
    assert [out["passwords"][name] == new for name in ("puller", "puller~rotated")] == [True, True]
    assert not RegistryClient(out["pullEndpoint"], out["caCertificate"], "puller", old).authenticated()
    stack.pulumi("preview", "--expect-no-changes")
    record("pull password rotation behind pullPort: every pair of usernames/passwords logged in after both ups")
