"""Unit and program tests: node trust content, the DaemonSet that installs it, and the KEP-1755 ConfigMaps."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.node_trust import (
    HOST_MOUNT,
    INSTALL_SCRIPT,
    TRUST_MOUNT,
    containerd_hosts_toml,
    daemonset_spec,
    local_registry_hosting,
    object_name,
    trust_hash,
)
from components.settings import SettingsError, load_settings
from tests.program_harness import evaluate
from tests.test_program import DEV

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
TRUST = {"mode": "daemonset", "image": "busybox:1.37"}


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


def test_install_script_writes_both_files_and_restores_a_deleted_one(tmp_path: Path) -> None:
    trust, host = tmp_path / "trust", tmp_path / "host"
    trust.mkdir()
    host.mkdir()
    (trust / "hosts.toml").write_text("toml\n")
    (trust / "ca.crt").write_text("CA\n")
    script = INSTALL_SCRIPT.replace(TRUST_MOUNT, str(trust)).replace(HOST_MOUNT, str(host)).replace("sleep 30", "sleep 0.2")
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "ENDPOINT": "10.0.0.5:5000"}, text=True,
                            stdout=subprocess.PIPE)  # fmt: skip
    target = host / "10.0.0.5:5000"
    try:
        deadline = time.monotonic() + 10
        while not (target / "hosts.toml").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (target / "hosts.toml").read_text() == "toml\n" and (target / "ca.crt").read_text() == "CA\n"
        (target / "ca.crt").unlink()
        (trust / "hosts.toml").write_text("toml 2\n")  # as when the ConfigMap volume is updated
        deadline = time.monotonic() + 10
        while not ((target / "ca.crt").exists() and (target / "hosts.toml").read_text() == "toml 2\n"):
            assert time.monotonic() < deadline, "the script did not restore the files"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0  # TERM ends it at once, cleanly
    assert not list(target.glob(".*.new"))


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
    assert pod["containers"][0]["image"] == "busybox:1.37"
    assert {"name": "certs-d", "hostPath": {"path": "/etc/k3s/certs.d", "type": "DirectoryOrCreate"}} in pod["volumes"]
    assert pod["tolerations"] == [{"operator": "Exists"}]
    annotations = daemonset.inputs["spec"]["template"]["metadata"]["annotations"]
    assert annotations["private-registry/trust-sha256"] == trust_hash(
        run.outputs["containerdHostsToml"], run.outputs["caCertificate"]
    )


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
    assert {r.provider.rsplit("::", 1)[0] for r in [*run.of_type(CONFIG_MAP), *run.of_type(DAEMONSET)]} == {provider.urn}


def test_the_daemonset_installs_each_mirrors_hosts_toml_into_its_upstreams_folder() -> None:
    daemonset = {"mode": "daemonset", "image": "busybox:1.37"}
    settings = {**DEV, "nodeTrust": daemonset, "mirrors": {"harbor.corp:8443": {"port": 5002}}}
    run = evaluate(settings)
    spec = run.one("kubernetes:apps/v1:DaemonSet").inputs["spec"]["template"]["spec"]
    assert [(c["name"], c["env"][0]["value"]) for c in spec["containers"]] == [
        ("install", "localhost:5000"),
        ("install-mirror-0", "harbor.corp:8443"),
    ]
    mirror_map = next(
        c for c in run.of_type("kubernetes:core/v1:ConfigMap") if c.inputs["metadata"]["name"].endswith("mirror-harbor-corp-8443")
    )
    assert mirror_map.inputs["data"]["hosts.toml"] == run.outputs["mirrorHostsToml"]["harbor.corp:8443"]
    assert {"name": "mirror-0", "configMap": {"name": mirror_map.inputs["metadata"]["name"]}} in spec["volumes"]
    # Without mirrors the DaemonSet is the one deployed stacks run (no rollout on upgrade).
    plain = evaluate({**DEV, "nodeTrust": daemonset}).one("kubernetes:apps/v1:DaemonSet").inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in plain["containers"]] == ["install"] and [v["name"] for v in plain["volumes"]] == [
        "trust",
        "certs-d",
    ]
