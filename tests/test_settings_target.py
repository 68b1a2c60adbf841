"""Unit tests: the settings of target `kubernetes`, and the refusal of a target change."""

from __future__ import annotations

from typing import Any

import pytest

from components.model import DockerTarget, KubernetesTarget, SettingsError
from components.settings import load_settings
from components.target_guard import (
    PUSH_USER_NAMESPACES,
    UNSET,
    StackTargetProvider,
    push_user_problem,
    target_change_problem,
)

KUBE: dict[str, Any] = {
    "target": "kubernetes",
    "hostnames": [],
    "ipAddresses": ["10.0.0.5"],
    "storage": {"driver": "s3", "bucket": "images", "endpoint": "http://10.0.0.9:9000/", "insecure": True},
    "kubernetes": {"context": "prod"},
}


def problems(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev", secret_keys=secret_keys)
    return list(caught.value.problems)


def test_kubernetes_defaults() -> None:
    s = load_settings(KUBE, "Team.Dev")
    target = s.target
    assert isinstance(target, KubernetesTarget)
    assert (target.kind, target.replicas, target.service_type, s.port) == ("kubernetes", 2, "NodePort", 30500)
    assert s.endpoint == "10.0.0.5:30500" and target.namespace == "registry-team-dev"
    assert target.storage.endpoint == "http://10.0.0.9:9000" and not target.storage.secure
    assert target.storage.root_directory == "/registry-Team.Dev" and target.storage.region == "us-east-1"
    assert target.storage.access_key is None  # the node's own credentials
    docker = load_settings({}, "dev")
    assert docker.target == DockerTarget("registry-dev", "registry-data-dev") and docker.port == 5000


def replicas_of(raw: dict[str, Any]) -> tuple[int, int]:
    target = load_settings(raw, "dev").target
    assert isinstance(target, KubernetesTarget)
    return target.replicas, target.pull_replicas


def test_a_context_alone_comes_up_with_defaults_that_agree() -> None:
    # One Pod on the default ReadWriteOnce claim; two wherever every Pod shares the data.
    only_context = {"target": "kubernetes", "kubernetes": {"context": "prod"}}
    s = load_settings(only_context, "dev")
    assert isinstance(s.target, KubernetesTarget) and s.target.storage.access_mode == "ReadWriteOnce"
    assert replicas_of(only_context) == (1, 1)
    assert replicas_of({**only_context, "storage": {"accessMode": "ReadWriteMany"}}) == (2, 2)
    assert replicas_of({**only_context, "storage": {"driver": "filesystem", "accessMode": "ReadWriteOncePod"}}) == (1, 1)
    assert replicas_of(KUBE) == (2, 2)  # driver s3
    assert replicas_of({**KUBE, "replicas": 3}) == (3, 2)


def test_more_than_one_replica_needs_shared_storage() -> None:
    found = problems({**KUBE, "replicas": 2, "storage": {"driver": "filesystem"}})
    assert found == [
        "private-registry:replicas = 2: asks for replicas = 2 on storage.accessMode = ReadWriteOnce (the default): "
        "every Pod mounts the same volume, which needs ReadWriteMany (a storage class that offers it, e.g. NFS or "
        "CephFS); or set replicas = 1, or use storage.driver = s3"
    ]
    found = problems({**KUBE, "replicas": 2, "storage": {"driver": "filesystem", "accessMode": "ReadWriteOnce"}})
    assert found == [
        "private-registry:storage.accessMode = 'ReadWriteOnce': cannot serve replicas = 2: every Pod mounts the "
        "same volume, which needs ReadWriteMany (a storage class that offers it, e.g. NFS or CephFS); or set "
        "replicas = 1, or use storage.driver = s3"
    ]
    ok = load_settings({**KUBE, "storage": {"driver": "filesystem", "accessMode": "ReadWriteMany"}}, "dev").target
    assert isinstance(ok, KubernetesTarget) and ok.storage.access_mode == "ReadWriteMany"


def test_node_port_range_and_the_settings_of_the_other_target_are_refused() -> None:
    assert any("must be in 30000..32767" in p for p in problems({**KUBE, "port": 5000}))
    found = problems({**KUBE, "containerName": "reg", "dataVolume": "data"})
    assert found == [
        "private-registry:containerName = 'reg': is only used with target = docker",
        "private-registry:dataVolume = 'data': is only used with target = docker",
    ]
    found = problems({"replicas": 3, "storage": {"driver": "s3"}})
    assert found == [
        "private-registry:replicas = 3: is only used with target = kubernetes",
        "private-registry:storage = {'driver': 's3'}: is only used with target = kubernetes",
    ]
    # Pulumi.yaml's declared defaults arrive as values: those are let through (replicas has none: computed).
    assert load_settings({"serviceType": "NodePort", "target": "docker"}, "dev").port == 5000


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"driver": "gcs"}, "storage.driver = 'gcs': must be filesystem (a PersistentVolumeClaim) or s3"),
        ({"driver": "s3"}, "storage.bucket = None: is required with storage.driver = s3"),
        ({"driver": "s3", "bucket": "Images_1"}, "storage.bucket = 'Images_1': must be an S3 bucket name"),
        ({"driver": "s3", "bucket": "b12", "endpoint": "minio:9000"}, "storage.endpoint = 'minio:9000': must be"),
        ({"driver": "s3", "bucket": "b12", "rootDirectory": "data"}, "storage.rootDirectory = 'data': must start"),
        ({"driver": "s3", "bucket": "b12", "accessKey": "AK"}, "storage.secretKey = None: set storage.accessKey and"),
        ({"driver": "s3", "bucket": "b12", "size": "1Gi"}, "unknown key(s) size; allowed: driver, bucket, region"),
        ({"driver": "filesystem", "size": "lots"}, "storage.size = 'lots': must be a Kubernetes quantity"),
        ({"driver": "filesystem", "accessMode": "RWX"}, "storage.accessMode = 'RWX': must be one of ReadWriteOnce"),
    ],
)
def test_bad_storage_settings_name_the_setting_and_what_is_allowed(storage: dict[str, Any], message: str) -> None:
    found = problems({**KUBE, "replicas": 1, "storage": storage})
    assert any(message in p for p in found), found


def test_storage_problems_never_show_the_secret_key() -> None:
    raw = {**KUBE, "storage": {"driver": "s3", "bucket": "b12", "secretKey": "hunter2-s3-secret"}}
    found = problems(raw, secret_keys=frozenset({"storage"}))
    assert found and not any("hunter2" in p for p in found)
    assert any(p.startswith("private-registry:storage.accessKey = <secret: null>") for p in found), found


def test_s3_data_is_always_kept() -> None:
    found = problems({**KUBE, "retainData": False})
    assert found == [
        "private-registry:retainData = False: is refused with storage.driver = s3: the program never deletes objects "
        "from the bucket; remove the prefix storage.rootDirectory with your S3 tools after `pulumi destroy`"
    ]


def test_a_target_change_is_refused_by_check_and_nothing_else_is() -> None:
    provider = StackTargetProvider()
    refused = provider.check({"target": "docker"}, {"target": "kubernetes"})
    assert [f.property for f in refused.failures] == ["target"]
    assert "runs on target 'docker'" in refused.failures[0].reason and "Set it back to 'docker'" in refused.failures[0].reason
    assert provider.check({}, {"target": "kubernetes"}).failures == []  # first up
    assert provider.check({"target": "docker"}, {"target": "docker"}).failures == []
    assert target_change_problem(None, "docker") is None
    assert provider.diff("id", {"target": "docker"}, {"target": "docker"}).changes is False


def test_a_stack_from_before_clusters_were_named_is_stopped_until_its_config_names_one_or_none() -> None:
    provider = StackTargetProvider()
    before = {"target": "docker"}  # recorded before 2026-12-02: no `kubernetes`
    (refused,) = provider.check(before, {"target": "docker", "kubernetes": UNSET}).failures
    assert refused.property == "kubernetes"
    assert "kubernetes.context <context>" in refused.reason and "kubernetes.mode none" in refused.reason
    for named in ("cluster", "render", "none"):
        assert provider.check(before, {"target": "docker", "kubernetes": named}).failures == []
        # recorded by an in-place update, nothing replaced
        diff = provider.diff("id", before, {"target": "docker", "kubernetes": named})
        assert diff.changes is True and not diff.replaces
    # new stacks and stacks that recorded it are never stopped for it
    assert provider.check({}, {"target": "docker", "kubernetes": UNSET}).failures == []
    recorded = {"target": "docker", "kubernetes": UNSET}
    assert provider.check(recorded, recorded).failures == [] and provider.diff("id", recorded, recorded).changes is False


def test_the_registry_image_cannot_come_from_the_registry_itself() -> None:
    found = problems({**KUBE, "image": "10.0.0.5:30500/library/registry:3.1.2"})
    assert found == [
        "private-registry:image = '10.0.0.5:30500/library/registry:3.1.2': is in this registry, which cannot serve its "
        "own image before it runs: the nodes must pull the registry image from elsewhere (Docker Hub, a mirror, or "
        "preloaded with pullImage = false)"
    ]


PULLERS: dict[str, Any] = {**KUBE, "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}], "pullPort": 30501}


def test_a_pull_port_on_kubernetes_is_a_read_only_deployment_of_its_own_size() -> None:
    s = load_settings({**PULLERS, "replicas": 1, "pullReplicas": 3}, "dev")
    target = s.target
    assert isinstance(target, KubernetesTarget) and (target.replicas, target.pull_replicas) == (1, 3)
    assert (s.endpoint, s.pull_endpoint, s.pull_secret.user) == ("10.0.0.5:30500", "10.0.0.5:30501", "puller")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {**PULLERS, "pullPort": 5001},
            "private-registry:pullPort = 5001: is the read-only Service's NodePort with target = kubernetes: it must be "
            "in 30000..32767",
        ),
        (
            {**PULLERS, "serviceType": "LoadBalancer", "port": 443, "pullPort": 5443},
            "private-registry:pullPort = 5443: needs serviceType = NodePort: with LoadBalancer the read-only Service",
        ),
        (
            {**KUBE, "pullReplicas": 3},
            "private-registry:pullReplicas = 3: is only used with pullPort (the read-only Deployment's Pods)",
        ),
        (
            {**PULLERS, "replicas": 1, "pullReplicas": 1, "storage": {"driver": "filesystem", "accessMode": "ReadWriteOnce"}},
            "private-registry:storage.accessMode = 'ReadWriteOnce': cannot serve replicas = 1 + pullReplicas = 1: every "
            "Pod mounts the same volume, which needs ReadWriteMany (a storage class that offers it, e.g. NFS or "
            "CephFS); or drop pullPort and set replicas = 1, or use storage.driver = s3",
        ),
        (
            {**PULLERS, "storage": {"driver": "filesystem"}},
            "private-registry:pullPort = 30501: asks for replicas = 1 + pullReplicas = 1 on storage.accessMode = "
            "ReadWriteOnce (the default): every Pod mounts the same volume",
        ),
        ({"pullReplicas": 3, "pullPort": 5001}, "private-registry:pullReplicas = 3: is only used with target = kubernetes"),
        ({**PULLERS, "pullReplicas": 0}, "private-registry:pullReplicas = 0: must be an integer in 1..50"),
    ],
)
def test_bad_pull_settings_on_kubernetes_name_the_setting(raw: dict[str, Any], expected: str) -> None:
    found = problems(raw)
    assert [p for p in found if p.startswith(expected)], found


def test_pull_secrets_with_a_push_user_are_refused_where_the_stack_did_not_hold_them() -> None:
    provider = StackTargetProvider()
    news = {"target": "docker", "kubernetes": "cluster", PUSH_USER_NAMESPACES: ["apps", "default"]}
    # a new stack: nothing held, every namespace refused, before anything is created
    (refused,) = provider.check({}, news).failures
    assert refused.property == PUSH_USER_NAMESPACES
    assert refused.reason.startswith("private-registry:pullSecret.namespaces: the pull secret in apps, default would")
    assert "pullSecret.allowPushUser true" in refused.reason and "add a user with access: pull" in refused.reason
    # a stack recorded before the list: it holds what it names, and the list is recorded in place
    before = {"target": "docker", "kubernetes": "cluster"}
    assert provider.check(before, news).failures == []
    diff = provider.diff("id", before, news)
    assert diff.changes is True and not diff.replaces
    # a stack that recorded the list: the namespaces it holds stay, a new one is refused
    held = {**news, PUSH_USER_NAMESPACES: ["default"]}
    (refused,) = provider.check(held, news).failures
    assert "the pull secret in apps would" in refused.reason
    assert provider.check(news, news).failures == [] and provider.diff("id", news, news).changes is False
    # said so (allowPushUser) or a pull user (pullPort): nothing listed, nothing refused
    assert provider.check({}, {**news, PUSH_USER_NAMESPACES: []}).failures == []
    assert push_user_problem({}, {"target": "docker"}) is None


def test_the_guard_gets_the_namespaces_whose_pull_secret_carries_a_push_user() -> None:
    from tests.program_harness import evaluate  # runs the program under mocks

    base = {"users": [{"name": "ci"}], "pullImage": False, "kubernetes": {"context": "c"}}
    for settings, listed in [
        ({"pullSecret": {"namespaces": ["web", "apps"]}}, ["apps", "web"]),
        ({"pullSecret": {"namespaces": ["web"], "allowPushUser": True}}, []),
        ({"users": [{"name": "ci"}, {"name": "puller", "access": "pull"}], "pullPort": 5001}, []),
    ]:
        (guard,) = [r for r in evaluate({**base, **settings}).registrations if r.name.endswith("-target")]
        assert guard.inputs[PUSH_USER_NAMESPACES] == listed, settings


@pytest.mark.parametrize(
    ("size", "ok"),
    [("10Gi", True), ("500Mi", True), ("0.5Gi", True), ("1T", True), ("0", False), ("0Gi", False), ("100m", False),
     ("10GB", False), ("1.Gi", False)],
)  # fmt: skip
def test_a_volume_size_is_one_rule_for_the_claim_and_the_mirrors(size: str, ok: bool) -> None:
    def found(raw: dict[str, Any]) -> list[str]:
        try:
            load_settings(raw, "dev")
        except SettingsError as error:
            return list(error.problems)
        return []

    claim = found({**KUBE, "storage": {"driver": "filesystem", "size": size}})
    mirror = found({**KUBE, "mirrors": {"docker.io": {"port": 30600, "size": size}}})
    allowed = "must be a Kubernetes quantity of bytes above 0, such as 10Gi or 500Mi"
    assert claim == ([] if ok else [f"private-registry:storage.size = {size!r}: {allowed}"])
    assert mirror == ([] if ok else [f"private-registry:mirrors.docker.io.size = {size!r}: {allowed}"])
