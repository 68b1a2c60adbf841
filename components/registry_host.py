"""Target `docker` as one component: the registry's containers on one Docker host.

The counterpart of `RegistryDeployment` (registry_kube.py): the writer, the read-only instance
beside it when the stack has one (`pullPort`: the same named volume, mounted read-only, on a port
of its own), and a proxy-mode container per mirror on a volume of its own (a cache: never kept on
destroy). Each is a `RegistryContainer` (registry.py). The Docker host comes in through the args,
as the composition root read it from the stack's `docker:*` settings. The component takes the
registry's own name, so its containers keep the names they had before it existed.

Until 2026-12-07 the containers were children of `PrivateRegistry` itself: `moved_from` names it,
and each container carries an alias to its place there, so a deployed stack moves under this
component without a replacement (its children follow their parent's alias).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from .distribution import Instance
from .docker_engine import Connection
from .mirrors import Mirror
from .model import DockerTarget, ReadOnlyInstance
from .registry import RegistryContainer, RegistryContainerArgs


@dataclass(frozen=True)
class HostMirror:
    """One mirror: its instance (role `mirror`) and its settings (port, slug)."""

    instance: Instance
    mirror: Mirror


@dataclass(frozen=True)
class RegistryHostArgs:
    """What runs on the Docker host: the writer's instance, the read-only one (or none), the mirrors."""

    writer: Instance
    target: DockerTarget
    port: int
    retain_data: bool
    docker_host: Connection
    read_only: tuple[Instance, ReadOnlyInstance] | None = None
    mirrors: Sequence[HostMirror] = ()
    moved_from: pulumi.Resource | None = None  # the parent the containers had before this component
    # Where the writer's HTTP secret lived before `RegistryContainer` owned it (deployed stacks keep it).
    http_secret_aliases: Sequence[pulumi.Alias] = field(default_factory=list)


class RegistryHost(pulumi.ComponentResource):
    """The registry's containers on the Docker host. `writer`: the container that takes pushes;
    `pull_servers`: those that serve pulls (the read-only one instead of the writer when there is
    one, and the mirrors), what pull secrets wait for.
    """

    writer: RegistryContainer
    pull_servers: list[RegistryContainer]

    def __init__(self, name: str, args: RegistryHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:RegistryHost", name, None, opts)
        self._name, self._args = name, args
        target = args.target
        self.writer = self._container(
            RegistryContainerArgs(
                instance=args.writer,
                container_name=target.container_name,
                data_volume=target.data_volume,
                retain_data=args.retain_data,
                port=args.port,
                docker_host=args.docker_host,
                http_secret_aliases=args.http_secret_aliases,
                limits=target.limits,
            ),
            "registry",
        )
        self.pull_servers = [] if args.read_only is not None else [self.writer]
        self.outputs: dict[str, pulumi.Output] = {
            "containerName": self.writer.container_name,
            "dataVolume": self.writer.volume_name,
        }
        for mirror in args.mirrors:
            self.pull_servers.append(self._mirror(mirror))
        if args.read_only is not None:
            reader = self._reader(*args.read_only)
            self.pull_servers.append(reader)
            self.outputs["pullContainerName"] = reader.container_name
        self.register_outputs(self.outputs)

    def _container(self, args: RegistryContainerArgs, suffix: str) -> RegistryContainer:
        moved = self._args.moved_from
        aliases = [pulumi.Alias(parent=moved)] if moved is not None else []
        opts = pulumi.ResourceOptions(parent=self, aliases=aliases)
        return RegistryContainer(f"{self._name}-{suffix}", args, opts)

    def _reader(self, instance: Instance, read_only: ReadOnlyInstance) -> RegistryContainer:
        """The read-only instance: the writer's volume, mounted read-only, on the `pullPort`."""
        target = self._args.target
        args = RegistryContainerArgs(
            instance=instance,
            container_name=f"{target.container_name}-pull",
            data_volume=target.data_volume,
            retain_data=self._args.retain_data,
            port=read_only.port,
            docker_host=self._args.docker_host,
            shared_volume=self.writer.volume_name,
            limits=target.limits,
        )
        return self._container(args, "pull")

    def _mirror(self, mirror: HostMirror) -> RegistryContainer:
        """A proxy-mode container per upstream, on a volume of its own (a cache: not kept on destroy)."""
        target, slug = self._args.target, mirror.mirror.slug
        args = RegistryContainerArgs(
            instance=mirror.instance,
            container_name=f"{target.container_name}-mirror-{slug}",
            data_volume=f"{target.data_volume}-mirror-{slug}",
            retain_data=False,
            port=mirror.mirror.port,
            docker_host=self._args.docker_host,
            limits=target.limits,
        )
        return self._container(args, f"mirror-{slug}")
