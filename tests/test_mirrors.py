"""Setting `mirrors` and what a mirror runs with, without a registry."""

from __future__ import annotations

import base64
import json
from typing import Any

import bcrypt
import pytest

from components.distribution import instance_variables, plain_instance
from components.mirrors import MIRROR_USER, Mirror, parse_mirrors
from components.model import KubernetesTarget, SettingsError, StorageSettings
from components.node_trust import containerd_hosts_toml
from components.own_certificate import roll_hash
from components.pull_secret import auth_entry, docker_config_json
from components.registry import TLS_LABEL, tls_hash
from components.registry_kube import content_hash
from components.settings import load_settings
from tests import program_harness


def parsed(value: Any, ports: tuple[int, ...] = (5000,)) -> tuple[list[str], tuple[Mirror, ...]]:
    found: list[str] = []
    mirrors = parse_mirrors(value, ports, "localhost:5000", lambda path, _v, message: found.append(f"{path}: {message}"))
    return found, mirrors


def test_a_mirror_per_upstream_with_defaults_for_docker_hub_and_the_rest() -> None:
    problems, mirrors = parsed({"docker.io": {"port": 5002}, "harbor.corp:8443": {"port": 5003, "ttl": "24h"}})
    assert problems == []
    hub, harbor = mirrors
    assert (hub.remote_url, hub.ttl, hub.slug) == ("https://registry-1.docker.io", "168h", "docker-io")
    assert (harbor.remote_url, harbor.ttl, harbor.slug) == ("https://harbor.corp:8443", "24h", "harbor-corp-8443")
    assert hub.endpoint("10.0.0.5") == "10.0.0.5:5002"


def test_bad_mirrors_are_named_by_their_path() -> None:
    problems, mirrors = parsed(
        {
            "not a host": {"port": 1},
            "localhost:5000": {"port": 5009},
            "quay.io": {"port": 5000},
            "ghcr.io": {},
            "gcr.io": {"port": 5004, "remoteUrl": "ftp://gcr.io"},
            "k8s.gcr.io": {"port": 5005, "ttl": "a week"},
            "a.example.com": {"port": 5006, "username": "u"},
            "b.example.com": {"port": 5006, "proxy": True},
            "c.example.com": {"port": 5007, "ca": "not pem"},
        }
    )
    assert problems == [
        "mirrors.not a host: the key must be the upstream registry as images name it: host[:port] (docker.io for Docker Hub)",
        "mirrors.localhost:5000: is this registry's own endpoint: a mirror is for another registry",
        "mirrors.quay.io.port: is already taken by port/pullPort: each mirror needs a port of its own",
        "mirrors.ghcr.io.port: is required: the mirror's port on the endpoint's host, an integer in 1..65535",
        "mirrors.gcr.io.remoteUrl: must be http(s)://host[:port] of the upstream registry's API",
        "mirrors.k8s.gcr.io.ttl: must be a duration such as 168h, 24h or 90m: how long the mirror keeps what it fetched",
        "mirrors.a.example.com: needs both username and password (a config secret), or neither",
        "mirrors.b.example.com: must be an object with keys among "
        "port, remoteUrl, username, password, ca, ttl, size, storageClass, insecure",
        "mirrors.c.example.com.ca: must be PEM text (-----BEGIN CERTIFICATE-----)",
    ]
    assert mirrors == ()


def test_a_mirror_runs_in_proxy_mode_with_the_upstreams_credentials_and_ca() -> None:
    mirror = Mirror("harbor.corp", 5002, "https://harbor.corp", "24h", "reader", "s3cret", "-----BEGIN CERTIFICATE-----\n")
    variables = instance_variables(
        plain_instance("mirror", "realm", True, mirror), StorageSettings(driver="filesystem"), "secret"
    )
    assert variables["REGISTRY_PROXY_REMOTEURL"] == "https://harbor.corp"
    assert (variables["REGISTRY_PROXY_USERNAME"], variables["REGISTRY_PROXY_PASSWORD"]) == ("reader", "s3cret")
    assert variables["REGISTRY_PROXY_TTL"] == "24h"
    assert variables["SSL_CERT_DIR"] == "/etc/ssl/certs:/etc/distribution/upstream"
    assert variables["REGISTRY_STORAGE_DELETE_ENABLED"] == "false" and variables["REGISTRY_AUTH"] == "htpasswd"
    anonymous = plain_instance("mirror", "realm", False, Mirror("q.io", 1, "https://q.io"))
    plain = instance_variables(anonymous, StorageSettings(driver="filesystem"))
    assert not {"REGISTRY_PROXY_USERNAME", "SSL_CERT_DIR"} & set(plain)


def test_nodes_send_an_upstreams_pulls_to_its_mirror_with_the_mirrors_own_credential() -> None:
    toml = containerd_hosts_toml("docker.io", "10.0.0.5:5002")
    assert 'server = "https://10.0.0.5:5002"' in toml and '[host."https://10.0.0.5:5002"]' in toml
    auths = json.loads(docker_config_json("10.0.0.5:5000", "puller", "pw", {"docker.io": (MIRROR_USER, "m")}))["auths"]
    assert auths == {"10.0.0.5:5000": auth_entry("puller", "pw"), "docker.io": auth_entry(MIRROR_USER, "m")}
    assert docker_config_json("10.0.0.5:5000", "puller", "pw") == docker_config_json("10.0.0.5:5000", "puller", "pw", {})


def htpasswd_names(content: str) -> list[str]:
    return [line.split(":", 1)[0] for line in content.splitlines()]


def test_the_upstreams_entry_is_a_credential_only_the_mirrors_accept() -> None:
    """A node without the mirror's hosts.toml sends the upstream's entry to the real upstream: it must
    open nothing but the mirrors (not the pull user's, which reads every image of the registry).
    """
    users = [{"name": "ci"}, {"name": "puller", "access": "pull"}]
    settings = {
        "users": users,
        "pullImage": False,
        "pullPort": 5001,
        "pullSecret": {"namespaces": ["apps"], "user": "puller"},
        "kubernetes": {"context": "c"},
        "mirrors": {"harbor.corp": {"port": 5002}},
    }
    run = program_harness.evaluate(settings)
    auths = json.loads(run.outputs["dockerConfigJson"])["auths"]
    assert auths["localhost:5000"]["username"] == "puller"
    login = auths["harbor.corp"]
    assert login["username"] == MIRROR_USER and login["password"] not in run.outputs["passwords"].values()
    assert MIRROR_USER not in run.outputs["usernames"]
    files = {
        r.inputs["volume"].removesuffix("-config"): r.inputs["files"]["auth/htpasswd"]["content"]
        for r in run.of_type("pulumi-python:dynamic/private-registry:ConfigFiles")
    }
    assert htpasswd_names(files["registry-dev"]) == ["ci"] and htpasswd_names(files["registry-dev-pull"]) == ["ci", "puller"]
    mirror = dict(line.split(":", 1) for line in files["registry-dev-mirror-harbor-corp"].splitlines())
    assert list(mirror) == ["ci", "puller", MIRROR_USER]
    assert bcrypt.checkpw(login["password"].encode(), mirror[MIRROR_USER].encode())
    kube = {**KUBE_S3, "users": users, "pullPort": 30501, "pullSecret": {"namespaces": ["apps"], "user": "puller"}}
    secrets = {
        r.inputs["metadata"]["name"]: r
        for r in program_harness.evaluate(kube, secret_keys=["private-registry:storage"]).of_type("kubernetes:core/v1:Secret")
    }
    expected = {
        "registry": ["ci"],
        "registry-pull": ["ci", "puller"],
        "registry-mirror-harbor-corp": ["ci", "puller", MIRROR_USER],
    }
    for name, names in expected.items():
        assert htpasswd_names(base64.b64decode(secrets[f"{name}-auth"].inputs["data"]["htpasswd"]).decode()) == names, name
    with pytest.raises(SettingsError, match=r"users\[1\]\.name = '~mirrors': is the name of the mirrors' own credential"):
        load_settings({"users": [{"name": "ci"}, {"name": MIRROR_USER}]}, "dev")


def test_mirror_settings_per_target_and_never_an_upstream_password_printed() -> None:
    kube = {"target": "kubernetes", "kubernetes": {"context": "c"}, "replicas": 1}
    secret = {"quay.io": {"port": 30600, "username": "u", "password": 5}}
    with pytest.raises(SettingsError) as caught:
        load_settings({**kube, "mirrors": secret}, "dev", frozenset({"mirrors"}))
    assert "private-registry:mirrors.quay.io.password = <secret: a number>: must be a non-empty string" in str(caught.value)
    with pytest.raises(SettingsError, match=r"mirrors\.quay\.io\.port = .*must be in 30000\.\.32767"):
        load_settings({**kube, "mirrors": {"quay.io": {"port": 5002}}}, "dev")
    with pytest.raises(SettingsError, match="needs serviceType = NodePort"):
        load_settings({**kube, "serviceType": "LoadBalancer", "mirrors": {"quay.io": {"port": 30600}}}, "dev")
    with pytest.raises(SettingsError, match="must be a Kubernetes quantity"):
        load_settings({**kube, "mirrors": {"quay.io": {"port": 30600, "size": "ten gigs"}}}, "dev")
    sized = load_settings({**kube, "mirrors": {"quay.io": {"port": 30600, "size": "2Gi"}}}, "dev")
    assert [m.size for m in sized.mirrors] == ["2Gi"]
    assert [m.upstream for m in load_settings({"mirrors": {"quay.io": {"port": 5002}}}, "dev").mirrors] == ["quay.io"]


def test_plain_http_upstreams_and_s3_endpoints_only_where_insecure_is_said() -> None:
    problems, mirrors = parsed(
        {
            "q.io": {"port": 5002, "remoteUrl": "http://q.io"},
            "r.io": {"port": 5003, "remoteUrl": "http://r.io", "insecure": "yes"},
            "s.io": {"port": 5004, "remoteUrl": "http://s.io:8080", "insecure": True},
            "t.io": {"port": 5005, "insecure": False},
        }
    )
    assert problems == [
        "mirrors.q.io.remoteUrl: is plain http://: credentials and data would travel unencrypted; use https://, or set "
        "mirrors.q.io.insecure = true to accept that",
        "mirrors.r.io.insecure: must be true or false",
    ]
    assert [(m.upstream, m.remote_url) for m in mirrors] == [("s.io", "http://s.io:8080"), ("t.io", "https://t.io")]
    kube = {"target": "kubernetes", "kubernetes": {"context": "c"}, "replicas": 1}
    s3 = {"driver": "s3", "bucket": "images", "endpoint": "http://10.0.0.9:9000"}
    with pytest.raises(SettingsError) as caught:
        load_settings({**kube, "storage": s3}, "dev")
    assert list(caught.value.problems) == [
        "private-registry:storage.endpoint = 'http://10.0.0.9:9000': is plain http://: credentials and data would travel "
        "unencrypted; use https://, or set storage.insecure = true to accept that"
    ]
    said = load_settings({**kube, "storage": {**s3, "insecure": True}}, "dev").target
    assert isinstance(said, KubernetesTarget) and not said.storage.secure
    https = load_settings({**kube, "storage": {**s3, "endpoint": "https://s3.corp"}}, "dev").target
    assert isinstance(https, KubernetesTarget) and https.storage.secure


KEY = "the-stack-hash-key"
UPSTREAM_CA = "-----BEGIN CERTIFICATE-----\nUPSTREAM\n-----END CERTIFICATE-----\n"
KUBE_S3 = {
    "target": "kubernetes",
    "ipAddresses": ["10.0.0.5"],
    "hostnames": [],
    "replicas": 1,
    "storage": {"driver": "s3", "bucket": "images", "accessKey": "AKIAEXAMPLE", "secretKey": "s3-secret"},
    "kubernetes": {"context": "c"},
    "mirrors": {"harbor.corp": {"port": 30600, "username": "robot", "password": "upstream-secret", "ca": UPSTREAM_CA}},
}


class KnownKeyMocks(program_harness.RegistryMocks):
    """The roll triggers' key and the HTTP secret known to the test; every other resource as usual."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        id_, state = super().new_resource(args)
        if args.name.endswith("-hash-key"):
            state["value"] = KEY
        elif args.name.endswith("-http-secret"):
            state["value"] = "http-secret"
        return id_, state


def annotation(run: program_harness.ProgramRun, deployment: str) -> str:
    found = next(r for r in run.of_type("kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == deployment)
    return str(found.inputs["spec"]["template"]["metadata"]["annotations"]["private-registry/env-sha256"])


def test_roll_triggers_over_secrets_are_keyed_so_nobody_who_reads_a_deployment_can_test_guesses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(program_harness, "RegistryMocks", KnownKeyMocks)
    run = program_harness.evaluate(KUBE_S3, secret_keys=["private-registry:storage", "private-registry:mirrors"])
    writer, mirror = annotation(run, "registry"), annotation(run, "registry-mirror-harbor-corp")
    secrets = ("http-secret", "AKIAEXAMPLE", "s3-secret")
    assert writer == roll_hash(KEY, *secrets) and writer != content_hash(*secrets)
    # The mirror's trigger covers its upstream password: before, a bare SHA-256 beside the writer's public one.
    upstream = ("robot", "upstream-secret", UPSTREAM_CA)
    assert mirror == roll_hash(KEY, writer, *upstream) and mirror != content_hash(writer, *upstream)
    # Still a trigger: another upstream password rolls the mirror, and only it.
    changed = {**KUBE_S3, "mirrors": {"harbor.corp": {**KUBE_S3["mirrors"]["harbor.corp"], "password": "rotated"}}}
    again = program_harness.evaluate(changed, secret_keys=["private-registry:storage", "private-registry:mirrors"])
    assert annotation(again, "registry-mirror-harbor-corp") != mirror and annotation(again, "registry") == writer


class OtherKeyMocks(program_harness.RegistryMocks):
    """The same certificate with another private key (the mocks' certificate does not follow the key)."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        id_, state = super().new_resource(args)
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = "-----BEGIN MOCK KEY-----\nANOTHER\n-----END MOCK KEY-----\n"
        return id_, state


def docker_labels(run: program_harness.ProgramRun) -> dict[str, str]:
    return {
        c.inputs["name"]: next(item["value"] for item in c.inputs["labels"] if item["label"] == TLS_LABEL)
        for c in run.of_type("docker:index/container:Container")
    }


def test_the_docker_tls_label_is_a_hash_of_public_material_only(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"users": [{"name": "admin"}], "pullImage": False, "mirrors": {"harbor.corp": {"port": 5002, "ca": UPSTREAM_CA}}}
    labels = docker_labels(program_harness.evaluate(settings))
    cert = program_harness.FAKE_PEM.format(name="registry-tls-server-cert")
    assert labels == {"registry-dev": tls_hash(cert, None), "registry-dev-mirror-harbor-corp": tls_hash(cert, UPSTREAM_CA)}
    monkeypatch.setattr(program_harness, "RegistryMocks", OtherKeyMocks)
    assert docker_labels(program_harness.evaluate(settings)) == labels  # the private key is not in it
