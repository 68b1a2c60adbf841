"""End to end: `scripts/pr-check.sh`, the PR check, on live stacks, each summary read as a reviewer
reads it (role, rollout, the changed keys as the reason, the program's warnings, the CLI's diff).

Target docker (writer, read-only instance on `pullPort`, warnings from `bcryptCost: 5`): unchanged,
a password change, a mirror added, the read-only instance replaced (its port), a user added, a
certificate setting, a bad setting. Target kubernetes (one writer on a ReadWriteOnce filesystem
claim, so strategy `Recreate`): a pod-template change. No password, generated or configured, old
or new, reaches the summary (the diff block included), stdout or stderr. Both stacks are a team's:
state on the sandbox's S3 store, secrets by its KMS key (`awskms://`), no passphrase (the variable
set to "" as a workflow without that secret sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import REPO, SANDBOX_CLUSTER, Stack, TeamBackend, free_port, record, throwaway_registry_stack
from tests.e2e.test_cluster_pull import kubectl
from tests.e2e.test_kube_target import NODE_IP, NODE_REGISTRY_IMAGE

CI_PASSWORD = "ci-password-" + os.urandom(6).hex()
NEW_PASSWORD = "new-" + CI_PASSWORD
USERS = [{"name": "admin"}, {"name": "ci"}, {"name": "puller", "access": "pull"}]
KEEP = os.environ.get("PR_CHECK_KEEP")  # a folder: keep each case's preview JSON and diff (fixtures)


@pytest.fixture(scope="module")
def live(workdir: Path) -> Iterator[Stack]:
    settings = {"users": USERS, "bcryptCost": 5, "pullPort": free_port()}
    with throwaway_registry_stack(workdir, "e2e-pr-check", settings, backend=TeamBackend.create("pr-check")) as stack:
        stack.set_secret("users[1].password", CI_PASSWORD)
        record(f"pr check: pulumi up of the docker stack (writer and read-only instance) in {stack.up():.1f} s")
        yield stack


def pr_check(
    stack: Stack, change: Callable[[], None] | None = None, case: str = "", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Exit code, summary and everything else the script printed, after `change` (then undone)."""
    stack_file = stack.project_dir / f"Pulumi.{stack.name}.yaml"
    before = stack_file.read_text()
    try:
        if change:
            change()
        summary = stack.workdir / "summary.md"
        keep = ["--keep", str(Path(KEEP) / case)] if KEEP and case else []
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "pr-check.sh"), stack.name, "--output", str(summary), *keep],
            env={**stack.env, "PROJECT_DIR": str(stack.project_dir), "PULUMI_CONFIG_PASSPHRASE": "", **(env or {})},
            capture_output=True,
            text=True,
        )
        if keep:  # the summary beside the preview it was made from (a reviewer's copy, the closing note's)
            shutil.copy2(summary, Path(keep[1]) / "summary.md")
        return result.returncode, summary.read_text(), result.stdout + result.stderr
    finally:
        stack_file.write_text(before)


def secrets(stack: Stack) -> list[str]:
    return [CI_PASSWORD, NEW_PASSWORD, *stack.outputs()["passwords"].values()]


def says_nothing_secret(stack: Stack, *texts: str) -> None:
    found = [s for s in secrets(stack) if s and any(s in t for t in texts)]
    assert not found, "a password reached the PR check's output"


def test_an_unchanged_stack_is_clean_and_carries_the_programs_warning(live: Stack) -> None:
    code, summary, printed = pr_check(live, case="unchanged")
    assert code == 0, summary
    assert summary.startswith(f"<!-- private-registry-pr-check -->\n### Registry stack `{live.name}`: no changes")
    assert "**Warnings (the program's and its providers')**" in summary and "bcryptCost" in summary and "is below 10" in summary
    says_nothing_secret(live, summary, printed)


def test_a_password_change_rewrites_the_users_file_in_place_and_says_nothing_secret(live: Stack) -> None:
    code, summary, printed = pr_check(live, lambda: live.set_secret("users[1].password", NEW_PASSWORD), "password")
    assert code == 2, summary
    assert "The registry's files (htpasswd, certificate) are rewritten in place" in summary
    assert "container is replaced" not in summary and "is created" not in summary
    assert "A password changes" in summary and "| ~ update | <code>registry-users-file</code> |" in summary
    assert "a secret input: <code>users</code> (value hidden)" in summary  # the why: a key, never the value
    assert "<details><summary>Full <code>pulumi preview --diff</code>" in summary and "[secret]" in summary
    says_nothing_secret(live, summary, printed)


def test_a_mirror_added_to_the_running_stack_is_a_mirror_not_a_new_registry(live: Stack) -> None:
    mirrors = {"docker.io": {"port": free_port()}}
    code, summary, printed = pr_check(live, lambda: live.configure({"mirrors": mirrors}), "mirror-added")
    assert code == 2, summary
    assert "The registry is created" not in summary
    assert "A new container for mirror `docker-io`" in summary and "does not restart" in summary
    assert "| + create | <code>registry-mirror-docker-io-container</code> | mirror `docker-io` | docker Container | new |" in (
        summary
    )
    says_nothing_secret(live, summary, printed)


def test_the_read_only_instance_replaced_stops_cluster_pulls_not_pushes(live: Stack) -> None:
    code, summary, printed = pr_check(live, lambda: live.configure({"pullPort": free_port()}), "read-only-replaced")
    assert code == 2, summary
    assert "**The read-only instance: its container is replaced**: cluster pulls" in summary
    assert "pushes go on" in summary and "pushes and pulls" not in summary
    row = next(line for line in summary.splitlines() if "<code>registry-pull-container</code>" in line)
    assert row.startswith("| +- replace |") and "| read-only |" in row and "<code>ports[0].external</code> (replace)" in row
    writer = [line for line in summary.splitlines() if "<code>registry-registry-container</code>" in line]
    assert not any(line.startswith("| +- replace") for line in writer), writer
    says_nothing_secret(live, summary, printed)


def test_a_new_user_is_named(live: Stack) -> None:
    code, summary, printed = pr_check(live, lambda: live.configure({"users": [*USERS, {"name": "dave"}]}), "user-added")
    assert code == 2, summary
    assert "User(s) added: `dave`." in summary and "| + create | <code>registry-users-dave-password</code> |" in summary
    says_nothing_secret(live, summary, printed)


def test_a_certificate_setting_issues_a_new_server_certificate_under_the_same_ca(live: Stack) -> None:
    code, summary, _ = pr_check(live, lambda: live.configure({"validityDays": 200}), "certificate")
    assert code == 2, summary
    assert "A new server certificate is issued: clients and nodes keep trusting the same CA" in summary
    assert "The CA changes" not in summary


def test_a_bad_setting_fails_with_the_settings_error(live: Stack) -> None:
    code, summary, _ = pr_check(live, lambda: live.configure({"port": 0}), "bad-setting")
    assert code == 1, summary
    assert "the preview failed" in summary and "private-registry:port = 0" in summary


# Target kubernetes: one writer on a ReadWriteOnce claim (strategy Recreate), bound to a hostPath
# PersistentVolume of the test's own (the sandbox has no provisioner).
KUBE_NAMESPACE, KUBE_CLASS, KUBE_VOLUME, KUBE_NODE_PORT = "e2e-pr-check", "e2e-pr-check", "e2e-pr-check", 30547


def clean_kube() -> None:
    kubectl("delete", "namespace", KUBE_NAMESPACE, "--ignore-not-found", "--timeout=120s")
    kubectl("delete", "pv", KUBE_VOLUME, "--ignore-not-found", "--timeout=60s")


@pytest.fixture(scope="module")
def kube_live(workdir: Path) -> Iterator[Stack]:
    if not NODE_IP:
        pytest.fail("SANDBOX_NODE_IP is not set: run through scripts/test.sh", pytrace=False)
    clean_kube()
    workdir = workdir / "kube"  # a project copy of its own beside the docker stack's
    data = workdir / "pr-check-pv"
    data.mkdir(parents=True)
    data.chmod(0o777)  # the registry runs as user 1000; a hostPath volume ignores fsGroup
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": KUBE_VOLUME},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": KUBE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": str(data), "type": "DirectoryOrCreate"},
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(volume))
    stack = Stack(workdir, "e2e-pr-check-kube", backend=TeamBackend.create("pr-check-kube"))
    stack.init(
        {
            "target": "kubernetes",
            "namespace": KUBE_NAMESPACE,
            "replicas": 1,
            "hostnames": [],
            "ipAddresses": [NODE_IP],
            "port": KUBE_NODE_PORT,
            "image": NODE_REGISTRY_IMAGE,
            "pullImage": False,
            "retainData": False,
            "storage": {"driver": "filesystem", "size": "1Gi", "storageClass": KUBE_CLASS},
            "pullSecret": {"namespaces": []},
            "localRegistryHosting": False,
            **SANDBOX_CLUSTER,
        }
    )
    try:
        record(f"pr check: pulumi up of the kubernetes stack (one writer, ReadWriteOnce) in {stack.up():.1f} s")
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        clean_kube()
        shutil.rmtree(data, ignore_errors=True)


def test_a_recreate_deployment_update_says_the_pod_stops_first(kube_live: Stack) -> None:
    change = {"pods": {"annotations": {"example.com/revision": "2"}}}
    code, summary, printed = pr_check(kube_live, lambda: kube_live.configure(change), "kube-recreate")
    assert code == 2, summary
    assert "**The registry (writer): its Pod is recreated** (strategy `Recreate`" in summary
    assert "the old Pod stops before the new one starts, pushes and pulls (cluster pulls included) fail" in summary
    assert "none unavailable" not in summary
    row = next(line for line in summary.splitlines() if "<code>registry-deployment-deployment</code>" in line)
    assert "| writer, Recreate | kubernetes Deployment |" in row and "<code>spec.template" in row
    assert "kube access: context sandbox may get, list and patch" in printed
    says_nothing_secret(kube_live, summary, printed)


def test_a_kubeconfig_that_may_only_read_is_refused_before_the_preview_naming_what_is_missing(kube_live: Stack) -> None:
    """The sandbox's kubeconfig, impersonating a user bound to the built-in `view` role in the stack's
    namespace (get and list, no Secrets, no patch): the check names each missing verb and kind."""
    user = "e2e-pr-check-reader"
    kubectl("create", "rolebinding", user, "--clusterrole=view", f"--user={user}", "-n", KUBE_NAMESPACE)
    config = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    for entry in config["users"]:
        entry["user"]["as"] = user  # the admin token, acting as the reader (kubeconfig impersonation)
    reader = kube_live.workdir / "reader-kubeconfig"
    reader.write_text(yaml.safe_dump(config))
    reader.chmod(0o600)
    try:
        code, summary, printed = pr_check(kube_live, None, "kube-read-only", {"KUBECONFIG": str(reader)})
    finally:
        kubectl("delete", "rolebinding", user, "-n", KUBE_NAMESPACE, "--ignore-not-found")
    assert code == 1, summary
    assert "the preview failed" in summary
    assert f"missing: get, list, patch on secrets in namespace {KUBE_NAMESPACE} (target kubernetes)" in summary
    assert f"missing: patch on deployments.apps in namespace {KUBE_NAMESPACE} (target kubernetes)" in summary
    assert "missing: get, list, patch on namespaces (cluster-scoped)" in summary
    assert "Previewing update" not in printed  # refused before the preview ran
    says_nothing_secret(kube_live, summary, printed)
