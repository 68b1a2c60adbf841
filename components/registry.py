"""The registry container (pulumi-docker): image, named data volume, TLS, htpasswd, health check.

Cert, key and htpasswd are delivered with the provider's `uploads`, not host paths, so a remote
Docker host works too. Uploads are replace-only in the provider: a password change or a cert
renewal replaces the container. The container is deleted before its replacement is created (same
name, same port), and the registry drains in-flight requests on stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from .generated_secret import GeneratedSecret
from .leftover_container import MANAGED_BY, MANAGED_BY_LABEL, leftover_hook

REGISTRY_PORT = 5000  # inside the container; the host port is configurable
STORAGE_ROOT = "/var/lib/registry"
CERT_PATH = "/etc/distribution/certs/tls.crt"
KEY_PATH = "/etc/distribution/certs/tls.key"
HTPASSWD_PATH = "/etc/distribution/auth/htpasswd"
DRAIN_SECONDS = 5
HTTP_SECRET_BYTES = 32
# The debug listener serves `/debug/health` (which includes the storage driver's health) over plain
# HTTP on the container's own loopback: the health check needs no TLS client in the image (busybox
# `wget` cannot complete TLS with a Go 1.25+ server), and the port is never published on the host.
DEBUG_ADDR = "127.0.0.1:5001"


def registry_variables(realm: str, delete_enabled: bool, storage: dict[str, str], http_secret: str | None) -> dict[str, str]:
    """The `REGISTRY_*` variables of both targets: TLS, htpasswd auth, the storage driver's, a stable
    HTTP secret (None: the caller delivers it another way), draining, the debug listener for the
    health check and, when asked, deletes.
    """
    variables = {
        "REGISTRY_HTTP_ADDR": f"0.0.0.0:{REGISTRY_PORT}",
        "REGISTRY_HTTP_TLS_CERTIFICATE": CERT_PATH,
        "REGISTRY_HTTP_TLS_KEY": KEY_PATH,
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": realm,
        "REGISTRY_AUTH_HTPASSWD_PATH": HTPASSWD_PATH,
        **storage,
    }
    if http_secret is not None:
        # Without a fixed secret an upload in progress fails after a restart.
        variables["REGISTRY_HTTP_SECRET"] = http_secret
    variables.update(
        {
            "REGISTRY_HTTP_DRAINTIMEOUT": f"{DRAIN_SECONDS}s",
            "REGISTRY_HTTP_DEBUG_ADDR": DEBUG_ADDR,
            "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED": "true",
            # Always explicit: the official image's own config.yml turns deletes on.
            "REGISTRY_STORAGE_DELETE_ENABLED": "true" if delete_enabled else "false",
        }
    )
    return variables


def registry_env(http_secret: str, realm: str, delete_enabled: bool = False) -> list[str]:
    """The container's environment (`NAME=value`): the registry variables with filesystem storage."""
    storage = {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": STORAGE_ROOT}
    return [f"{k}={v}" for k, v in registry_variables(realm, delete_enabled, storage, http_secret).items()]


def health_check_command() -> list[str]:
    """`GET /debug/health` on the debug listener: 200 once the registry serves and its storage works."""
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://{DEBUG_ADDR}/debug/health"]


@dataclass(frozen=True)
class RegistryContainerArgs:
    """What the container runs and with which TLS material, users and storage."""

    image: str
    pull_image: bool
    container_name: str
    data_volume: str
    retain_data: bool
    delete_enabled: bool
    health_timeout_seconds: int
    port: int
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]
    htpasswd: pulumi.Input[str]
    realm: str
    # Where the HTTP secret lived before this component owned it: deployed stacks keep their secret
    # (and so their container) instead of generating a new one.
    http_secret_aliases: Sequence[pulumi.Alias] = field(default_factory=list)


class RegistryContainer(pulumi.ComponentResource):
    """The named data volume, the image (pulled once, kept locally), the registry's HTTP secret
    (generated once) and the registry container.
    """

    container_name: pulumi.Output[str]
    volume_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryContainerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:RegistryContainer", name, None, opts)

        # A named volume survives the container's replacement; `retain_on_delete` keeps the image
        # data on destroy (it takes effect once an `up` has recorded it).
        volume = docker.Volume(
            f"{name}-data",
            name=args.data_volume,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_data),
        )
        if args.pull_image:
            image: pulumi.Input[str] = docker.RemoteImage(
                f"{name}-image",
                name=args.image,
                keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self),
            ).image_id
        else:
            image = args.image

        # Signs upload state: without a fixed secret an upload in progress fails after a restart.
        http_secret = GeneratedSecret(
            f"{name}-http-secret",
            HTTP_SECRET_BYTES,
            pulumi.ResourceOptions(parent=self, aliases=list(args.http_secret_aliases)),
        )
        envs: pulumi.Output[list[str]] = pulumi.Output.secret(
            http_secret.value.apply(lambda s: registry_env(s, args.realm, args.delete_enabled))
        )
        # An interrupted `up` can leave a container with this name that no state records: the hook
        # removes it before the create only when it is this stack's and idle (components/leftover_container.py).
        remove_leftover = pulumi.ResourceHook(
            f"{name}-remove-leftover-container",
            leftover_hook({MANAGED_BY_LABEL: MANAGED_BY}, STORAGE_ROOT, pulumi.Config("docker").get("host")),
        )
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=image,
            restart="always",
            ports=[docker.ContainerPortArgs(internal=REGISTRY_PORT, external=args.port)],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=STORAGE_ROOT)],
            envs=envs,
            uploads=[
                docker.ContainerUploadArgs(file=CERT_PATH, content=args.cert_pem),
                docker.ContainerUploadArgs(file=KEY_PATH, content=pulumi.Output.secret(args.key_pem)),
                docker.ContainerUploadArgs(file=HTPASSWD_PATH, content=pulumi.Output.secret(args.htpasswd)),
            ],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_check_command(),
                interval="2s",
                timeout="5s",
                retries=15,
                start_period="1s",
            ),
            wait=True,
            wait_timeout=args.health_timeout_seconds,
            stop_timeout=DRAIN_SECONDS + 5,
            labels=[docker.ContainerLabelArgs(label="io.private-registry.managed-by", value="pulumi")],
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                hooks=pulumi.ResourceHookBinding(before_create=[remove_leftover]),
            ),
        )

        self.container_name = container.name
        self.volume_name = volume.name
        self.register_outputs({"containerName": self.container_name, "volumeName": self.volume_name})
