"""Two registries of one program: what each claims, and the refusal of a second claim."""

from __future__ import annotations

from typing import Any

import pytest

from components.claims import claims, conflicts
from components.model import Settings
from components.private_registry import PrivateRegistry, PrivateRegistryArgs, RegistryConflictError
from components.settings import load_settings
from tests.program_harness import register

KUBE = {"target": "kubernetes", "kubernetes": {"context": "prod"}, "storage": {"driver": "s3", "bucket": "images"}}


def settings(instance: str, **raw: Any) -> Settings:
    return load_settings(raw, instance)


def test_instance_names_keep_default_names_apart() -> None:
    a, b = settings("a"), settings("b", port=5001)
    assert not conflicts("b", b, {claim: ("a", setting) for claim, setting in claims(a).items()})


def test_a_docker_registry_claims_its_container_volume_port_and_endpoint() -> None:
    assert claims(settings("dev")) == {
        "endpoint localhost:5000": "endpoint",
        "Docker container registry-dev": "containerName",
        "Docker volume registry-data-dev": "dataVolume",
        "port 5000 of the Docker host": "port",
    }


def test_kubernetes_claims_are_per_cluster() -> None:
    one = settings("one", **KUBE, pullSecret={"namespaces": ["apps"]}, localRegistryHosting=True)
    assert claims(one) == {
        "endpoint localhost:30500": "endpoint",
        "namespace registry-one in kubeconfig context 'prod'": "namespace",
        "NodePort 30500 in kubeconfig context 'prod'": "port",
        "Secret apps/registry-pull-secret in kubeconfig context 'prod'": "pullSecret.name",
        "ConfigMaps kube-public/local-registry-hosting and private-registry-ca in kubeconfig context 'prod'": (
            "localRegistryHosting"
        ),
    }
    other_cluster = settings("two", **{**KUBE, "kubernetes": {"context": "staging"}}, endpoint="localhost:30500")
    taken = {claim: ("one", setting) for claim, setting in claims(one).items()}
    # Only the endpoint is shared (clients and pull secrets name it); the cluster objects are apart.
    assert conflicts("two", other_cluster, taken) == [
        "registries 'one' and 'two' both want the endpoint localhost:30500: change endpoint of 'two' or of 'one'"
    ]


def test_same_pull_secret_name_in_a_shared_namespace_names_the_setting() -> None:
    a = settings("a", kubernetes={"context": "c"}, pullSecret={"namespaces": ["apps", "web"]})
    b = settings("b", port=5001, kubernetes={"context": "c"}, pullSecret={"namespaces": ["web"]})
    taken = {claim: ("a", setting) for claim, setting in claims(a).items()}
    assert conflicts("b", b, taken) == [
        "registries 'a' and 'b' both want the Secret web/registry-pull-secret in kubeconfig context 'c': "
        "change pullSecret.name of 'b' or of 'a'"
    ]


def test_the_second_registry_is_refused_before_it_registers_anything() -> None:
    def program() -> None:
        PrivateRegistry("first", PrivateRegistryArgs.of({"port": 5700}, instance="first"))
        with pytest.raises(RegistryConflictError, match="'first' and 'second' both want the port 5700 of the Docker host"):
            PrivateRegistry("second", PrivateRegistryArgs.of({"port": 5700}, instance="second"))
        PrivateRegistry("third", PrivateRegistryArgs.of({"port": 5701}, instance="third"))

    names = {r.name for r in register(program)}
    assert "first" in names and "third" in names
    assert not [n for n in names if n.startswith("second")], names


def test_each_program_run_starts_with_nothing_claimed() -> None:
    def program() -> None:
        PrivateRegistry("only", PrivateRegistryArgs.of({}, instance="dev"))

    assert register(program) and register(program)  # the second run does not see the first run's claims


def test_a_read_only_instance_claims_its_port_and_endpoint_on_either_target() -> None:
    users = [{"name": "ci"}, {"name": "puller", "access": "pull"}]
    docker = claims(settings("dev", users=users, pullPort=5001))
    assert {claim: docker[claim] for claim in docker if claim.endswith(("-pull", "5001", "host"))} == {
        "endpoint localhost:5001": "pullPort",
        "Docker container registry-dev-pull": "containerName",
        "port 5001 of the Docker host": "pullPort",
        "port 5000 of the Docker host": "port",
    }
    kube = claims(settings("one", **KUBE, users=users, pullPort=30501))
    assert kube["NodePort 30501 in kubeconfig context 'prod'"] == "pullPort"
    assert kube["endpoint localhost:30501"] == "pullPort"
    first = {claim: ("one", setting) for claim, setting in kube.items()}
    two = settings("two", **KUBE, users=users, port=30502, pullPort=30501, pullSecret={"namespaces": ["ci"]})
    problems = conflicts("two", two, first)
    assert [p.split(": change ")[0] for p in problems] == [
        "registries 'one' and 'two' both want the endpoint localhost:30501",
        "registries 'one' and 'two' both want the NodePort 30501 in kubeconfig context 'prod'",
    ]
    assert all(p.endswith("change pullPort of 'two' or of 'one'") for p in problems), problems
