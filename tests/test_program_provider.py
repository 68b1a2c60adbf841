"""Program tests of a kubernetes.Provider handed to the component (a program that creates its cluster).

Under mocks, as `pulumi up` would register it: every Kubernetes object of the registry goes through
the program's provider and the component makes none of its own; without one, the component's own
provider from `kubernetes.context`, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import PrivateRegistry, PrivateRegistryArgs, RegistryConflictError, SettingsError
from components.settings_cluster import NO_CLUSTER
from tests.program_harness import Registration, evaluate, register

PROVIDER = "pulumi:providers:kubernetes"
KUBE = {
    "target": "kubernetes",
    "hostnames": ["registry.internal"],
    "endpoint": "registry.internal:30500",
    "storage": {"size": "1Gi"},
    "pullSecret": {"namespaces": ["apps", "jobs"]},
    "nodeTrust": {"mode": "daemonset", "image": "busybox@sha256:" + "ab" * 32},
    "localRegistryHosting": True,
}


def cluster_provider() -> k8s.Provider:
    """What a program that creates its cluster makes: a provider from the cluster's kubeconfig output."""
    kubeconfig = pulumi.Output.secret('{"apiVersion": "v1", "kind": "Config"}')  # e.g. a managed cluster's output
    return k8s.Provider("my-cluster", kubeconfig=kubeconfig)


HANDINGS: dict[str, Callable[[k8s.Provider], pulumi.ResourceOptions]] = {
    "providers map": lambda p: pulumi.ResourceOptions(providers={"kubernetes": p}),
    "providers list": lambda p: pulumi.ResourceOptions(providers=[p]),
    "provider": lambda p: pulumi.ResourceOptions(provider=p),
    "a parent's providers": lambda p: pulumi.ResourceOptions(
        parent=pulumi.ComponentResource("platform:index:Cluster", "platform", None, pulumi.ResourceOptions(providers=[p]))
    ),
}


def run_with(settings: dict[str, Any], handing: Callable[[k8s.Provider], pulumi.ResourceOptions] | None) -> list[Registration]:
    def program() -> None:
        opts = handing(cluster_provider()) if handing else None
        PrivateRegistry("reg", PrivateRegistryArgs.of(settings, instance="prod"), opts)  # type: ignore[arg-type]

    return register(program)


def kubernetes_objects(registrations: list[Registration]) -> list[Registration]:
    return [r for r in registrations if r.type.startswith("kubernetes:")]


@pytest.mark.parametrize("handing", list(HANDINGS))
def test_every_kubernetes_object_goes_through_the_handed_in_provider(handing: str) -> None:
    registrations = run_with(KUBE, HANDINGS[handing])
    providers = [r for r in registrations if r.type == PROVIDER]
    assert [p.name for p in providers] == ["my-cluster"], "the component made a provider of its own"
    mine = f"{providers[0].urn}::{providers[0].name}-id"
    objects = kubernetes_objects(registrations)
    kinds = {r.type.split(":")[-1] for r in objects}
    assert {"Deployment", "Service", "Secret", "DaemonSet", "ConfigMap", "Namespace"} <= kinds, kinds
    assert [r.name for r in objects if r.provider != mine] == []


def test_without_a_provider_the_components_own_from_the_context() -> None:
    registrations = run_with({**KUBE, "kubernetes": {"context": "prod"}}, None)
    (own,) = [r for r in registrations if r.type == PROVIDER]
    assert own.name == "reg-k8s" and own.inputs["context"] == "prod"
    assert {r.provider for r in kubernetes_objects(registrations)} == {f"{own.urn}::{own.name}-id"}


def test_a_handed_in_provider_is_the_cluster_the_settings_need() -> None:
    args = PrivateRegistryArgs.of(KUBE, instance="prod")  # type: ignore[arg-type]  # names no cluster: fine here
    with pytest.raises(SettingsError) as refused:
        register(lambda: PrivateRegistry("reg", args))
    assert NO_CLUSTER in str(refused.value) and "target = kubernetes" in str(refused.value).replace("'", "")
    handed = args.validated("my-cluster")
    assert (handed.kubernetes.mode, handed.kubernetes.context, handed.kubernetes.provider) == ("cluster", None, "my-cluster")
    assert handed.pull_secret.namespaces == ("apps", "jobs")


def test_a_pull_secret_namespace_defaults_as_with_a_context() -> None:
    settings = {"users": [{"name": "ci"}]}
    assert PrivateRegistryArgs.of(settings, instance="x").settings.pull_secret.namespaces == ()  # type: ignore[arg-type]
    registrations = run_with(settings, HANDINGS["providers map"])
    secrets = [r for r in kubernetes_objects(registrations) if r.type == "kubernetes:core/v1:Secret"]
    assert [s.inputs["metadata"]["namespace"] for s in secrets] == ["default"]


@pytest.mark.parametrize(
    ("kubernetes", "named"),
    [
        ({"context": "prod"}, "kubernetes.context"),
        ({"mode": "render"}, "kubernetes.mode"),
        ({"renderDirectory": "out"}, "kubernetes.renderDirectory"),
    ],
)
def test_settings_that_name_another_cluster_are_refused_with_a_provider(kubernetes: dict[str, str], named: str) -> None:
    with pytest.raises(
        SettingsError, match=f"{named} = .*: is not used: the program hands in its kubernetes.Provider 'my-cluster'"
    ):
        run_with({**KUBE, "kubernetes": kubernetes}, HANDINGS["providers map"])


def test_target_kubernetes_has_no_pull_gate_with_a_handed_in_provider_target_docker_rotates_as_before() -> None:
    """The gate reaches the replicas by a kubeconfig context, which a handed-in provider does not have;
    target docker rotates without a gate (its file is rewritten before the pull secrets switch).
    """

    def rotation(registrations: list[Registration]) -> list[str]:
        return sorted(r.type.split(":")[-1] for r in registrations if r.type.endswith((":PullGate", ":PullCredential")))

    assert rotation(run_with({**KUBE, "kubernetes": {"context": "prod"}}, None)) == ["PullCredential", "PullGate"]
    assert rotation(run_with(KUBE, HANDINGS["providers map"])) == []
    assert rotation(run_with({"users": [{"name": "ci"}]}, HANDINGS["providers map"])) == ["PullCredential"]


def test_two_registries_on_one_handed_in_provider_are_compared_in_its_cluster() -> None:
    def program() -> None:
        cluster = pulumi.ResourceOptions(providers=[cluster_provider()])
        settings = {"pullSecret": {"namespaces": ["apps"]}}
        PrivateRegistry("first", PrivateRegistryArgs.of({**settings, "port": 5701}, instance="a"), cluster)  # type: ignore[arg-type]
        PrivateRegistry("second", PrivateRegistryArgs.of({**settings, "port": 5702}, instance="b"), cluster)  # type: ignore[arg-type]

    with pytest.raises(
        RegistryConflictError, match="Secret apps/registry-pull-secret in the cluster of kubernetes provider 'my-cluster'"
    ):
        register(program)


def test_the_stack_program_still_refuses_a_cluster_setting_without_a_cluster() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        evaluate({"target": "kubernetes", "storage": {"size": "1Gi"}})
    assert NO_CLUSTER in str(caught.value) and "Traceback" not in str(caught.value)


def test_of_raises_what_is_wrong_whatever_the_cluster_and_leaves_the_rest_to_the_component() -> None:
    with pytest.raises(SettingsError) as caught:
        PrivateRegistryArgs.of({**KUBE, "port": 70000, "kubernetes": {"renderDirectory": "out"}}, instance="x")  # type: ignore[arg-type]
    assert caught.value.problems == ("private-registry:port = 70000: must be an integer in 1..65535",), caught.value.problems
