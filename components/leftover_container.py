"""A leftover registry container of an interrupted `pulumi up`, removed before the container is created.

Why: when `pulumi up` dies (SIGKILL, OOM, a CI runner torn down) after the Docker provider ran
`docker create` but before the engine saved the result, the container holds the name while the
stack's state only has a pending create. Every later `up` then fails with `Conflict. The container
name "/registry-dev" is already in use`, and neither `pulumi cancel` nor `pulumi refresh
--clear-pending-creates` touches Docker. A `before_create` resource hook on the container removes
such a leftover, but only when it is provably this stack's and idle: it carries our label, mounts
this stack's data volume at the storage root, and is not running. A container of anyone else, or a
running one, stops the `up` with an error that names it; nothing is removed then. A running one may
be serving (a run killed after it started the new container): removing it would be an outage nobody
asked for, so the user decides. Resource hooks never run during preview (`on_dry_run` is off), and
the engine runs `before_create` for the create half of a delete-before-replace too; both checked
with CLI 3.274.1 and this project's language host (the hook runs in the program's own process;
tests/e2e/test_faults_interrupt.py).

Alternatives weighed: an `on_error` hook that retries after the Conflict (the failed create is
reported first, and a retry needs the same checks); `pulumi refresh --import-pending-creates`
(a manual step with the container's ID); a `create_before_replace` with a new name per replacement
(two registries on one host port cannot both run).

Ownership is the label plus the data volume, not a new stack label: a new label would replace
every deployed registry container once on upgrade (labels are replace-only in the provider), and
two stacks cannot share a data volume anyway (their images would mix).

The decision is the plain function `judge_leftover`; `docker_container` and `remove_leftover` only
adapt the Docker Engine API (`docker_engine.Engine`, or anything with its `inspect_container` and
`remove_container`), reached with the stack's docker provider settings: host, context, TLS, ssh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pulumi

from .docker_engine import Connection, DockerEngineError, engine

MANAGED_BY_LABEL = "io.private-registry.managed-by"
MANAGED_BY = "pulumi"
# States in which nothing serves from the container: removing it loses no request.
IDLE_STATES = ("created", "exited", "dead")


class Containers(Protocol):
    """The two calls the hook makes (`docker_engine.Engine` has them; tests give a fake)."""

    def inspect_container(self, name: str) -> dict[str, Any] | None: ...

    def remove_container(self, container_id: str) -> None: ...


Runner = Callable[[], AbstractContextManager[Containers]]


@dataclass(frozen=True)
class Ownership:
    """What makes a container this stack's registry: our label, and this stack's data volume mounted
    at the storage root (a volume two stacks shared would already mix their images).
    """

    labels: Mapping[str, str]
    volume: str
    volume_path: str


def not_ours(inspected: Mapping[str, Any], ours: Ownership) -> str | None:
    """Why the inspected container is not this stack's registry, or None when it is."""
    found = (inspected.get("Config") or {}).get("Labels") or {}
    for key, value in sorted(ours.labels.items()):
        if found.get(key) != value:
            return f"label {key}={found.get(key)!r}, expected {value!r}"
    mounts = {m.get("Destination"): m for m in inspected.get("Mounts") or []}
    mount = mounts.get(ours.volume_path) or {}
    if mount.get("Type") != "volume" or mount.get("Name") != ours.volume:
        return f"{ours.volume_path} is not the data volume {ours.volume!r}"
    return None


@dataclass(frozen=True)
class Verdict:
    """What to do about a container that holds the name the registry container is about to take."""

    action: Literal["none", "remove", "refuse"]
    container_id: str = ""
    message: str = ""


def judge_leftover(name: str, inspected: Mapping[str, Any] | None, ours: Ownership) -> Verdict:
    """Remove the container holding `name` only if it is this stack's registry and idle; else refuse."""
    if inspected is None:
        return Verdict("none")
    container_id = str(inspected.get("Id", ""))
    short = container_id[:12]
    status = str((inspected.get("State") or {}).get("Status", "unknown"))
    reason = not_ours(inspected, ours)
    if reason:
        return Verdict(
            "refuse",
            container_id,
            f"container {name!r} ({short}, {status}) holds the registry's container name but is not this stack's "
            f"({reason}); it is left alone: set private-registry:containerName to another name, or remove that "
            "container yourself",
        )
    if status not in IDLE_STATES:
        return Verdict(
            "refuse",
            container_id,
            f"container {name!r} ({short}) is this stack's registry but {status} and not in the stack's state "
            "(an earlier `pulumi up` was interrupted after starting it); it is left alone because it may be serving: "
            f"check it, remove it (`docker rm -f {name}`) and run `pulumi up` again",
        )
    return Verdict(
        "remove",
        container_id,
        f"removed container {name!r} ({short}, {status}): a leftover of an interrupted `pulumi up` "
        "that held the registry's container name",
    )


class LeftoverContainerError(Exception):
    """A container holds the registry's name and is not provably a removable leftover of this stack."""


def docker_container(name: str, docker: Containers) -> dict[str, Any] | None:
    """The container holding exactly the name `name`, or None."""
    found = docker.inspect_container(name)
    # Inspecting also matches ID prefixes: only a container with exactly this name holds the name.
    return found if found is not None and found.get("Name") == f"/{name}" else None


def remove_leftover(name: str, ours: Ownership, docker: Containers) -> Verdict:
    """Judge the container holding `name` and remove it when the verdict says so (by ID, never forced)."""
    verdict = judge_leftover(name, docker_container(name, docker), ours)
    if verdict.action == "remove":
        # Without force: a container that started meanwhile is not removed (and the create then fails).
        try:
            docker.remove_container(verdict.container_id)
        except DockerEngineError as err:
            return Verdict("refuse", verdict.container_id, f"could not remove container {name!r}: {err}")
    return verdict


def data_volume(inputs: Mapping[str, Any], volume_path: str) -> str:
    """The named volume the container's inputs mount at `volume_path` ("" if none)."""
    for volume in inputs.get("volumes") or []:
        if volume.get("containerPath") == volume_path:
            return str(volume.get("volumeName") or "")
    return ""


def leftover_hook(
    labels: Mapping[str, str], volume_path: str, docker: Connection, runner: Runner | None = None
) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The `before_create` hook function: remove this stack's idle leftover, refuse anything else.
    `runner` opens the Docker host (default: the Engine API at `docker`).
    """

    @contextmanager
    def opened() -> Iterator[Containers]:
        with engine(docker) as api:
            yield api

    run = runner or opened

    def remove_leftover_container(args: pulumi.ResourceHookArgs) -> None:
        inputs = args.new_inputs or {}
        name = inputs.get("name")
        if not isinstance(name, str) or not name:
            return
        ours = Ownership(labels, data_volume(inputs, volume_path), volume_path)
        try:
            with run() as containers:
                verdict = remove_leftover(name, ours, containers)
        except DockerEngineError as err:
            # The provider's own create reports a Docker host it cannot reach: let it say so.
            pulumi.log.warn(f"could not check for a leftover container named {name!r}: {err}")
            return
        if verdict.action == "refuse":
            raise LeftoverContainerError(verdict.message)
        if verdict.action == "remove":
            pulumi.log.warn(verdict.message)

    return remove_leftover_container
