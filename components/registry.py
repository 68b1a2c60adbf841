"""The registry container (pulumi-docker): image, named data volume, config volume, health check.

Cert, key and htpasswd are written into a config volume by a one-shot step (config_volume.py), not
host paths, so a remote Docker host works too; the container mounts it read-only. A password change
rewrites the htpasswd file in place and restarts nothing; a certificate renewal replaces the
container (TLS is read at start; a label carries the certificate's hash). The container runs as a
non-root user with a read-only root file system (a tmpfs at /tmp), no capabilities and
`no-new-privileges`. It is deleted before its replacement is created (same name, same port), and
the registry drains in-flight requests on stop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from .config_volume import MOUNT, ConfigFiles, own_data_hook
from .distribution import (
    CERT_PATH,
    DRAIN_SECONDS,
    HTPASSWD_PATH,
    HTTP_SECRET_BYTES,
    KEY_PATH,
    PORT,
    RUN_AS,
    STORAGE_ROOT,
    UPSTREAM_CA_PATH,
    Instance,
    health_check_command,
)
from .docker_engine import Connection
from .generated_secret import GeneratedSecret
from .leftover_container import MANAGED_BY, MANAGED_BY_LABEL, leftover_hook
from .model import ContainerLimits, StorageSettings
from .ordering import when_applying

FILESYSTEM = StorageSettings(driver="filesystem")  # the named data volume at the storage root
PRIVATE, PUBLIC = "0400", "0444"  # the key and htpasswd: readable by the registry's user only
TLS_LABEL = "io.private-registry.tls-sha256"  # what the registry reads only at start: a change replaces it
Hook = pulumi.ResourceHook | Callable[[pulumi.ResourceHookArgs], Awaitable[None] | None]


def config_files(instance: Instance) -> dict[str, tuple[pulumi.Input[str], str]]:
    """The files of the config volume (path inside it -> content, mode)."""

    def inside(path: str) -> str:
        return path.removeprefix(MOUNT + "/")

    files: dict[str, tuple[pulumi.Input[str], str]] = {
        inside(CERT_PATH): (instance.cert_pem, PUBLIC),
        inside(KEY_PATH): (instance.key_pem, PRIVATE),
        inside(HTPASSWD_PATH): (instance.htpasswd, PRIVATE),
    }
    if instance.mirror is not None and instance.mirror.ca is not None:
        files[inside(UPSTREAM_CA_PATH)] = (instance.mirror.ca, PUBLIC)
    return files


def tls_hash(cert: str | None, upstream_ca: str | None) -> str:
    """The label value: a hash of the public part of what TLS reads at start. The private key is left
    out: a new key always comes with a new certificate, and a bare hash of a secret in a label
    anyone with `docker inspect` reads is one to test guesses against. None (a program test's mocks
    that echo inputs) hashes as empty.
    """
    return hashlib.sha256("\0".join([cert or "", upstream_ca or ""]).encode()).hexdigest()


def cpus_option(cpus: float) -> str | None:
    """`container.cpus` written as the docker provider reads it back from the container (`1.0`,
    `1.5`, `10.`: its `nanoInt64ToDecimalString`), so no preview shows a change to undo; 0 is no
    limit: left out. Tenths only (settings.cpus_ok).
    """
    if not cpus:
        return None
    tenths = round(cpus * 10)
    whole, tenth = divmod(tenths, 10)
    text = f"{whole}.{tenth}00000000"  # nine decimals, as the provider formats it first
    return f"{whole}.{tenth}" if text.count("0") == 9 else text.rstrip("0")


def container_env(instance: Instance, http_secret: str) -> list[str]:
    """The container's environment (`NAME=value`): the instance on the data volume."""
    return [f"{k}={v}" for k, v in instance.variables(FILESYSTEM, http_secret).items()]


@dataclass(frozen=True)
class RegistryContainerArgs:
    """The instance, and where it runs on the Docker host: container, volume, port."""

    instance: Instance
    container_name: str
    data_volume: str
    retain_data: bool
    port: int
    docker_host: Connection  # the Docker host the docker provider reaches (docker_engine.stack_connection)
    # The volume of another instance to share (a read-only instance beside the writer), or None: this
    # instance's own named volume `data_volume`.
    shared_volume: pulumi.Input[str] | None = None
    # Where the HTTP secret lived before this component owned it: deployed stacks keep their secret
    # (and so their container) instead of generating a new one.
    http_secret_aliases: Sequence[pulumi.Alias] = field(default_factory=list)
    limits: ContainerLimits = field(default_factory=ContainerLimits)  # memory and CPU limits, log rotation


class RegistryContainer(pulumi.ComponentResource):
    """The named data volume, the image (pulled once, kept locally), the registry's HTTP secret
    (generated once) and the registry container.
    """

    container_name: pulumi.Output[str]
    volume_name: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryContainerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:RegistryContainer", name, None, opts)

        instance = args.instance
        volume_name = self._data_volume(name, args)
        image = self._image(name, instance)
        # Signs upload state: without a fixed secret an upload in progress fails after a restart.
        http_secret = GeneratedSecret(
            f"{name}-http-secret",
            HTTP_SECRET_BYTES,
            pulumi.ResourceOptions(parent=self, aliases=list(args.http_secret_aliases)),
        )
        envs: pulumi.Output[list[str]] = pulumi.Output.secret(http_secret.value.apply(lambda s: container_env(instance, s)))
        # The registry's files, written in place into a volume of their own (config_volume.py).
        # The volume is the resource's own: its first write creates it, its delete removes it.
        config_volume = f"{args.container_name}-config"
        files = ConfigFiles(
            f"{name}-config-files", config_volume, image, config_files(instance), pulumi.ResourceOptions(parent=self)
        )
        upstream_ca = instance.mirror.ca if instance.mirror is not None else None
        # Public material (own certificates come in as config secrets): the label need not be secret.
        cert = pulumi.Output.from_input(instance.cert_pem)
        started_with = pulumi.Output.unsecret(cert.apply(lambda c: tls_hash(c, upstream_ca)))
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=image,
            restart="always",
            ports=[docker.ContainerPortArgs(internal=PORT, external=args.port)],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume_name, container_path=STORAGE_ROOT, read_only=instance.role == "read-only" or None
                ),
                docker.ContainerVolumeArgs(volume_name=config_volume, container_path=MOUNT, read_only=True),
            ],
            envs=envs,
            user=f"{RUN_AS}:{RUN_AS}",
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health_check_command(),
                interval="2s",
                timeout="5s",
                retries=15,
                start_period="1s",
            ),
            wait=True,
            wait_timeout=instance.health_timeout_seconds,
            # Nothing the registry needs: no capability (it binds 5000 and owns its files), no
            # privilege gained through exec, bounded memory, CPU and logs.
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges:true"],
            memory=args.limits.memory_mib,
            # Memory and swap together: no swap. Left out, dockerd sets twice the memory and every
            # later preview would show it as a change to undo.
            memory_swap=args.limits.memory_mib,
            # Docker's `--cpus`. The provider replaces the container for a change of it (its
            # `cpu_quota` would be updated in the state only, never in the running container).
            cpus=cpus_option(args.limits.cpus),
            log_driver="json-file",
            log_opts={"max-size": args.limits.log_max_size, "max-file": str(args.limits.log_max_files)},
            stop_timeout=DRAIN_SECONDS + 5,
            labels=[
                docker.ContainerLabelArgs(label="io.private-registry.managed-by", value="pulumi"),
                docker.ContainerLabelArgs(label=TLS_LABEL, value=started_with),
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                depends_on=when_applying([files]),
                hooks=pulumi.ResourceHookBinding(before_create=self._hooks(name, args)),
            ),
        )

        self.container_name = container.name
        self.volume_name = volume_name
        self.register_outputs({"containerName": self.container_name, "volumeName": self.volume_name})

    def _data_volume(self, name: str, args: RegistryContainerArgs) -> pulumi.Output[str]:
        """This instance's named volume (a writer's, a mirror's), or the writer's it shares."""
        if args.shared_volume is not None:
            return pulumi.Output.from_input(args.shared_volume)
        # A named volume survives the container's replacement; `retain_on_delete` keeps the image
        # data on destroy (it takes effect once an `up` has recorded it).
        volume = docker.Volume(
            f"{name}-data", name=args.data_volume, opts=pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_data)
        )
        return volume.name

    def _image(self, name: str, instance: Instance) -> pulumi.Input[str]:
        """The image: pulled once and kept locally (`pullImage`), or used as the host has it."""
        if not instance.pull_image:
            return instance.image
        pulled = docker.RemoteImage(
            f"{name}-image", name=instance.image, keep_locally=True, opts=pulumi.ResourceOptions(parent=self)
        )
        return pulled.image_id

    def _hooks(self, name: str, args: RegistryContainerArgs) -> list[Hook]:
        """Before the container's create, on the Docker host the provider reaches (docker_engine.py).
        An interrupted `up` can leave a container with this name that no state records: the first
        removes it when it is this stack's and idle (leftover_container.py). The second gives a new
        data volume to the registry's user; a shared volume is its writer's to own.
        """
        labels = {MANAGED_BY_LABEL: MANAGED_BY}
        hooks: list[Hook] = [
            pulumi.ResourceHook(f"{name}-remove-leftover-container", leftover_hook(labels, STORAGE_ROOT, args.docker_host))
        ]
        if args.shared_volume is None:
            own = own_data_hook(lambda inputs: str(inputs["image"]), args.docker_host)
            hooks.append(pulumi.ResourceHook(f"{name}-own-data-volume", own))
        return hooks
