"""The Kubernetes resource types the program uses, declared without importing their SDK modules.

Importing `pulumi_kubernetes.core.v1` (4.5 MB of generated Python) takes about 1 s, more than the
rest of the program's evaluation together (bench/mock_eval.py); `apps.v1` adds more. These classes
register exactly the type tokens, wire properties, aliases, plugin version and secret outputs the
SDK classes do (tests/test_kube_resources.py compares them), so the engine and the kubernetes
provider cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pulumi_kubernetes import _utilities as k8s_sdk


def _options(opts: pulumi.ResourceOptions, secret_outputs: list[str] | None = None) -> pulumi.ResourceOptions:
    # Version and download URL from the installed SDK, as its own classes set them.
    extra = pulumi.ResourceOptions(additional_secret_outputs=secret_outputs)
    return pulumi.ResourceOptions.merge(k8s_sdk.get_resource_opts_defaults(), pulumi.ResourceOptions.merge(opts, extra))


class Secret(pulumi.CustomResource):
    """`kubernetes:core/v1:Secret`; `data` is always secret, in inputs and outputs."""

    def __init__(
        self,
        name: str,
        metadata: Mapping[str, object],
        secret_type: str,
        data: pulumi.Input[Mapping[str, pulumi.Input[str]]],
        opts: pulumi.ResourceOptions,
    ) -> None:
        props = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": dict(metadata),
            "type": secret_type,
            "data": pulumi.Output.secret(data),
            "immutable": None,
            "stringData": None,
        }
        super().__init__("kubernetes:core/v1:Secret", name, props, _options(opts, ["data", "stringData"]))


class ServiceAccountPatch(pulumi.CustomResource):
    """`kubernetes:core/v1:ServiceAccountPatch`: server-side apply of the fields given, nothing else."""

    def __init__(
        self, name: str, metadata: Mapping[str, object], image_pull_secrets: list[str], opts: pulumi.ResourceOptions
    ) -> None:
        props = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": dict(metadata),
            "imagePullSecrets": [{"name": n} for n in image_pull_secrets],
            "automountServiceAccountToken": None,
            "secrets": None,
        }
        super().__init__("kubernetes:core/v1:ServiceAccountPatch", name, props, _options(opts))


class ServiceAccount(pulumi.CustomResource):
    """`kubernetes:core/v1:ServiceAccount`."""

    def __init__(self, name: str, metadata: Mapping[str, object], opts: pulumi.ResourceOptions) -> None:
        props = {
            "apiVersion": "v1",
            "automountServiceAccountToken": None,
            "imagePullSecrets": None,
            "kind": "ServiceAccount",
            "metadata": dict(metadata),
            "secrets": None,
        }
        super().__init__("kubernetes:core/v1:ServiceAccount", name, props, _options(opts))


class ConfigMap(pulumi.CustomResource):
    """`kubernetes:core/v1:ConfigMap`."""

    def __init__(self, name: str, metadata: Mapping[str, object], data: pulumi.Input[Mapping[str, pulumi.Input[str]]],
                 opts: pulumi.ResourceOptions) -> None:  # fmt: skip
        props = {
            "apiVersion": "v1",
            "binaryData": None,
            "data": data,
            "immutable": None,
            "kind": "ConfigMap",
            "metadata": dict(metadata),
        }
        super().__init__("kubernetes:core/v1:ConfigMap", name, props, _options(opts))


class _SpecObject(pulumi.CustomResource):
    """An object of the usual shape (`metadata`, `spec`, `status`), as the SDK registers it, with the
    SDK's aliases for the older API groups of its type.
    """

    TYPE = ""
    OLD_TYPES: tuple[str, ...] = ()

    def __init__(self, name: str, metadata: Mapping[str, object], spec: pulumi.Input[Mapping[str, object]] | None,
                 opts: pulumi.ResourceOptions) -> None:  # fmt: skip
        _, group_version, kind = self.TYPE.split(":")  # kubernetes:<group>/<version>:<Kind>
        group, version = group_version.split("/")
        api_version = version if group == "core" else f"{group}/{version}"
        props = {"apiVersion": api_version, "kind": kind, "metadata": dict(metadata), "spec": spec, "status": None}
        if self.OLD_TYPES:
            aliases: list[pulumi.Input[str] | pulumi.Alias] = [pulumi.Alias(type_=t) for t in self.OLD_TYPES]
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=aliases))
        super().__init__(self.TYPE, name, props, _options(opts))


class DaemonSet(_SpecObject):
    """`kubernetes:apps/v1:DaemonSet`."""

    TYPE = "kubernetes:apps/v1:DaemonSet"
    OLD_TYPES = ("kubernetes:apps/v1beta2:DaemonSet", "kubernetes:extensions/v1beta1:DaemonSet")


class Deployment(_SpecObject):
    """`kubernetes:apps/v1:Deployment`; the provider waits for its rollout to complete."""

    TYPE = "kubernetes:apps/v1:Deployment"
    OLD_TYPES = (
        "kubernetes:apps/v1beta1:Deployment",
        "kubernetes:apps/v1beta2:Deployment",
        "kubernetes:extensions/v1beta1:Deployment",
    )


class Namespace(_SpecObject):
    """`kubernetes:core/v1:Namespace`."""

    TYPE = "kubernetes:core/v1:Namespace"


class Service(_SpecObject):
    """`kubernetes:core/v1:Service`."""

    TYPE = "kubernetes:core/v1:Service"


class NetworkPolicy(_SpecObject):
    """`kubernetes:networking.k8s.io/v1:NetworkPolicy`."""

    TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    OLD_TYPES = ("kubernetes:extensions/v1beta1:NetworkPolicy",)


class PersistentVolumeClaim(_SpecObject):
    """`kubernetes:core/v1:PersistentVolumeClaim`."""

    TYPE = "kubernetes:core/v1:PersistentVolumeClaim"


class PodDisruptionBudget(_SpecObject):
    """`kubernetes:policy/v1:PodDisruptionBudget`."""

    TYPE = "kubernetes:policy/v1:PodDisruptionBudget"
    OLD_TYPES = ("kubernetes:policy/v1beta1:PodDisruptionBudget",)


class ServiceMonitor(_SpecObject):
    """`kubernetes:monitoring.coreos.com/v1:ServiceMonitor` (the Prometheus Operator's), as
    `apiextensions.CustomResource` registers it.
    """

    TYPE = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
