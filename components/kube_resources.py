"""The two Kubernetes resource types the pull secrets need, declared without `pulumi_kubernetes.core.v1`.

Importing that generated module (4.5 MB of Python) takes about 1 s, more than the rest of the
program's evaluation together (bench/mock_eval.py). These classes register exactly the type tokens
and wire properties the SDK classes do, with the SDK's plugin version and secret outputs, so the
engine and the kubernetes provider cannot tell them apart.
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
