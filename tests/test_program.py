"""Program tests: the whole `__main__.py` under `pulumi.runtime.set_mocks`, asserting the graph."""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path
from typing import Any

import bcrypt
import pulumi
import pytest

from components.distribution import STORAGE_ROOT
from components.htpasswd import GENERATED_PASSWORD_COST
from components.leftover_container import MANAGED_BY, MANAGED_BY_LABEL, data_volume
from tests.program_harness import DYNAMIC, ProgramRun, Registration, evaluate

DEV = {
    "hostnames": ["localhost"],
    "ipAddresses": ["127.0.0.1"],
    "users": [{"name": "admin"}],
    "image": "private-registry/registry:3.1.2-local",
    "pullImage": False,
    "port": 5000,
    "kubernetes": {"context": "sandbox"},
}
CONTAINER = "docker:index/container:Container"
PULL_HOST = {"capabilities": ["pull", "resolve"], "ca": "ca.crt"}
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return evaluate(DEV)


def env_of(container: Registration) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs["envs"])


CONFIG_FILES = "pulumi-python:dynamic/private-registry:ConfigFiles"


def named_volume(run: ProgramRun, name: str) -> Registration:
    return next(v for v in run.of_type("docker:index/volume:Volume") if v.inputs["name"] == name)


def config_file(run: ProgramRun, container: Registration, path: str) -> dict[str, str]:
    """The file `path` (as the registry reads it) that the container's config volume gets: content and mode."""
    files = next(r for r in run.of_type(CONFIG_FILES) if r.parent == container.parent)
    return dict(files.inputs["files"][path.removeprefix("/etc/distribution/")])


def upload(run: ProgramRun, container: Registration, path: str) -> str:
    return config_file(run, container, path)["content"]


def test_graph_has_the_expected_resources(dev: ProgramRun) -> None:
    assert dev.type_counts() == {
        "private-registry:index:PrivateRegistry": 1,
        "private-registry:index:RegistryTls": 1,
        "private-registry:index:Htpasswd": 1,
        "private-registry:index:RegistryHost": 1,
        "private-registry:index:RegistryContainer": 1,
        "private-registry:index:PullSecrets": 1,
        "private-registry:index:NodeTrust": 1,
        "tls:index/privateKey:PrivateKey": 2,
        "tls:index/selfSignedCert:SelfSignedCert": 1,
        "tls:index/certRequest:CertRequest": 1,
        "tls:index/locallySignedCert:LocallySignedCert": 1,
        DYNAMIC: 4,  # stack target, htpasswd file, HTTP secret, admin's generated password
        "docker:index/volume:Volume": 1,  # the data volume (the config volume is its files' own)
        "pulumi-python:dynamic/private-registry:ConfigFiles": 1,
        "pulumi-python:dynamic/private-registry:PullCredential": 1,
        CONTAINER: 1,
        "pulumi:providers:kubernetes": 1,
        SECRET: 1,
    }


def test_a_stack_that_names_no_cluster_has_no_kubernetes_resource_at_all() -> None:
    run = evaluate({k: v for k, v in DEV.items() if k != "kubernetes"})
    assert not [r.type for r in run.registrations if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))]
    assert run.outputs["pullSecretNamespaces"] == [] and CONTAINER in run.type_counts()


def test_every_child_has_its_component_as_parent_and_a_derived_name(dev: ProgramRun) -> None:
    top = dev.one("private-registry:index:PrivateRegistry")
    assert top.parent.endswith("pulumi:pulumi:Stack::private-registry-dev")
    for r in dev.registrations:
        if r is top:
            continue
        parent = dev.by_urn(r.parent)
        if r.type == "private-registry:index:RegistryHost":  # target docker's component takes the registry's name
            assert r.name == parent.name == top.name, (r.name, parent.name)  # so its containers keep theirs
            continue
        assert r.name.startswith(parent.name + "-"), (r.name, parent.name)
        if r.custom or r.type.startswith("pulumi:providers:"):
            assert parent.type.startswith("private-registry:index:"), r.name


def test_container_gets_tls_htpasswd_and_the_data_volume(dev: ProgramRun) -> None:
    container = dev.one(CONTAINER)
    volume = named_volume(dev, "registry-data-dev")
    env = env_of(container)
    assert env["REGISTRY_AUTH"] == "htpasswd"
    assert env["REGISTRY_HTTP_TLS_CERTIFICATE"] == "/etc/distribution/certs/tls.crt"
    assert env["REGISTRY_HTTP_TLS_KEY"] == "/etc/distribution/certs/tls.key"
    assert env["REGISTRY_AUTH_HTPASSWD_PATH"] == "/etc/distribution/auth/htpasswd"
    assert len(env["REGISTRY_HTTP_SECRET"]) >= 40 and env["REGISTRY_HTTP_DRAINTIMEOUT"] == "5s"
    server_cert = next(r for r in dev.of_type("tls:index/locallySignedCert:LocallySignedCert"))
    assert "MOCK registry-tls-server-cert" in upload(dev, container, "/etc/distribution/certs/tls.crt")
    assert "MOCK registry-tls-server-key" in upload(dev, container, "/etc/distribution/certs/tls.key")
    assert server_cert.inputs["allowedUses"] == ["server_auth", "digital_signature", "key_encipherment"]
    assert container.inputs["volumes"] == [
        {"containerPath": "/var/lib/registry", "volumeName": "registry-data-dev"},
        {"containerPath": "/etc/distribution", "volumeName": "registry-dev-config", "readOnly": True},
    ]
    assert volume.inputs["name"] == "registry-data-dev"
    # Non-root, read-only root file system, a tmpfs where Distribution may write besides its volume.
    assert (container.inputs["user"], container.inputs["readOnly"]) == ("1000:1000", True)
    assert container.inputs["tmpfs"] == {"/tmp": "rw,noexec,nosuid,size=64m"}
    files = dev.one(CONFIG_FILES)
    assert (files.inputs["volume"], files.inputs["image"]) == ("registry-dev-config", container.inputs["image"])
    assert "files" in files.secret_inputs and "uploads" not in container.inputs
    assert container.inputs["ports"] == [{"internal": 5000, "external": 5000}]
    assert container.inputs["restart"] == "always" and container.inputs["wait"] is True
    assert container.inputs["healthcheck"]["tests"][:2] == ["CMD", "wget"]
    assert container.inputs["image"] == "private-registry/registry:3.1.2-local"
    assert container.delete_before_replace is True
    assert "envs" in container.secret_inputs
    assert dev.by_urn(files.urn).name in {dev.by_urn(u).name for u in container.dependencies}  # written first


def test_htpasswd_upload_matches_the_users_and_the_pull_secret(dev: ProgramRun) -> None:
    htpasswd = upload(dev, dev.one(CONTAINER), "/etc/distribution/auth/htpasswd")
    hashes = dict(line.split(":", 1) for line in htpasswd.splitlines())
    assert list(hashes) == ["admin"]
    secret = dev.one(SECRET)
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert secret.inputs["metadata"]["name"] == "registry-pull-secret" and secret.inputs["metadata"]["namespace"] == "default"
    assert "data" in secret.secret_inputs
    config = json.loads(base64.b64decode(secret.inputs["data"][".dockerconfigjson"]))
    entry = config["auths"]["localhost:5000"]
    assert base64.b64decode(entry["auth"]).decode() == f"admin:{entry['password']}"
    assert bcrypt.checkpw(entry["password"].encode(), hashes["admin"].encode())
    assert dev.outputs["passwords"] == {"admin": entry["password"]}
    assert json.loads(dev.outputs["dockerConfigJson"]) == config


def test_secret_outputs_are_secret_and_the_rest_are_not(dev: ProgramRun) -> None:
    assert dev.secret_outputs == {"passwords", "dockerConfigJson"}
    assert set(dev.outputs) == {
        "endpoint",
        "caCertificate",
        "certificateExpiresAt",
        "usernames",
        "passwords",
        "dockerConfigJson",
        "containerdHostsToml",
        "pullSecretName",
        "pullSecretNamespaces",
        "target",
        "containerName",
        "dataVolume",
    }
    assert dev.outputs["endpoint"] == "localhost:5000" and dev.outputs["usernames"] == ["admin"]
    assert dev.outputs["containerName"] == "registry-dev" and dev.outputs["dataVolume"] == "registry-data-dev"
    assert dev.outputs["pullSecretNamespaces"] == ["default"] and dev.outputs["target"] == "docker"


def test_generated_values_are_marked_secret_by_their_resources(dev: ProgramRun) -> None:
    users_file = next(r for r in dev.of_type(DYNAMIC) if "users" in r.inputs)
    assert {"content", "entries"} <= set(users_file.additional_secret_outputs)
    assert "users" in users_file.secret_inputs
    generated = [r for r in dev.of_type(DYNAMIC) if "length" in r.inputs]
    assert sorted(r.name for r in generated) == ["registry-registry-http-secret", "registry-users-admin-password"]
    assert all(r.additional_secret_outputs == ["value"] for r in generated)
    certs = dev.of_type("tls:index/locallySignedCert:LocallySignedCert") + dev.of_type("tls:index/selfSignedCert:SelfSignedCert")
    for cert in certs:
        assert cert.secret_inputs & {"privateKeyPem", "caPrivateKeyPem"}


def test_data_volume_is_kept_on_destroy_unless_asked() -> None:
    assert named_volume(evaluate(DEV), "registry-data-dev").retain_on_delete is True
    assert named_volume(evaluate({**DEV, "retainData": False}), "registry-data-dev").retain_on_delete is False


def test_pull_secret_depends_on_the_pull_users_credential_only_and_waits_for_the_registry() -> None:
    run = evaluate({**DEV, "users": [{"name": "admin"}, {"name": "ci"}]})
    secret = run.one(SECRET)
    names = {run.by_urn(u).name for u in secret.dependencies}
    # Another user's change leaves the pull secret alone; a new credential goes out once the registry
    # runs and its htpasswd file holds it (the file, not the container, changes for a new password).
    assert "registry-users-file" not in names and "registry-users-ci-password" not in names
    assert {"registry-users-pull-credential", "registry-registry-config-files", "registry-registry-container"} <= names
    credential = run.one("pulumi-python:dynamic/private-registry:PullCredential")
    assert {run.by_urn(u).name for u in credential.dependencies} == {"registry-users-admin-password"}
    assert credential.inputs["user"] == "admin"


def test_orderings_that_matter_only_when_applying_are_left_out_of_a_preview() -> None:
    def edges(run: ProgramRun, name: str) -> set[str]:
        return {run.by_urn(u).name for u in next(r for r in run.registrations if r.name == name).dependencies}

    applying, previewing = evaluate(DEV), evaluate(DEV, preview=True)
    # `up`: the container after its files, the pull secret after the registry that serves pulls.
    assert "registry-registry-config-files" in edges(applying, "registry-registry-container")
    assert "registry-registry-container" in edges(applying, "registry-pull-secrets-default")
    # A preview plans the same steps without waiting on them (a shorter chain of round trips).
    assert "registry-registry-config-files" not in edges(previewing, "registry-registry-container")
    assert "registry-registry-container" not in edges(previewing, "registry-pull-secrets-default")
    assert "registry-users-pull-credential" in edges(previewing, "registry-pull-secrets-default")  # its data


def test_without_pull_secrets_there_is_no_pull_credential_and_the_file_has_no_plan() -> None:
    run = evaluate({**DEV, "pullSecret": {"namespaces": []}})
    assert not run.of_type("pulumi-python:dynamic/private-registry:PullCredential")
    file = next(r for r in run.of_type(DYNAMIC) if r.name == "registry-users-file")
    assert "pullPlan" not in file.inputs
    assert json.loads(run.outputs["dockerConfigJson"])["auths"][run.outputs["endpoint"]]["username"] == "admin"


def test_a_user_name_ending_like_a_rotated_name_is_refused() -> None:
    with pytest.raises(Exception, match=r"users\[1\]\.name.*must not end with ~rotated"):
        evaluate({**DEV, "users": [{"name": "admin"}, {"name": "admin~rotated"}]})


def test_pull_secret_namespaces_do_not_feed_the_container() -> None:
    run = evaluate({**DEV, "pullSecret": {"namespaces": ["default", "apps", "ci"], "patchDefaultServiceAccount": True}})
    assert sorted(s.inputs["metadata"]["namespace"] for s in run.of_type(SECRET)) == ["apps", "ci", "default"]
    patches = run.of_type("kubernetes:core/v1:ServiceAccountPatch")
    assert sorted(p.inputs["metadata"]["namespace"] for p in patches) == ["apps", "ci", "default"]
    assert all(p.inputs["imagePullSecrets"] == [{"name": "registry-pull-secret"}] for p in patches)
    container = run.one(CONTAINER)
    kube_urns = {r.urn for r in run.registrations if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))}
    assert not kube_urns & set(container.dependencies)


def test_no_namespaces_means_no_kubernetes_at_all() -> None:
    run = evaluate({**DEV, "pullSecret": {"namespaces": []}})
    assert not [r for r in run.registrations if "kubernetes" in r.type]
    assert run.outputs["pullSecretNamespaces"] == []


def test_pulling_the_image_uses_its_id_and_keeps_it_locally() -> None:
    run = evaluate({**DEV, "image": "registry:3.0.0", "pullImage": True})
    image = run.one("docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == "registry:3.0.0" and image.inputs["keepLocally"] is True
    assert run.one(CONTAINER).inputs["image"] == "sha256:" + "ab" * 32


def test_render_mode_writes_manifests_to_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "rendered"
    run = evaluate({**DEV, "kubernetes": {"mode": "render", "renderDirectory": str(folder)}})
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(folder)
    assert provider.inputs["kubeconfig"] == ""  # never the $KUBECONFIG the SDK would fill in
    assert folder.is_dir() and (folder.stat().st_mode & 0o077) == 0


def test_cluster_mode_uses_the_context() -> None:
    provider = evaluate({**DEV, "kubernetes": {"mode": "cluster", "context": "kind-ci"}}).one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "kind-ci" and "renderYamlToDirectory" not in provider.inputs


def test_cluster_mode_keeps_the_kubeconfig_path_out_of_the_provider_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK would copy $KUBECONFIG into the inputs (and state): another machine's path would be a diff.
    monkeypatch.setenv("KUBECONFIG", "/home/someone/.kube/config")
    provider = evaluate(DEV).one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == ""


def test_container_carries_the_label_the_leftover_hook_checks_and_the_hook(dev: ProgramRun) -> None:
    container = dev.one(CONTAINER)
    labels = {item["label"]: item["value"] for item in container.inputs["labels"]}
    assert labels.pop(MANAGED_BY_LABEL) == MANAGED_BY
    # A hash of what TLS reads at start (a renewal replaces the container), never the material itself.
    assert len(labels.pop("io.private-registry.tls-sha256")) == 64 and not labels
    assert container.before_create_hooks == ["registry-registry-remove-leftover-container", "registry-registry-own-data-volume"]
    # The hook reads the data volume from these inputs (the volume at the storage root).
    assert data_volume(container.inputs, STORAGE_ROOT) == "registry-data-dev"


def test_configured_secret_password_is_used() -> None:
    settings: dict[str, Any] = {**DEV, "users": [{"name": "admin", "password": "from-config"}, {"name": "ci"}]}
    run = evaluate(settings, secret_keys=["private-registry:users"])
    assert run.outputs["passwords"]["admin"] == "from-config" and len(run.outputs["passwords"]["ci"]) >= 32
    hashes = dict(line.split(":", 1) for line in upload(run, run.one(CONTAINER), "/etc/distribution/auth/htpasswd").splitlines())
    assert bcrypt.checkpw(b"from-config", hashes["admin"].encode())


def test_configured_passwords_get_the_cost_and_generated_ones_the_lowest() -> None:
    settings: dict[str, Any] = {**DEV, "bcryptCost": 11, "users": [{"name": "admin", "password": "from-config"}, {"name": "ci"}]}
    run = evaluate(settings, secret_keys=["private-registry:users"])
    hashes = dict(line.split(":", 1) for line in upload(run, run.one(CONTAINER), "/etc/distribution/auth/htpasswd").splitlines())
    assert hashes["admin"].startswith("$2b$11$") and hashes["ci"].startswith(f"$2b${GENERATED_PASSWORD_COST:02d}$")


def test_ecdsa_keys_set_the_curve() -> None:
    run = evaluate({**DEV, "keyAlgorithm": "ECDSA", "ecdsaCurve": "P384"})
    keys = [k.inputs for k in run.of_type("tls:index/privateKey:PrivateKey")]
    assert keys == [{"algorithm": "ECDSA", "ecdsaCurve": "P384"}] * 2


def test_server_certificate_has_dns_and_ip_sans_and_renewal_window() -> None:
    sans = {"hostnames": ["registry.example", "localhost"], "ipAddresses": ["10.0.0.5"]}
    run = evaluate({**DEV, **sans, "validityDays": 90, "earlyRenewalDays": 10})
    csr = run.one("tls:index/certRequest:CertRequest")
    assert csr.inputs["dnsNames"] == ["registry.example", "localhost"] and csr.inputs["ipAddresses"] == ["10.0.0.5"]
    assert csr.inputs["subject"]["commonName"] == "registry.example"
    cert = run.one("tls:index/locallySignedCert:LocallySignedCert")
    assert (cert.inputs["validityPeriodHours"], cert.inputs["earlyRenewalHours"]) == (90 * 24, 10 * 24)
    ca = run.one("tls:index/selfSignedCert:SelfSignedCert")
    assert ca.inputs["isCaCertificate"] is True and "cert_signing" in ca.inputs["allowedUses"]
    assert ca.inputs["subject"]["commonName"] != csr.inputs["subject"]["commonName"]


def test_bad_settings_stop_before_any_resource() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        evaluate({**DEV, "port": 70000, "pullSecret": {"namespaces": ["Bad_NS"]}})
    assert str(caught.value).count("\n  - ") == 2


def test_secret_config_values_stay_out_of_the_settings_error() -> None:
    # The engine marks `users` secret after `pulumi config set --secret --path 'private-registry:users.password'`.
    with pytest.raises(pulumi.RunError) as caught:
        evaluate({**DEV, "users": {"password": "leak-me-not"}}, secret_keys=["private-registry:users"])
    assert "leak-me-not" not in str(caught.value)
    assert "private-registry:users = <secret: an object with keys password>" in str(caught.value)


def test_delete_flag_is_always_explicit_and_health_wait_follows_the_setting() -> None:
    container = evaluate({**DEV, "deleteEnabled": True, "healthTimeoutSeconds": 120}).one(CONTAINER)
    assert env_of(container)["REGISTRY_STORAGE_DELETE_ENABLED"] == "true" and container.inputs["waitTimeout"] == 120


def test_health_check_uses_the_debug_listener_on_loopback_only() -> None:
    container = evaluate(DEV).one(CONTAINER)
    env = env_of(container)
    # The official image's config turns deletes on: the default must say false explicitly.
    assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "false" and container.inputs["waitTimeout"] == 60
    assert env["REGISTRY_HTTP_DEBUG_ADDR"] == "127.0.0.1:5001"
    assert container.inputs["healthcheck"]["tests"] == [
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:5001/debug/health",
    ]
    assert [p["internal"] for p in container.inputs["ports"]] == [5000]  # the debug port is never published


def test_the_http_secret_belongs_to_the_container_and_keeps_its_old_address(dev: ProgramRun) -> None:
    secret = next(r for r in dev.of_type(DYNAMIC) if r.name == "registry-registry-http-secret")
    assert dev.by_urn(secret.parent).type == "private-registry:index:RegistryContainer"
    # Deployed stacks had it as `registry-http-secret` under PrivateRegistry: the alias keeps it.
    top = dev.one("private-registry:index:PrivateRegistry")
    specs = [json.loads(a)["spec"] for a in secret.aliases]
    assert specs == [{"name": "registry-http-secret", "parentUrn": top.urn}], secret.aliases
    assert env_of(dev.one(CONTAINER))["REGISTRY_HTTP_SECRET"] != ""


def test_the_kubernetes_provider_keeps_its_old_address(dev: ProgramRun) -> None:
    provider = dev.one("pulumi:providers:kubernetes")
    assert dev.by_urn(provider.parent).type == "private-registry:index:PrivateRegistry"
    # Deployed stacks had it as `registry-pull-secrets-k8s` under PullSecrets: the alias keeps it.
    # (The engine's URN of PullSecrets; the mock monitor's own URNs leave out grandparent types.
    # tests/e2e/test_upgrade.py proves the alias against the real engine.)
    top = dev.one("private-registry:index:PrivateRegistry").urn
    pull_secrets = top[: top.rfind("::")] + "$private-registry:index:PullSecrets::registry-pull-secrets"
    specs = [json.loads(a)["spec"] for a in provider.aliases]
    assert specs == [{"name": "registry-pull-secrets-k8s", "parentUrn": pull_secrets}], provider.aliases


def test_a_pull_port_adds_a_read_only_container_on_the_same_volume() -> None:
    run = evaluate({**DEV, "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}], "pullPort": 5001})
    writer, reader = sorted(run.of_type(CONTAINER), key=lambda c: c.inputs["name"])
    assert (writer.inputs["name"], reader.inputs["name"]) == ("registry-dev", "registry-dev-pull")
    assert reader.inputs["volumes"][0]["volumeName"] == writer.inputs["volumes"][0]["volumeName"] == "registry-data-dev"
    assert reader.inputs["volumes"][0]["readOnly"] is True and "readOnly" not in writer.inputs["volumes"][0]
    assert (reader.inputs["ports"][0]["internal"], reader.inputs["ports"][0]["external"]) == (5000, 5001)
    assert env_of(reader)["REGISTRY_STORAGE_DELETE_ENABLED"] == "false"
    assert "REGISTRY_STORAGE_MAINTENANCE" in env_of(reader) and "REGISTRY_STORAGE_MAINTENANCE" not in env_of(writer)
    # The writer knows the push user only; the reader every user.
    assert [line.split(":")[0] for line in upload(run, writer, "/etc/distribution/auth/htpasswd").splitlines()] == ["ci"]
    assert [line.split(":")[0] for line in upload(run, reader, "/etc/distribution/auth/htpasswd").splitlines()] == [
        "ci",
        "puller",
    ]
    assert [v.inputs["name"] for v in run.of_type("docker:index/volume:Volume") if "data" in v.inputs["name"]] == [
        "registry-data-dev"
    ]  # one data volume, shared
    # Images keep the name CI pushes by: the pull secret is keyed by the endpoint and holds the pull
    # user; the node's hosts.toml (in the endpoint's folder) sends every pull to the read-only instance.
    config = json.loads(base64.b64decode(run.one(SECRET).inputs["data"][".dockerconfigjson"]))
    assert list(config["auths"]) == ["localhost:5000"] and config["auths"]["localhost:5000"]["username"] == "puller"
    assert run.outputs["pullEndpoint"] == "localhost:5001" and run.outputs["pullContainerName"] == "registry-dev-pull"
    hosts = tomllib.loads(run.outputs["containerdHostsToml"])
    assert hosts == {"server": "https://localhost:5001", "host": {"https://localhost:5001": PULL_HOST}}


def test_the_component_logs_the_settings_warnings_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: logged.append(message))
    evaluate({"kubernetes": {"context": "c"}, "pullSecret": {"namespaces": ["apps"]}, "bcryptCost": 8})
    assert [m.split(" ", 1)[0] for m in logged] == ["private-registry:bcryptCost", "private-registry:pullSecret.user"]


IMAGE = "pulumi-python:dynamic/private-registry:Image"


def test_declared_images_are_copied_as_a_push_user_once_the_registry_runs() -> None:
    settings = {
        **DEV,
        "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}],
        "pullPort": 5001,
        "images": [{"source": "src.example.com:5000/team/app:1"}, {"source": "busybox:1.37", "name": "base/busybox:1.37"}],
        "sourceRegistries": {"src.example.com:5000": {"username": "reader", "password": "from-a-config-secret"}},
    }
    run = evaluate(settings, secret_keys=["private-registry:sourceRegistries"])
    images = sorted(run.of_type(IMAGE), key=lambda r: r.name, reverse=True)
    assert [i.name for i in images] == ["registry-images-team/app:1", "registry-images-base/busybox:1.37"]
    component = run.one("private-registry:index:SeededImages")
    writer = next(c for c in run.of_type(CONTAINER) if c.inputs["name"] == "registry-dev")
    for image in images:
        assert image.parent == component.urn
        assert writer.urn in image.dependencies or run.by_urn(writer.parent).urn in image.dependencies
        assert image.inputs["username"] == "ci" and image.inputs["endpoint"] == DEV.get("endpoint", "localhost:5000")
        assert {"password"} <= image.secret_inputs and image.inputs["ca"].startswith("-----BEGIN CERTIFICATE-----")
    app, busybox = (i.inputs for i in images)
    assert (app["source"], app["repository"], app["tag"]) == ("src.example.com:5000/team/app:1", "team/app", "1")
    assert app["sourceAuth"] == {"username": "reader", "password": "from-a-config-secret"}
    assert "sourceAuth" in images[0].secret_inputs
    assert (busybox["source"], busybox["repository"], busybox.get("sourceAuth")) == (
        "docker.io/library/busybox:1.37",
        "base/busybox",
        None,
    )
    assert "images" in run.outputs and "images" not in run.secret_outputs


def test_a_stack_without_images_has_no_image_resources_nor_output(dev: ProgramRun) -> None:
    assert not dev.of_type(IMAGE) and not dev.of_type("private-registry:index:SeededImages")
    assert "images" not in dev.outputs


def test_a_mirror_is_a_proxy_container_with_a_volume_of_its_own_and_nodes_get_its_hosts_toml() -> None:
    ca = "-----BEGIN CERTIFICATE-----\nUPSTREAM\n-----END CERTIFICATE-----\n"
    mirrors = {"harbor.corp:8443": {"port": 5002, "username": "reader", "password": "upstream-secret", "ca": ca}}
    run = evaluate(
        {**DEV, "mirrors": mirrors, "pullSecret": {"namespaces": ["default"]}}, secret_keys=["private-registry:mirrors"]
    )
    mirror = next(c for c in run.of_type(CONTAINER) if c.inputs["name"] == "registry-dev-mirror-harbor-corp-8443")
    variables = env_of(mirror)
    assert (
        variables["REGISTRY_PROXY_REMOTEURL"] == "https://harbor.corp:8443"
        and variables["REGISTRY_PROXY_PASSWORD"] == "upstream-secret"
    )
    assert {"envs"} <= mirror.secret_inputs
    assert upload(run, mirror, "/etc/distribution/upstream/ca.crt") == ca
    assert mirror.inputs["ports"] == [{"internal": 5000, "external": 5002}]
    volumes = {v.inputs["name"]: v for v in run.of_type("docker:index/volume:Volume")}
    assert mirror.inputs["volumes"][0]["volumeName"] == "registry-data-dev-mirror-harbor-corp-8443"
    assert volumes["registry-data-dev-mirror-harbor-corp-8443"].retain_on_delete is False  # a cache
    assert run.outputs["mirrors"] == {"harbor.corp:8443": "localhost:5002"}
    assert 'server = "https://localhost:5002"' in run.outputs["mirrorHostsToml"]["harbor.corp:8443"]
    assert sorted(json.loads(run.outputs["dockerConfigJson"])["auths"]) == ["harbor.corp:8443", "localhost:5000"]


def test_metrics_on_target_docker_are_never_published() -> None:
    run = evaluate({**DEV, "metrics": {"enabled": True}})
    container = next(c for c in run.of_type(CONTAINER) if c.inputs["name"] == "registry-dev")
    assert env_of(container)["REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED"] == "true"
    assert [p["internal"] for p in container.inputs["ports"]] == [5000]  # the TLS port only


def test_every_registry_container_runs_without_capabilities_with_bounded_memory_and_logs() -> None:
    run = evaluate({**DEV, "container": {"memoryMiB": 256, "logMaxSize": "5m", "logMaxFiles": 2}})
    for container in run.of_type(CONTAINER):  # the registry and its read-only instance
        assert container.inputs["capabilities"] == {"drops": ["ALL"]}
        assert container.inputs["securityOpts"] == ["no-new-privileges:true"]
        assert container.inputs["memory"] == 256
        assert (container.inputs["logDriver"], container.inputs["logOpts"]) == ("json-file", {"max-size": "5m", "max-file": "2"})
        key, htpasswd = (config_file(run, container, f)["mode"] for f in ("certs/tls.key", "auth/htpasswd"))
        assert key == htpasswd == "0400" and config_file(run, container, "certs/tls.crt")["mode"] == "0444"
        assert (container.inputs["user"], container.inputs["readOnly"]) == ("1000:1000", True)
    with pytest.raises(Exception, match=r"container\.memoryMiB = 8: must be an integer in 64\.\.1048576"):
        evaluate({**DEV, "container": {"memoryMiB": 8}})
    with pytest.raises(Exception, match=r"container = \{.memoryMiB.: 256\}: is only used with target = docker"):
        evaluate({"target": "kubernetes", "container": {"memoryMiB": 256}})


def test_target_docker_is_one_component_whose_containers_keep_their_place_in_deployed_stacks() -> None:
    """The writer, the read-only instance and a mirror are children of `RegistryHost`; each carries an
    alias to `PrivateRegistry`, their parent until 2026-12-07, so a deployed stack replaces nothing
    (tests/e2e/test_upgrade.py proves it against the real engine). The pull secrets wait for the
    containers serving pulls (the read-only one and the mirror), not for the writer.
    """
    users = [{"name": "ci"}, {"name": "puller", "access": "pull"}]
    mirrors = {"docker.io": {"port": 5002}}
    run = evaluate({**DEV, "users": users, "pullPort": 5001, "mirrors": mirrors})
    top = run.one("private-registry:index:PrivateRegistry")
    host = run.one("private-registry:index:RegistryHost")
    assert (host.name, host.parent) == ("registry", top.urn)
    containers = {r.name: r for r in run.of_type("private-registry:index:RegistryContainer")}
    assert sorted(containers) == ["registry-mirror-docker-io", "registry-pull", "registry-registry"]
    for container in containers.values():
        assert container.parent == host.urn
        assert [json.loads(a)["spec"] for a in container.aliases] == [{"parentUrn": top.urn}], container.name
    assert sorted(run.outputs[k] for k in ("containerName", "pullContainerName")) == ["registry-dev", "registry-dev-pull"]
    assert run.outputs["pullEndpoint"] == "localhost:5001"
    secret = run.one(SECRET)
    waited = {run.by_urn(urn).parent for urn in secret.dependencies if run.by_urn(urn).type == CONTAINER}
    assert waited == {containers["registry-pull"].urn, containers["registry-mirror-docker-io"].urn}
