"""Faults on the Docker side: dockerd restarted, the registry container removed out of band.

The tests restore what they disturb (dockerd running) even when they fail: the other end-to-end
tests run in the same session against the same sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.faults import (
    Deployed,
    OutageProbe,
    container_id,
    container_status,
    deployed_registry,
    ensure_docker_running,
    sandbox,
    state_container_id,
    wait_until,
)
from tests.e2e.helpers import TEST_IMAGE, record, run


@pytest.fixture(scope="module")
def registry(workdir: Path) -> Iterator[Deployed]:
    with deployed_registry(workdir, "e2e-faults-docker") as deployed:
        yield deployed


def test_dockerd_restart_brings_the_registry_back_with_its_images(registry: Deployed) -> None:
    image = registry.client.push_image("faults/restart", "1")
    before = container_id(registry.container)
    started = time.perf_counter()
    try:
        sandbox("restart-docker")
        restarted = time.perf_counter() - started
        serving = wait_until(registry.client.answers, 60, "the registry answers after the dockerd restart")
    finally:
        ensure_docker_running()
    record(f"dockerd restart: {restarted:.1f} s; registry answering {restarted + serving:.1f} s after the restart began")
    # The same container, started again by its restart policy: nothing recreated it.
    assert container_id(registry.container) == before == state_container_id(registry.stack)
    assert run(["docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", registry.container]).stdout.strip() == "always"
    registry.client.assert_image("faults/restart", "1", image)
    registry.stack.pulumi("preview", "--expect-no-changes")
    # And the provider reads the restarted container back as what the program declares.
    registry.stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_container_removed_out_of_band_is_recreated_by_up_refresh(registry: Deployed) -> None:
    image = registry.client.push_image("faults/removed", "1")
    old = container_id(registry.container)
    with OutageProbe(registry.client) as probe:
        run(["docker", "rm", "--force", registry.container])
        wait_until(lambda: probe.down_since is not None, 10, "the probe sees the registry gone")
        started = time.perf_counter()
        registry.stack.pulumi("up", "--refresh", "--yes", "--skip-preview")
        up_seconds = time.perf_counter() - started
        wait_until(registry.client.answers, 30, "the registry answers after `up --refresh`")
        time.sleep(0.2)  # let the probe see it answer
    record(f"container removed out of band: `pulumi up --refresh` recreated it in {up_seconds:.1f} s "
           f"(registry down {probe.longest:.1f} s in all)")  # fmt: skip
    new = container_id(registry.container)
    assert new != old and new == state_container_id(registry.stack)
    assert container_status(registry.container) == "running"
    registry.client.assert_image("faults/removed", "1", image)
    registry.stack.pulumi("preview", "--expect-no-changes")


def test_a_foreign_container_holding_the_name_stops_up_and_is_left_alone(registry: Deployed) -> None:
    image = registry.client.push_image("faults/foreign", "1")
    run(["docker", "rm", "--force", registry.container])
    # Someone else's container (no labels of this stack) takes the name while the registry is gone.
    foreign = run(["docker", "create", "--name", registry.container, TEST_IMAGE, "sleep", "600"]).stdout.strip()
    try:
        failed = registry.stack.pulumi("up", "--refresh", "--yes", "--skip-preview", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output
        assert 'before hook "registry-registry-remove-leftover-container" failed' in output, output
        assert f"container '{registry.container}' ({foreign[:12]}, created)" in output and "is not this stack's" in output, output
        assert container_id(registry.container) == foreign, "the foreign container must be left alone"
    finally:
        run(["docker", "rm", "--force", foreign], check=False)
    registry.stack.pulumi("up", "--refresh", "--yes", "--skip-preview")
    wait_until(registry.client.answers, 30, "the registry answers once the name is free")
    registry.client.assert_image("faults/foreign", "1", image)
    registry.stack.pulumi("preview", "--expect-no-changes")
    record("a foreign container holding the name: `pulumi up` stopped by the hook, naming it; the container left alone")
