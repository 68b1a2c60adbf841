"""Kubernetes image pull secrets (pulumi-kubernetes), one per namespace, and node trust content.

A pull secret carries credentials, not trust: nodes must also trust the CA, which is what
`containerd_hosts_toml` is for (a cluster stack installs it on its nodes).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_kubernetes import Provider

from components.kube_resources import Secret, ServiceAccountPatch
from components.settings import KubernetesSettings

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d"
LABELS = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "private-registry"}


def docker_config_json(endpoint: str, username: str, password: str) -> str:
    """The `.dockerconfigjson` document for one registry: `auths.{endpoint}` with user, password, auth."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    document = {"auths": {endpoint: {"username": username, "password": password, "auth": auth}}}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def containerd_hosts_toml(endpoint: str) -> str:
    """`certs.d/<endpoint>/hosts.toml` for containerd nodes; the CA goes beside it as `ca.crt`."""
    return (
        f'server = "https://{endpoint}"\n'
        "\n"
        f'[host."https://{endpoint}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
        f'  ca = "{CONTAINERD_CERTS_DIR}/{endpoint}/ca.crt"\n'
    )


def prepare_render_directory(path: str) -> None:
    """Create the render folder owner-only (0700): rendered Secrets hold plaintext credentials."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


@dataclass(frozen=True)
class PullSecretsArgs:
    """Which namespaces get a pull secret, its name, its content and how Kubernetes is reached."""

    name: str
    namespaces: Sequence[str]
    docker_config_json: pulumi.Input[str]
    patch_default_service_account: bool
    kubernetes: KubernetesSettings


class PullSecrets(pulumi.ComponentResource):
    """A `kubernetes.io/dockerconfigjson` Secret per namespace, optionally added to `default` SAs."""

    def __init__(self, name: str, args: PullSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:PullSecrets", name, None, opts)
        k8s = args.kubernetes
        if not args.namespaces:  # no pull secrets: no Kubernetes provider, no cluster access needed
            self.register_outputs({})
            return
        if k8s.mode == "render" and k8s.render_directory:
            prepare_render_directory(k8s.render_directory)
            pulumi.log.warn(
                f"kubernetes.mode=render: the pull secrets are written in plaintext to {k8s.render_directory}/ "
                "(owner-only folder); keep it out of version control",
                resource=self,
            )
        provider = Provider(
            f"{name}-k8s",
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        data: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.from_input(args.docker_config_json).apply(lambda doc: base64.b64encode(doc.encode()).decode())
        )
        for namespace in args.namespaces:
            child = pulumi.ResourceOptions(parent=self, provider=provider)
            secret = Secret(
                f"{name}-{namespace}",
                metadata={"name": args.name, "namespace": namespace, "labels": LABELS},
                secret_type=SECRET_TYPE,
                data={".dockerconfigjson": data},
                opts=child,
            )
            if args.patch_default_service_account:
                ServiceAccountPatch(
                    f"{name}-{namespace}-default-sa",
                    metadata={"name": "default", "namespace": namespace},
                    image_pull_secrets=[args.name],
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[secret]),
                )
        self.register_outputs({})
