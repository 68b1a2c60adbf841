"""Program tests: the thin Kubernetes types register exactly what the SDK's own classes register.

`components/kube_resources.py` avoids importing `pulumi_kubernetes.core.v1` (about 1 s) by declaring
the two types itself, leaning on the SDK's private `_utilities` module. Under the mocks both are
registered with the same arguments and compared: type, wire inputs (secrets included), plugin
version and secret outputs. An SDK upgrade that changes any of them fails here.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import kube_resources
from tests.program_harness import Registration, register

METADATA = {"name": "pull", "namespace": "apps", "labels": {"app.kubernetes.io/part-of": "private-registry"}}


def both(make_ours: Any, make_sdks: Any) -> tuple[Registration, Registration]:
    def program() -> None:
        make_ours()
        make_sdks()

    ours, sdks = register(program)
    return ours, sdks


def assert_same_registration(ours: Registration, sdks: Registration) -> None:
    assert ours.type == sdks.type
    assert ours.wire_inputs == sdks.wire_inputs
    assert ours.secret_inputs == sdks.secret_inputs
    assert ours.version == sdks.version and ours.version  # the plugin version the SDK asks for
    assert sorted(ours.additional_secret_outputs) == sorted(sdks.additional_secret_outputs)
    assert ours.aliases == [a.replace('"sdks"', '"ours"') for a in sdks.aliases]  # e.g. older API groups


def test_secret_registers_what_the_sdk_secret_registers() -> None:
    import pulumi_kubernetes.core.v1 as sdk

    data = {".dockerconfigjson": pulumi.Output.secret("eyJhdXRocyI6e319")}
    opts = pulumi.ResourceOptions()
    ours, sdks = both(
        lambda: kube_resources.Secret("ours", METADATA, "kubernetes.io/dockerconfigjson", data, opts),
        lambda: sdk.Secret("sdks", metadata=METADATA, type="kubernetes.io/dockerconfigjson", data=data, opts=opts),
    )
    assert_same_registration(ours, sdks)
    assert ".dockerconfigjson" in str(ours.inputs["data"]) and "data" in ours.secret_inputs


def test_service_account_registers_what_the_sdk_service_account_registers() -> None:
    import pulumi_kubernetes.core.v1 as sdk

    meta = {"name": "registry", "namespace": "registry-dev", "annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}
    ours, sdks = both(
        lambda: kube_resources.ServiceAccount("ours", meta, pulumi.ResourceOptions()),
        lambda: sdk.ServiceAccount("sdks", metadata=meta),
    )
    assert_same_registration(ours, sdks)


def test_service_account_patch_registers_what_the_sdk_patch_registers() -> None:
    import pulumi_kubernetes.core.v1 as sdk

    meta = {"name": "default", "namespace": "apps"}
    ours, sdks = both(
        lambda: kube_resources.ServiceAccountPatch("ours", meta, ["pull"], pulumi.ResourceOptions()),
        lambda: sdk.ServiceAccountPatch("sdks", metadata=meta, image_pull_secrets=[{"name": "pull"}]),
    )
    assert_same_registration(ours, sdks)


def test_a_difference_would_be_seen() -> None:
    # The comparison itself can fail: a Secret of another type differs from the SDK's.
    import pulumi_kubernetes.core.v1 as sdk

    ours, sdks = both(
        lambda: kube_resources.Secret("ours", METADATA, "Opaque", {}, pulumi.ResourceOptions()),
        lambda: sdk.Secret("sdks", metadata=METADATA, type="kubernetes.io/dockerconfigjson", data={}),
    )
    with pytest.raises(AssertionError):
        assert_same_registration(ours, sdks)


def test_config_map_registers_what_the_sdk_config_map_registers() -> None:
    import pulumi_kubernetes.core.v1 as sdk

    data = {"ca.crt": "PEM", "hosts.toml": pulumi.Output.from_input("server = 1")}
    ours, sdks = both(
        lambda: kube_resources.ConfigMap("ours", METADATA, data, pulumi.ResourceOptions()),
        lambda: sdk.ConfigMap("sdks", metadata=METADATA, data=data),
    )
    assert_same_registration(ours, sdks)


def test_daemonset_registers_what_the_sdk_daemonset_registers() -> None:
    import pulumi_kubernetes.apps.v1 as sdk

    from components.node_trust import daemonset_spec

    spec = daemonset_spec("trust", "busybox:1.37", "10.0.0.5:5000", "/etc/containerd/certs.d", "abc")
    ours, sdks = both(
        lambda: kube_resources.DaemonSet("ours", METADATA, spec, pulumi.ResourceOptions()),
        lambda: sdk.DaemonSet("sdks", metadata=METADATA, spec=spec),
    )
    assert_same_registration(ours, sdks)
    assert len(ours.aliases) == 2


def test_network_policy_registers_what_the_sdk_network_policy_registers() -> None:
    import pulumi_kubernetes.networking.v1 as sdk

    from components.network_policy import DEFAULT_PEERS, policy_spec

    spec = policy_spec(DEFAULT_PEERS, 5000, 5001)
    ours, sdks = both(
        lambda: kube_resources.NetworkPolicy("ours", METADATA, spec, pulumi.ResourceOptions()),
        lambda: sdk.NetworkPolicy("sdks", metadata=METADATA, spec=spec),
    )
    assert_same_registration(ours, sdks)
    assert ours.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and len(ours.aliases) == 1


@pytest.mark.parametrize(
    ("ours_class", "sdk_module", "sdk_class", "spec", "old_groups"),
    [
        ("Deployment", "apps.v1", "Deployment", {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}}, 3),
        ("Namespace", "core.v1", "Namespace", None, 0),
        ("Service", "core.v1", "Service", {"type": "NodePort", "ports": [{"port": 5000, "nodePort": 30500}]}, 0),
        ("PersistentVolumeClaim", "core.v1", "PersistentVolumeClaim", {"accessModes": ["ReadWriteOnce"]}, 0),
        ("PodDisruptionBudget", "policy.v1", "PodDisruptionBudget", {"maxUnavailable": 1}, 1),
    ],
)
def test_spec_objects_register_what_the_sdk_classes_register(
    ours_class: str, sdk_module: str, sdk_class: str, spec: dict[str, Any] | None, old_groups: int
) -> None:
    import importlib

    sdk = getattr(importlib.import_module(f"pulumi_kubernetes.{sdk_module}"), sdk_class)
    ours_type = getattr(kube_resources, ours_class)
    ours, sdks = both(
        lambda: ours_type("ours", METADATA, spec, pulumi.ResourceOptions()),
        lambda: sdk("sdks", metadata=METADATA, spec=spec),
    )
    assert_same_registration(ours, sdks)
    assert ours.type == f"kubernetes:{sdk_module.replace('.', '/')}:{sdk_class}"
    assert len(ours.aliases) == old_groups
