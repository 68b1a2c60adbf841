"""Unit and program tests: node trust content, the DaemonSet that installs it, and the KEP-1755 ConfigMaps."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.model import SettingsError
from components.node_trust import (
    HOST_MOUNT,
    INSTALL_SCRIPT,
    MARKER,
    STATUS_MOUNT,
    TRUST_MOUNT,
    CleanupError,
    NodeTrustCleanupProvider,
    certs_dir_problem,
    cleanup_daemonset,
    cleanup_done,
    containerd_hosts_toml,
    daemonset_image_problem,
    daemonset_spec,
    installers_left,
    local_registry_hosting,
    object_name,
    remove_from_nodes,
    trust_hash,
    trust_owner,
)
from components.settings import load_settings
from tests.program_harness import evaluate
from tests.test_program import DEV

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CLEANUP = "pulumi-python:dynamic/private-registry:NodeTrustCleanup"
BUSYBOX = "busybox@sha256:" + "ab" * 32
TRUST = {"mode": "daemonset", "image": BUSYBOX}
# The node runs the script in busybox's sh; run it there too where busybox is installed.
SH = ["busybox", "sh", "-c"] if shutil.which("busybox") else ["sh", "-c"]


def problems(raw: dict[str, Any]) -> list[str]:
    """The problems of `raw` on a stack that names a cluster."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"kubernetes": {"context": "prod"}, **raw}, "dev")
    return list(caught.value.problems)


def test_hosts_toml_names_the_endpoint_and_the_ca_beside_it() -> None:
    parsed = tomllib.loads(containerd_hosts_toml("10.0.0.5:5000"))
    assert parsed == {
        "server": "https://10.0.0.5:5000",
        "host": {"https://10.0.0.5:5000": {"capabilities": ["pull", "resolve"], "ca": "ca.crt"}},
    }


def test_local_registry_hosting_is_the_kep_1755_document() -> None:
    assert yaml.safe_load(local_registry_hosting("reg.example:5000")) == {
        "host": "reg.example:5000",
        "hostFromContainerRuntime": "reg.example:5000",
    }


def test_object_names_are_dns_labels() -> None:
    assert object_name("registry-trust", "Dev_Stack.1") == "registry-trust-dev-stack-1"
    assert len(object_name("registry-trust", "x" * 100)) <= 63


def test_a_ca_change_changes_the_pod_template() -> None:
    one = daemonset_spec("n", "busybox", "h:1", "/etc/containerd/certs.d", trust_hash("toml", "CA 1"))
    two = daemonset_spec("n", "busybox", "h:1", "/etc/containerd/certs.d", trust_hash("toml", "CA 2"))
    assert one != two and one["selector"] == two["selector"]


def script_env(owner: str, folders: list[str], mode: str = "install") -> dict[str, str]:
    return {**os.environ, "MODE": mode, "OWNER": owner, "FOLDERS": " ".join(folders)}


def node_script(tmp: Path, once: bool = True) -> str:
    """INSTALL_SCRIPT with the mounts under `tmp`; `once`: one pass of the loop, then exit."""
    script = INSTALL_SCRIPT.replace(TRUST_MOUNT, str(tmp / "trust")).replace(HOST_MOUNT, str(tmp / "certs.d"))
    script = script.replace(STATUS_MOUNT, str(tmp / "status"))
    if once:
        script = script.replace("sleep 30 & wait $!", "exit 0").replace("while true; do sleep 3600 & wait $!; done", "exit 0")
    return script


def run_node(tmp: Path, owner: str, folders: dict[str, tuple[str, str]], mode: str = "install") -> str:
    """One pass of the node script over `tmp/certs.d`, the ConfigMaps being `folders` (name -> (hosts.toml,
    ca.crt)) in order; its output."""
    trust = tmp / "trust"
    shutil.rmtree(trust, ignore_errors=True)
    for i, (toml, ca) in enumerate(folders.values()):
        (trust / str(i)).mkdir(parents=True)
        (trust / str(i) / "hosts.toml").write_text(toml)
        (trust / str(i) / "ca.crt").write_text(ca)
    (tmp / "certs.d").mkdir(exist_ok=True)
    (tmp / "status").mkdir(exist_ok=True)
    done = subprocess.run([*SH, node_script(tmp)], env=script_env(owner, list(folders), mode), capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def listing(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones too) -> its content; every folder -> "/"."""
    return {str(p.relative_to(root)): "/" if p.is_dir() else p.read_text() for p in sorted(root.rglob("*"))}


OURS, OTHER = "a" * 20, "b" * 20
REGISTRY, MIRROR = ("10.0.0.5:5000", ("registry toml\n", "CA\n")), ("docker.io", ("mirror toml\n", "CA\n"))


def test_install_writes_the_files_and_a_marker_of_their_content(tmp_path: Path) -> None:
    run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    folder = tmp_path / "certs.d" / "10.0.0.5:5000"
    assert (folder / "hosts.toml").read_text() == "registry toml\n" and (folder / "ca.crt").read_text() == "CA\n"
    sha = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in ("ca.crt", "hosts.toml")}
    assert (folder / MARKER).read_text() == f"owner {OURS}\n{sha['ca.crt']} ca.crt\n{sha['hosts.toml']} hosts.toml\n"
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "ca.crt", "hosts.toml"]
    assert (tmp_path / "certs.d" / "docker.io" / "hosts.toml").read_text() == "mirror toml\n"
    before = listing(tmp_path / "certs.d")
    run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    assert listing(tmp_path / "certs.d") == before  # a pass with nothing to do changes nothing


def test_a_dropped_mirror_is_removed_and_nothing_else(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "quay.io").mkdir()  # an administrator's own folder
    (certs / "quay.io" / "hosts.toml").write_text("theirs\n")
    run_node(tmp_path, OTHER, {"harbor.corp": ("other stack\n", "CA 2\n")})  # another stack's installer
    run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    others = {k: v for k, v in listing(certs).items() if not k.startswith(("docker.io", "10.0.0.5"))}
    output = run_node(tmp_path, OURS, dict([REGISTRY]))  # the mirror dropped from the config
    assert not (certs / "docker.io").exists() and f"removed {certs}/docker.io" in output
    assert (certs / "10.0.0.5:5000" / "hosts.toml").exists()
    assert {k: v for k, v in listing(certs).items() if not k.startswith("10.0.0.5")} == others


def test_remove_mode_leaves_the_folder_as_it_was_before(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    certs.mkdir()
    (certs / "unrelated:5000").mkdir()
    (certs / "unrelated:5000" / "hosts.toml").write_text("theirs\n")
    before = listing(certs)
    run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    run_node(tmp_path, OTHER, {"harbor.corp": ("other stack\n", "CA 2\n")})
    output = run_node(tmp_path, OURS, {}, mode="remove")
    assert (tmp_path / "status" / "done").exists() and "removed what this stack installed" in output
    after = listing(certs)
    assert after.pop("harbor.corp/hosts.toml") == "other stack\n"  # another stack's stays
    assert {k: v for k, v in after.items() if not k.startswith("harbor.corp")} == before


def test_a_folder_someone_else_made_is_moved_aside_and_back(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    (certs / "docker.io").mkdir(parents=True)
    (certs / "docker.io" / "hosts.toml").write_text('server = "https://mirror.corp"\n')
    (certs / "docker.io" / "corp-ca.crt").write_text("corp CA\n")
    before = listing(certs)
    output = run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    assert f"moved {certs}/docker.io aside" in output
    assert (certs / "docker.io" / "hosts.toml").read_text() == "mirror toml\n"
    assert (certs / f".docker.io.saved-{OURS}" / "corp-ca.crt").read_text() == "corp CA\n"
    run_node(tmp_path, OURS, dict([REGISTRY]))  # the mirror dropped: theirs is back
    assert {k: v for k, v in listing(certs).items() if not k.startswith("10.0.0.5")} == before
    run_node(tmp_path, OURS, {}, mode="remove")
    assert listing(certs) == before


def test_another_stacks_folder_is_neither_installed_over_nor_removed(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    run_node(tmp_path, OTHER, dict([MIRROR]))
    theirs = listing(certs)
    output = run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    assert f"left {certs}/docker.io alone: it belongs to another registry stack's node trust ({OTHER})" in output
    run_node(tmp_path, OURS, {}, mode="remove")
    assert listing(certs) == theirs


def test_a_folder_of_the_installer_before_markers_is_taken_over(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    (certs / "docker.io").mkdir(parents=True)
    (certs / "docker.io" / "hosts.toml").write_text("mirror toml\n")  # as the old installer wrote it
    (certs / "docker.io" / "ca.crt").write_text("old CA\n")
    output = run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    assert f"took over {certs}/docker.io" in output and (certs / "docker.io" / "ca.crt").read_text() == "CA\n"
    run_node(tmp_path, OURS, {}, mode="remove")
    assert listing(certs) == {}


def test_removal_keeps_what_this_stack_did_not_write(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    run_node(tmp_path, OURS, dict([REGISTRY, MIRROR]))
    (certs / "docker.io" / "hosts.toml").write_text("edited by hand\n")
    (certs / "10.0.0.5:5000" / "notes.txt").write_text("mine\n")
    output = run_node(tmp_path, OURS, {}, mode="remove")
    assert listing(certs) == {
        "docker.io": "/",
        "docker.io/hosts.toml": "edited by hand\n",
        "10.0.0.5:5000": "/",
        "10.0.0.5:5000/notes.txt": "mine\n",
    }
    assert f"kept {certs}/docker.io: it holds files this stack did not write" in output


def test_a_file_renamed_into_place_is_already_in_the_marker(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    run_node(tmp_path, OURS, dict([REGISTRY]))
    # Killed right after a new hosts.toml is renamed into place, before the marker is tidied.
    killed = node_script(tmp_path).replace('echo "installed $target/$f"', "exit 9")
    (tmp_path / "trust" / "0" / "hosts.toml").write_text("registry toml 2\n")
    done = subprocess.run([*SH, killed], env=script_env(OURS, ["10.0.0.5:5000"]), capture_output=True, text=True, check=False)
    assert done.returncode == 9 and (certs / "10.0.0.5:5000" / "hosts.toml").read_text() == "registry toml 2\n"
    run_node(tmp_path, OURS, {}, mode="remove")
    assert listing(certs) == {}


def test_the_installer_restores_a_deleted_file_and_follows_the_config_map(tmp_path: Path) -> None:
    run_node(tmp_path, OURS, dict([REGISTRY]))  # the trust folder and certs.d in place
    script = node_script(tmp_path, once=False).replace("sleep 30", "sleep 0.2")
    proc = subprocess.Popen([*SH, script], env=script_env(OURS, ["10.0.0.5:5000"]), text=True, stdout=subprocess.PIPE)
    target, trust = tmp_path / "certs.d" / "10.0.0.5:5000", tmp_path / "trust" / "0"
    try:
        (target / "ca.crt").unlink()
        (trust / "hosts.toml").write_text("toml 2\n")  # as when the ConfigMap volume is updated
        deadline = time.monotonic() + 10
        while not ((target / "ca.crt").exists() and (target / "hosts.toml").read_text() == "toml 2\n"):
            assert time.monotonic() < deadline, "the script did not restore the files"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)  # how TERM ends the real 30 s sleep: the next test
    assert not list(target.glob(".*.new"))
    assert hashlib.sha256(b"toml 2\n").hexdigest() in (target / MARKER).read_text()


def sleeping_child(pid: int, command: str) -> int | None:
    """The pid of a child of `pid` running exactly `command` (e.g. `sleep 30`), if there is one."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[:-1] == command.encode().split():
                return int(child)
        except OSError:  # gone meanwhile
            continue
    return None


def test_term_ends_the_installer_at_once_in_its_real_30_second_sleep(tmp_path: Path) -> None:
    # The script exactly as the node runs it (only the mounts moved under tmp_path): the kubelet
    # sends TERM when the DaemonSet goes and kills after the grace period; a plain `sleep 30` would
    # hold the trap until it ends, so the Pod would take up to 30 s to go.
    toml, ca = REGISTRY[1]
    (tmp_path / "trust" / "0").mkdir(parents=True)
    (tmp_path / "trust" / "0" / "hosts.toml").write_text(toml)
    (tmp_path / "trust" / "0" / "ca.crt").write_text(ca)
    (tmp_path / "certs.d").mkdir()
    (tmp_path / "status").mkdir()
    script = node_script(tmp_path, once=False)
    assert script.count("sleep 30") == INSTALL_SCRIPT.count("sleep 30") == 1
    proc = subprocess.Popen([*SH, script], env=script_env(OURS, ["10.0.0.5:5000"]), text=True, stdout=subprocess.PIPE)
    sleeper = None
    try:
        deadline = time.monotonic() + 10
        while (sleeper := sleeping_child(proc.pid, "sleep 30")) is None:  # the first pass is done: it sleeps
            assert proc.poll() is None and time.monotonic() < deadline, "the installer never reached its 30 s sleep"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)  # far below the 30 s a sleep in the foreground would hold TERM back
        code = proc.poll()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if sleeper is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sleeper, signal.SIGKILL)  # the orphaned sleep (in a Pod, it goes with the container)
    assert code is not None, "TERM did not end the installer within 5 s: it waits for its 30 s sleep"
    assert code == 0, f"TERM ended the installer with exit code {code}, not cleanly"


def test_node_trust_settings_are_validated() -> None:
    found = problems({"nodeTrust": {"mode": "everywhere", "namespace": "Kube_System", "certsDir": "etc", "imgae": "x"}})
    assert any(p.startswith("private-registry:nodeTrust = ") and "unknown key(s) imgae" in p for p in found)
    assert any(p.startswith("private-registry:nodeTrust.mode = 'everywhere': must be none") for p in found)
    assert any(p.startswith("private-registry:nodeTrust.namespace = 'Kube_System'") for p in found)
    assert any(p.startswith("private-registry:nodeTrust.certsDir = 'etc': must be an absolute path") for p in found)


def test_daemonset_needs_an_image_the_nodes_can_already_pull() -> None:
    (missing,) = problems({"nodeTrust": {"mode": "daemonset"}})
    assert missing.startswith("private-registry:nodeTrust.image = None: is required with nodeTrust.mode = daemonset")
    assert "not one from this registry" in missing
    (bad,) = problems({"nodeTrust": {"mode": "daemonset", "image": "Bad Image"}})
    assert bad.startswith("private-registry:nodeTrust.image = 'Bad Image': must be an image reference")
    (ours,) = problems({"nodeTrust": {"mode": "daemonset", "image": "localhost:5000/busybox:1"}})
    assert "is in this registry, which the nodes cannot pull from before they trust it" in ours


@pytest.mark.parametrize(
    "image",
    [
        "busybox:1.37",  # a tag
        "busybox",
        "busybox@sha256:" + "ab" * 31,  # too short
        "busybox@sha256:" + "AB" * 32,  # upper case: not a digest
        "busybox@sha512:" + "ab" * 32,
    ],
)
def test_the_daemonsets_image_must_be_named_by_digest(image: str) -> None:
    (problem,) = [p for p in problems({"nodeTrust": {"mode": "daemonset", "image": image}}) if "nodeTrust.image" in p]
    assert problem.startswith(f"private-registry:nodeTrust.image = {image!r}: must name its image by digest")
    assert "name@sha256:<64 hex digits>" in problem


def test_a_digest_image_is_accepted() -> None:
    for image in (BUSYBOX, "registry.corp:5000/tools/busybox:1.37@sha256:" + "0f" * 32):
        s = load_settings({"kubernetes": {"context": "prod"}, "nodeTrust": {"mode": "daemonset", "image": image}}, "dev")
        assert s.node_trust.image == image


@pytest.mark.parametrize("certs_dir", ["/etc", "/var/lib/kubelet", "/", "/etc/containerd", "/etc/certs.d.old", "/x/certs.dx"])
def test_certs_dir_must_be_a_certs_d_folder_unless_said(certs_dir: str) -> None:
    trust = {**TRUST, "certsDir": certs_dir}
    found = [p for p in problems({"nodeTrust": trust}) if "nodeTrust.certsDir" in p]
    assert len(found) == 1 and found[0].startswith(f"private-registry:nodeTrust.certsDir = {certs_dir!r}: must be "), found
    if certs_dir != "/":
        assert "last path element is certs.d" in found[0] and "nodeTrust.allowAnyCertsDir = true" in found[0]
        allowed = {"kubernetes": {"context": "p"}, "nodeTrust": {**trust, "allowAnyCertsDir": True}}
        assert load_settings(allowed, "dev").node_trust.certs_dir == certs_dir


def test_certs_d_folders_pass_and_the_rule_is_only_for_the_daemonset() -> None:
    for certs_dir in ("/etc/containerd/certs.d", "/etc/containerd/certs.d/", "/var/lib/rancher/k3s/agent/etc/certs.d"):
        s = load_settings({"kubernetes": {"context": "p"}, "nodeTrust": {**TRUST, "certsDir": certs_dir}}, "dev")
        assert s.node_trust.certs_dir == certs_dir.rstrip("/")
    assert load_settings({"nodeTrust": {"certsDir": "/etc"}}, "dev").node_trust.certs_dir == "/etc"


def test_allow_any_certs_dir_must_be_a_boolean() -> None:
    found = problems({"nodeTrust": {**TRUST, "certsDir": "/etc", "allowAnyCertsDir": "yes"}})
    assert any(p.startswith("private-registry:nodeTrust.allowAnyCertsDir = 'yes': must be true or false") for p in found)
    assert any(p.startswith("private-registry:nodeTrust.certsDir = '/etc'") for p in found)  # "yes" does not allow


def test_certs_dir_problem_and_image_problem_directly() -> None:
    assert certs_dir_problem("/etc/containerd/certs.d", None) is None
    assert certs_dir_problem("/etc", False) is not None and certs_dir_problem("/etc", True) is None
    assert daemonset_image_problem("a@sha256:" + "1" * 64) is None and daemonset_image_problem("a:1") is not None
    assert daemonset_image_problem("@sha256:" + "1" * 64) is not None  # no name


def test_local_registry_hosting_is_off_unless_set() -> None:
    # fixed names in kube-public: a default of true made the second stack in a cluster collide
    assert load_settings({}, "dev").local_registry_hosting is False
    assert load_settings({"kubernetes": {"context": "prod"}}, "dev").local_registry_hosting is False
    assert load_settings({"kubernetes": {"context": "prod"}, "localRegistryHosting": True}, "dev").local_registry_hosting
    render = {"kubernetes": {"mode": "render"}, "localRegistryHosting": True}
    assert load_settings(render, "dev").local_registry_hosting is True


def test_daemonset_mode_installs_from_a_config_map() -> None:
    run = evaluate({**DEV, "nodeTrust": {**TRUST, "namespace": "infra", "certsDir": "/etc/k3s/certs.d/"}})
    daemonset = run.one(DAEMONSET)
    files = next(r for r in run.of_type(CONFIG_MAP) if r.inputs["metadata"]["namespace"] == "infra")
    assert files.inputs["metadata"]["name"] == daemonset.inputs["metadata"]["name"] == "registry-trust-dev"
    assert files.inputs["data"]["hosts.toml"] == run.outputs["containerdHostsToml"]
    assert files.inputs["data"]["ca.crt"] == run.outputs["caCertificate"]
    assert files.urn in daemonset.dependencies and daemonset.provider == files.provider != ""
    pod = daemonset.inputs["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == BUSYBOX
    assert {"name": "certs-d", "hostPath": {"path": "/etc/k3s/certs.d", "type": "Directory"}} in pod["volumes"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    annotations = daemonset.inputs["spec"]["template"]["metadata"]["annotations"]
    assert annotations["private-registry/trust-sha256"] == trust_hash(
        run.outputs["containerdHostsToml"], run.outputs["caCertificate"]
    )


def hardened(pod: dict[str, Any], certs_dir: str) -> None:
    """The node script's pod: only `certs_dir` from the host, root without capabilities, locked down."""
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    host = [v for v in pod["volumes"] if "hostPath" in v]
    assert host == [{"name": "certs-d", "hostPath": {"path": certs_dir, "type": "Directory"}}]
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    writable = [m for m in container["volumeMounts"] if not m.get("readOnly")]
    assert {m["name"] for m in writable} <= {"certs-d", "status"}


def test_the_installer_and_the_cleanup_are_hardened() -> None:
    spec = daemonset_spec("n", BUSYBOX, "h:1", "/etc/containerd/certs.d", "hash", [("docker.io", "n-mirror")], OURS)
    hardened(spec["template"]["spec"], "/etc/containerd/certs.d")  # type: ignore[index]  # a plain dict
    cleanup = cleanup_daemonset("n-cleanup", "kube-system", BUSYBOX, "/etc/containerd/certs.d", OURS)
    hardened(cleanup["spec"]["template"]["spec"], "/etc/containerd/certs.d")
    env = {e["name"]: e["value"] for e in cleanup["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"MODE": "remove", "OWNER": OURS, "FOLDERS": ""}
    assert cleanup["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"][-1].endswith("/done")


def test_trust_owner_is_stable_and_apart() -> None:
    one = trust_owner("private-registry", "dev", "registry-node-trust")
    assert one == trust_owner("private-registry", "dev", "registry-node-trust") and re.fullmatch(r"[0-9a-f]{20}", one)
    assert len({one, trust_owner("private-registry", "prod", "registry-node-trust"), trust_owner("p", "dev", "x")}) == 3


def test_in_cluster_mode_the_daemonset_depends_on_its_cleanup() -> None:
    run = evaluate({**DEV, "nodeTrust": {**TRUST, "namespace": "infra"}, "mirrors": {"docker.io": {"port": 5002}}})
    cleanup, daemonset = run.one(CLEANUP), run.one(DAEMONSET)
    assert cleanup.urn in daemonset.dependencies
    owner = trust_owner("private-registry", "dev", "registry-node-trust")
    assert {k: cleanup.inputs[k] for k in ("namespace", "name", "installer", "image", "certsDir", "owner", "context")} == {
        "namespace": "infra",
        "name": "registry-trust-dev-cleanup",
        "installer": "registry-trust-dev",
        "image": BUSYBOX,
        "certsDir": "/etc/containerd/certs.d",
        "owner": owner,
        "context": "sandbox",
    }
    env = {e["name"]: e["value"] for e in daemonset.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env == {"MODE": "install", "OWNER": owner, "FOLDERS": "localhost:5000 docker.io"}


def test_a_certs_dir_change_replaces_the_cleanup_and_other_changes_update_it() -> None:
    props = {"namespace": "a", "name": "c", "installer": "i", "image": BUSYBOX, "certsDir": "/x/certs.d", "owner": OURS}
    provider = NodeTrustCleanupProvider()
    assert provider.diff("id", props, dict(props)).changes is False
    moved = provider.diff("id", props, {**props, "certsDir": "/y/certs.d"})
    assert moved.changes and moved.replaces == ["certsDir"] and moved.delete_before_replace is False
    other_namespace = provider.diff("id", props, {**props, "namespace": "b"})
    assert other_namespace.changes and other_namespace.replaces == []  # the new DaemonSet takes the folders over


class FakeCluster:
    """The cluster as the cleanup sees it: installer pods that go away after `installer_polls` looks, a
    cleanup DaemonSet ready after `ready_polls` looks (never, with None)."""

    def __init__(self, installer_polls: int, ready_polls: int | None) -> None:
        self.installer_polls, self.ready_polls = installer_polls, ready_polls
        self.calls: list[tuple[str, ...]] = []
        self.created: dict[str, Any] = {}

    def pods(self, selector: str) -> dict[str, Any]:
        self.calls.append(("pods", selector))
        if selector == "app.kubernetes.io/name=registry-trust-dev":
            self.installer_polls -= 1
            volume = {"name": "certs-d", "hostPath": {"path": "/etc/containerd/certs.d"}}
            items = [{"metadata": {"name": "installer-x"}, "spec": {"volumes": [volume]}}] if self.installer_polls >= 0 else []
            return {"items": items}
        ready = {"type": "Ready", "status": "True"}
        return {"items": [
            {"metadata": {"name": "c-1"}, "spec": {"nodeName": "node-a"}, "status": {"conditions": [ready]}},
            {"metadata": {"name": "c-2"}, "spec": {"nodeName": "node-b"}, "status": {"conditions": []}},
        ]}  # fmt: skip

    def create_daemonset(self, manifest: Mapping[str, Any]) -> None:
        self.calls.append(("create", manifest["metadata"]["name"]))
        self.created = dict(manifest)

    def daemonset(self, name: str) -> dict[str, Any] | None:
        self.calls.append(("daemonset", name))
        ready = self.ready_polls is not None and self.ready_polls <= 0
        if self.ready_polls is not None:
            self.ready_polls -= 1
        status = {"observedGeneration": 1, "desiredNumberScheduled": 2, "numberReady": 2 if ready else 1}
        return {"metadata": {"generation": 1}, "status": status}

    def delete_daemonset(self, name: str) -> None:
        self.calls.append(("delete", name))


PROPS = {"namespace": "kube-system", "name": "registry-trust-dev-cleanup", "installer": "registry-trust-dev",
         "image": BUSYBOX, "certsDir": "/etc/containerd/certs.d", "owner": OURS, "timeoutSeconds": 30}  # fmt: skip


def fake_clock() -> tuple[Callable[[], float], Callable[[float], None]]:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return (lambda: now[0]), sleep


def test_the_cleanup_waits_for_the_installer_then_runs_on_every_node_and_goes() -> None:
    cluster = FakeCluster(installer_polls=3, ready_polls=2)
    clock, sleep = fake_clock()
    remove_from_nodes(PROPS, cluster, clock, sleep)
    first_create = cluster.calls.index(("create", PROPS["name"]))
    installer_looks = [i for i, c in enumerate(cluster.calls) if c == ("pods", "app.kubernetes.io/name=registry-trust-dev")]
    assert len(installer_looks) == 4 and max(installer_looks) < first_create  # nothing runs while an installer does
    assert cluster.created == cleanup_daemonset(PROPS["name"], "kube-system", BUSYBOX, PROPS["certsDir"], OURS)
    assert cluster.calls[-1] == ("delete", PROPS["name"])
    assert len([c for c in cluster.calls if c[0] == "daemonset"]) == 3


def test_a_node_that_does_not_finish_fails_the_delete_by_name_and_the_cleanup_still_goes() -> None:
    cluster = FakeCluster(installer_polls=0, ready_polls=None)
    clock, sleep = fake_clock()
    with pytest.raises(CleanupError, match=r"not removed from node\(s\) node-b within 30 s") as caught:
        remove_from_nodes(PROPS, cluster, clock, sleep)
    assert f"starts with 'owner {OURS}'" in str(caught.value)
    assert cluster.calls[-1] == ("delete", PROPS["name"])


def test_an_installer_that_stays_fails_before_anything_is_removed() -> None:
    cluster = FakeCluster(installer_polls=10**6, ready_polls=0)
    clock, sleep = fake_clock()
    with pytest.raises(CleanupError, match="installer pod\\(s\\) installer-x still run after 30 s; nothing was removed"):
        remove_from_nodes(PROPS, cluster, clock, sleep)
    assert [c for c in cluster.calls if c[0] != "pods"] == []


def test_cleanup_decisions() -> None:
    pods = {"items": [
        {"metadata": {"name": "a"}, "spec": {"volumes": [{"name": "certs-d", "hostPath": {"path": "/old/certs.d"}}]}},
        {"metadata": {"name": "b"}, "spec": {"volumes": [{"name": "certs-d", "hostPath": {"path": "/new/certs.d"}}]}},
    ]}  # fmt: skip
    assert installers_left(pods, "/old/certs.d") == ["a"] and installers_left({"items": []}, "/old/certs.d") == []
    unseen = {"metadata": {"generation": 1}, "status": {}}  # before the controller counted the nodes: 0 of 0
    assert cleanup_done(unseen) is False
    assert cleanup_done({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 0}})
    ready = {"observedGeneration": 1, "desiredNumberScheduled": 3, "numberReady": 3}
    assert cleanup_done({"metadata": {"generation": 1}, "status": ready})
    assert not cleanup_done({"metadata": {"generation": 1}, "status": {**ready, "numberReady": 2}})


def test_local_registry_hosting_config_maps_in_kube_public() -> None:
    run = evaluate({**DEV, "localRegistryHosting": True})
    maps = {r.inputs["metadata"]["name"]: r for r in run.of_type(CONFIG_MAP)}
    assert {m.inputs["metadata"]["namespace"] for m in maps.values()} == {"kube-public"}
    assert maps["local-registry-hosting"].inputs["data"] == {"localRegistryHosting.v1": local_registry_hosting("localhost:5000")}
    assert maps["private-registry-ca"].inputs["data"] == {"ca.crt": run.outputs["caCertificate"]}
    off = evaluate({**DEV, "localRegistryHosting": False})
    assert not off.of_type(CONFIG_MAP) and not off.of_type(DAEMONSET)


def test_render_mode_renders_node_trust_too(tmp_path: Path) -> None:
    k8s = {"mode": "render", "renderDirectory": str(tmp_path / "out")}
    run = evaluate({**DEV, "kubernetes": k8s, "nodeTrust": TRUST, "localRegistryHosting": True})
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path / "out")
    assert len(run.of_type(DAEMONSET)) == 1 and len(run.of_type(CONFIG_MAP)) == 3
    assert not run.of_type(CLEANUP)  # no cluster to run it in: removal is the user's
    assert {r.provider.rsplit("::", 1)[0] for r in [*run.of_type(CONFIG_MAP), *run.of_type(DAEMONSET)]} == {provider.urn}


def test_the_daemonset_installs_each_mirrors_hosts_toml_into_its_upstreams_folder() -> None:
    settings = {**DEV, "nodeTrust": TRUST, "mirrors": {"harbor.corp:8443": {"port": 5002}}}
    run = evaluate(settings)
    spec = run.one("kubernetes:apps/v1:DaemonSet").inputs["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FOLDERS"] == "localhost:5000 harbor.corp:8443"
    mirror_map = next(
        c for c in run.of_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"].endswith("mirror-harbor-corp-8443")
    )
    assert mirror_map.inputs["data"]["hosts.toml"] == run.outputs["mirrorHostsToml"]["harbor.corp:8443"]
    # the i-th folder's ConfigMap at /trust/i, where the script reads it
    assert {"name": "trust-1", "configMap": {"name": mirror_map.inputs["metadata"]["name"]}} in spec["volumes"]
    assert {"name": "trust-1", "mountPath": f"{TRUST_MOUNT}/1", "readOnly": True} in container["volumeMounts"]
    assert {"name": "trust-0", "configMap": {"name": "registry-trust-dev"}} in spec["volumes"]
