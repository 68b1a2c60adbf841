"""Kubernetes image pull secrets (pulumi-kubernetes): one `.dockerconfigjson` Secret per namespace.

A pull secret carries credentials, not trust: nodes must also trust the CA (components/node_trust.py).
Under each mirrored upstream's name it carries the mirrors' own credential (mirrors.MIRROR_USER),
never the pull user's: a node that has no mirror `hosts.toml` yet sends what the kubelet holds for
`docker.io` to Docker Hub itself, and that credential opens nothing but this stack's mirrors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_kubernetes import Provider

from .kube_resources import Secret, ServiceAccountPatch
from .mirrors import MIRROR_USER
from .names import PART_OF
from .ordering import when_applying

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
LABELS = {"app.kubernetes.io/managed-by": "pulumi", **PART_OF}


def auth_entry(username: str, password: str) -> dict[str, str]:
    """One `auths` entry: user, password and their Basic `auth`."""
    return {"username": username, "password": password, "auth": base64.b64encode(f"{username}:{password}".encode()).decode()}


def docker_config_json(endpoint: str, username: str, password: str, mirrored: Mapping[str, tuple[str, str]] | None = None) -> str:
    """The `.dockerconfigjson` document: `auths.{endpoint}` with user, password, auth, and for each
    registry name in `mirrored` (the upstreams whose pulls the nodes send to a mirror of this stack)
    the credential given for it (the mirrors' own).
    """
    auths = {endpoint: auth_entry(username, password)}
    auths |= {name: auth_entry(*login) for name, login in (mirrored or {}).items()}
    return json.dumps({"auths": auths}, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PullSecretsArgs:
    """Which namespaces get a pull secret, its name, whose credentials for which endpoint, and how
    Kubernetes is reached.
    """

    name: str
    namespaces: Sequence[str]
    endpoint: str
    username: pulumi.Input[str]
    password: pulumi.Input[str]
    patch_default_service_account: bool
    provider: Provider | None  # None when there are no namespaces
    mirrored: Sequence[str] = ()  # upstream registry names the nodes pull through a mirror of this stack
    mirror_password: pulumi.Input[str] = ""  # with `mirrored`: the mirrors' own credential's (mirrors.MIRROR_USER)
    after: Sequence[pulumi.Resource] = ()  # what must hold a new credential before the Secrets carry it


class PullSecrets(pulumi.ComponentResource):
    """A `kubernetes.io/dockerconfigjson` Secret per namespace, optionally added to `default` SAs;
    `docker_config_json` (secret) is the document they hold.
    """

    docker_config_json: pulumi.Output[str]

    def __init__(self, name: str, args: PullSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:PullSecrets", name, None, opts)
        self.docker_config_json = pulumi.Output.secret(
            pulumi.Output.all(args.username, args.password, args.mirror_password).apply(
                lambda upm: docker_config_json(
                    args.endpoint, upm[0], upm[1], {name: (MIRROR_USER, upm[2]) for name in args.mirrored}
                )
            )
        )
        if not args.namespaces or args.provider is None:  # no pull secrets, no cluster access needed
            self.register_outputs({"dockerConfigJson": self.docker_config_json})
            return
        provider = args.provider
        data: pulumi.Output[str] = pulumi.Output.secret(
            self.docker_config_json.apply(lambda doc: base64.b64encode(doc.encode()).decode())
        )
        for namespace in args.namespaces:
            child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=when_applying(args.after))
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
        self.register_outputs({"dockerConfigJson": self.docker_config_json})
