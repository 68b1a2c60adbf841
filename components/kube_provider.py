"""The one Kubernetes provider of a registry: the program's own, handed in through `opts` (a program
that creates its cluster), or one the component makes from a kubeconfig context (cluster mode) or a
folder (render mode).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pulumi
from pulumi_kubernetes import Provider

from .model import KubernetesSettings


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
        # Never let the SDK copy $KUBECONFIG into the provider's inputs (it does when this is None).
        # In cluster mode the path would be saved in state, so a PR check on another machine (another
        # path) would show a provider diff, and fail once the old path is gone; with "" the provider
        # reads $KUBECONFIG (or ~/.kube/config) itself. In render mode the provider refuses a
        # kubeconfig beside a render folder: rendering must not depend on (or reach) any cluster.
        kubeconfig="",
        # Update the data in place: a replaced Secret would briefly be missing for pulls.
        enable_secret_mutable=True,
        opts=opts,
    )


def handed_in_provider(opts: pulumi.ResourceOptions | None) -> Provider | None:
    """The kubernetes.Provider a program hands the component, where Pulumi would look for one:
    `opts.provider`, `opts.providers` (a list, or a map by package name) or the parent's providers.
    """
    if opts is None:
        return None
    given = opts.providers
    listed = list(given.values()) if isinstance(given, Mapping) else list(given or [])
    for candidate in (opts.provider, *listed):
        if isinstance(candidate, Provider):
            return candidate
    inherited = opts.parent.get_provider("kubernetes::") if opts.parent is not None else None
    return inherited if isinstance(inherited, Provider) else None
