"""The one Kubernetes provider of a stack: a kubeconfig context (cluster mode) or a folder (render mode)."""

from __future__ import annotations

import os

import pulumi
from pulumi_kubernetes import Provider

from components.settings import KubernetesSettings


def prepare_render_directory(path: str) -> None:
    """Create the render folder owner-only (0700): rendered Secrets hold plaintext credentials."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def kubernetes_provider(name: str, k8s: KubernetesSettings, opts: pulumi.ResourceOptions) -> Provider:
    """The provider every Kubernetes resource of the stack is created with."""
    if k8s.mode == "render" and k8s.render_directory:
        prepare_render_directory(k8s.render_directory)
        pulumi.log.warn(
            f"kubernetes.mode=render: the pull secrets are written in plaintext to {k8s.render_directory}/ "
            "(owner-only folder); keep it out of version control"
        )
    return Provider(
        name,
        context=k8s.context,
        render_yaml_to_directory=k8s.render_directory if k8s.mode == "render" else None,
        # The SDK fills `kubeconfig` from $KUBECONFIG, which the provider refuses beside a render
        # folder: rendering must not depend on (or reach) any cluster.
        kubeconfig="" if k8s.mode == "render" else None,
        # Update the data in place: a replaced Secret would briefly be missing for pulls.
        enable_secret_mutable=True,
        opts=opts,
    )
