"""Unit tests: which container holding the registry's name the before_create hook removes, and how."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pulumi
import pytest

from components.docker_engine import Connection, DockerEngineError
from components.leftover_container import (
    LeftoverContainerError,
    Ownership,
    data_volume,
    docker_container,
    judge_leftover,
    leftover_hook,
    remove_leftover,
)

LABELS = {"io.private-registry.managed-by": "pulumi"}
STORAGE = "/var/lib/registry"
VOLUME = "registry-data-dev"
OURS = Ownership(LABELS, VOLUME, STORAGE)
NAME = "registry-dev"


def inspected(
    status: str,
    labels: dict[str, str] | None = None,
    volume: str | None = VOLUME,
    name: str = NAME,
    cid: str = "c0ffee" * 10,
) -> dict[str, Any]:
    """`docker container inspect` output, the parts the hook reads."""
    mounts = [{"Type": "volume", "Name": volume, "Destination": STORAGE}] if volume else []
    labels = LABELS if labels is None else labels
    return {"Id": cid, "Name": f"/{name}", "State": {"Status": status}, "Config": {"Labels": labels}, "Mounts": mounts}


def test_no_container_means_nothing_to_do() -> None:
    assert judge_leftover(NAME, None, OURS).action == "none"


# Written out, not taken from IDLE_STATES: nothing serves from a created, exited or dead container.
@pytest.mark.parametrize("status", ["created", "exited", "dead"])
def test_an_idle_container_of_this_stack_is_removed(status: str) -> None:
    verdict = judge_leftover(NAME, inspected(status, {**LABELS, "other": "x"}), OURS)
    assert verdict.action == "remove" and verdict.container_id == "c0ffee" * 10
    assert NAME in verdict.message and status in verdict.message


@pytest.mark.parametrize("status", ["running", "restarting", "paused", "removing"])
def test_a_live_container_of_this_stack_is_refused(status: str) -> None:
    verdict = judge_leftover(NAME, inspected(status), OURS)
    assert verdict.action == "refuse" and status in verdict.message and f"docker rm -f {NAME}" in verdict.message


@pytest.mark.parametrize(
    "container",
    [
        inspected("exited", labels={}),  # a container someone ran by hand
        inspected("exited", labels={"io.private-registry.managed-by": "someone"}),
        inspected("exited", volume="registry-data-staging"),  # another stack's registry
        inspected("exited", volume=None),  # ours by label, but no data volume at the storage root
        {**inspected("exited"), "Mounts": [{"Type": "bind", "Source": f"/srv/{VOLUME}", "Destination": STORAGE}]},
    ],
)
def test_a_container_of_anyone_else_is_refused_even_when_idle(container: dict[str, Any]) -> None:
    verdict = judge_leftover(NAME, container, OURS)
    assert verdict.action == "refuse"
    assert repr(NAME) in verdict.message and "not this stack's" in verdict.message and "containerName" in verdict.message


def test_the_data_volume_comes_from_the_container_inputs() -> None:
    inputs = {"volumes": [{"volumeName": "other", "containerPath": "/cache"}, {"volumeName": VOLUME, "containerPath": STORAGE}]}
    assert data_volume(inputs, STORAGE) == VOLUME
    assert data_volume({}, STORAGE) == ""


class FakeDocker:
    """Answers the Engine's container inspect/remove like dockerd, from a dict of containers by name."""

    def __init__(self, containers: dict[str, dict[str, Any]], rm_error: str = "") -> None:
        self.containers = containers
        self.rm_error = rm_error
        self.calls: list[list[str]] = []

    def inspect_container(self, key: str) -> dict[str, Any] | None:
        self.calls.append(["container", "inspect", key])
        found = [c for n, c in self.containers.items() if n == key or c["Id"].startswith(key)]
        return found[0] if found else None

    def remove_container(self, container_id: str) -> None:
        self.calls.append(["container", "rm", container_id])
        if self.rm_error:
            raise DockerEngineError(f"Docker host unix:///x.sock: removing container {container_id[:12]} failed: {self.rm_error}")
        self.containers = {n: c for n, c in self.containers.items() if c["Id"] != container_id}

    @contextmanager
    def __call__(self) -> Iterator[FakeDocker]:
        yield self


def test_remove_leftover_removes_by_id_without_force() -> None:
    docker = FakeDocker({NAME: inspected("created")})
    assert remove_leftover(NAME, OURS, docker).action == "remove"
    assert docker.calls[-1] == ["container", "rm", "c0ffee" * 10]  # no --force, no -v
    assert docker.containers == {}


def test_a_failed_removal_is_a_refusal() -> None:
    docker = FakeDocker({NAME: inspected("created")}, rm_error="cannot remove container: it is running")
    verdict = remove_leftover(NAME, OURS, docker)
    assert verdict.action == "refuse" and "it is running" in verdict.message


def test_an_id_prefix_match_is_not_a_name_match() -> None:
    # `docker inspect abc` also finds a container whose ID starts with abc: that one does not hold the name.
    docker = FakeDocker({"something-else": inspected("exited", name="something-else", cid="abc" + "0" * 61)})
    assert docker_container("abc", docker) is None


def test_an_unreachable_daemon_is_reported_not_taken_for_no_container() -> None:
    class Unreachable(FakeDocker):
        def inspect_container(self, key: str) -> dict[str, Any] | None:
            raise DockerEngineError("Docker host tcp://h:2376: inspecting container 'registry-dev' failed: Connection refused")

    with pytest.raises(DockerEngineError, match="Connection refused"):
        docker_container(NAME, Unreachable({}))


def hook_args(name: str | None) -> pulumi.ResourceHookArgs:
    inputs = {"name": name, "volumes": [{"volumeName": VOLUME, "containerPath": STORAGE}]} if name else {}
    return pulumi.ResourceHookArgs(urn="urn:pulumi:dev::p::docker:index/container:Container::c", id="", name="c",
                                   type="docker:index/container:Container", new_inputs=inputs)  # fmt: skip


def test_hook_removes_our_leftover_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    docker = FakeDocker({NAME: inspected("created")})
    leftover_hook(LABELS, STORAGE, Connection(), docker)(hook_args(NAME))
    assert docker.containers == {} and len(warnings) == 1 and "removed container 'registry-dev'" in warnings[0]


def test_hook_fails_the_create_for_a_foreign_container() -> None:
    docker = FakeDocker({NAME: inspected("exited", labels={})})
    with pytest.raises(LeftoverContainerError, match="registry-dev"):
        leftover_hook(LABELS, STORAGE, Connection(), docker)(hook_args(NAME))
    assert NAME in docker.containers and not any(c[:2] == ["container", "rm"] for c in docker.calls)


def test_hook_does_nothing_without_a_container_or_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    docker = FakeDocker({})
    leftover_hook(LABELS, STORAGE, Connection(), docker)(hook_args(NAME))
    leftover_hook(LABELS, STORAGE, Connection(), docker)(hook_args(None))
    assert warnings == [] and docker.calls == [["container", "inspect", NAME]]


def test_hook_warns_and_lets_the_create_run_when_docker_cannot_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))

    @contextmanager
    def unreachable() -> Iterator[FakeDocker]:
        raise DockerEngineError("Docker host tcp://h:2376: connecting failed: Connection refused")
        yield FakeDocker({})

    leftover_hook(LABELS, STORAGE, Connection(), unreachable)(hook_args(NAME))
    assert len(warnings) == 1 and "could not check" in warnings[0] and "tcp://h:2376" in warnings[0]
