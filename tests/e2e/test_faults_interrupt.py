"""Faults in the Pulumi run itself: `pulumi up` interrupted during a container replacement (SIGINT,
SIGKILL of the CLI), and two `pulumi up` of one stack at once.

A password change replaces the registry container (delete before replace: same name, same port).
The recovery steps are the README's ("Recovering from an interrupted `pulumi up`"), run as written.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults import (
    CliRun,
    Deployed,
    OutageProbe,
    container_id,
    container_status,
    deployed_registry,
    docker_events,
    kill_pids,
    lock_files,
    pending_operations,
    process_name,
    session_processes,
    state_container_id,
    wait_until,
)
from tests.e2e.helpers import record, run


@pytest.fixture(scope="module")
def registry(workdir: Path) -> Iterator[Deployed]:
    with deployed_registry(workdir, "e2e-faults-interrupt") as deployed:
        yield deployed


def sigkill_up_after(registry: Deployed, events: list[dict[str, Any]], action: str, orphans: list[int]) -> None:
    """Start `pulumi up` and SIGKILL the CLI once the container has had the Docker event `action`;
    the processes the CLI leaves behind go into `orphans`, even when this fails (for the caller to end).
    """
    cli = CliRun(registry.stack, "up", "--yes", "--skip-preview")
    try:
        wait_until(lambda: any(e["Action"] == action for e in events), 120, f"the new container: {action}")
        cli.process.send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
    finally:
        orphans.extend(pid for pid in session_processes(cli.process.pid) if pid != cli.process.pid)


VALIDITY_DAYS = itertools.count(200)


def replace_container(registry: Deployed) -> None:
    """A new server certificate (another validity): TLS is read at start, so the next `up` replaces
    the container (a password change no longer does: the htpasswd file is rewritten in place).
    """
    registry.stack.configure({"validityDays": next(VALIDITY_DAYS)})


def assert_converged(registry: Deployed, image: tuple[str, str, bytes], repo: str) -> None:
    """Serving with the configured password, images intact, state and Docker agree, nothing pending."""
    client = registry.reconnect()
    assert client.authenticated(), "the registry must accept the configured password"
    client.assert_image(repo, "1", image)
    assert state_container_id(registry.stack) == container_id(registry.container)
    assert pending_operations(registry.stack) == []
    assert lock_files(registry.stack) == []
    registry.stack.pulumi("preview", "--expect-no-changes")


def test_sigint_during_the_replacement_then_a_plain_up_recovers(registry: Deployed) -> None:
    image = registry.client.push_image("faults/sigint", "1")
    old = container_id(registry.container)
    replace_container(registry)
    with OutageProbe(registry.client) as probe, docker_events(registry.container) as events:
        cli = CliRun(registry.stack, "up", "--yes", "--skip-preview")
        try:
            wait_until(lambda: any(e["Action"] == "destroy" and e["Actor"]["ID"] == old for e in events), 120,
                       "the old container is deleted")  # fmt: skip
            cli.process.send_signal(signal.SIGINT)  # what ^C sends
            code = cli.wait(timeout=120)
        finally:
            if cli.process.poll() is None:
                kill_pids(session_processes(cli.process.pid))
        output = cli.output
        assert code != 0 and "cancel" in output.lower(), output
        # A graceful cancel releases the lock and leaves no pending operation: no `pulumi cancel` needed.
        assert lock_files(registry.stack) == [] and pending_operations(registry.stack) == [], output
        after_sigint = container_status(registry.container)
        started = time.perf_counter()
        registry.stack.pulumi("up", "--yes", "--skip-preview")
        recovered = time.perf_counter() - started
        wait_until(registry.client.answers, 60, "the registry answers after the recovering `up`")
        time.sleep(0.2)  # let the probe see it answer
    record(f"SIGINT right after the old container was deleted: container then {after_sigint or 'absent'}; plain "
           f"`pulumi up` recovered in {recovered:.1f} s; registry down {probe.longest:.1f} s")  # fmt: skip
    assert_converged(registry, image, "faults/sigint")


def test_sigkill_during_the_replacement_then_cancel_and_up_recover(registry: Deployed) -> None:
    image = registry.client.push_image("faults/sigkill", "1")
    old = container_id(registry.container)
    replace_container(registry)
    orphans: list[int] = []
    try:
        with OutageProbe(registry.client) as probe, docker_events(registry.container) as events:
            # Right after the old container was deleted: the provider has just created the new one.
            sigkill_up_after(registry, events, "create", orphans)
            assert any(e["Action"] == "destroy" and e["Actor"]["ID"] == old for e in events), "the old container is deleted"
            time.sleep(3)  # whatever the orphaned plugins would still do, they do now
            leftover = container_status(registry.container)
            if leftover == "running":
                # Nothing delays the start after the create any more (the files are in the config volume
                # before it), so the orphaned provider may have started it: stopped here, it stands for
                # the leftover that serves nothing (the running case is the next test's).
                run(["docker", "stop", registry.container])
                leftover = container_status(registry.container)
            assert leftover in ("created", "exited"), f"expected the new container idle: {leftover}"
            assert not registry.client.answers(), "the registry is down after the kill"
            orphan_names = sorted(process_name(pid) for pid in orphans if os.path.exists(f"/proc/{pid}"))

            # What a user meets next: the stack is locked by the killed run ...
            locked = registry.stack.pulumi("up", "--yes", "--skip-preview", check=False)
            assert locked.returncode != 0 and "currently locked" in locked.stdout + locked.stderr
            # ... and a preview plans the create but leaves the leftover alone (hooks never run in preview).
            registry.stack.pulumi("preview")
            assert container_status(registry.container) == leftover

            # The README's steps, as written: `pulumi cancel`, then a plain `pulumi up`.
            user_started = time.perf_counter()
            registry.stack.pulumi("cancel", "--yes")
            recovering = registry.stack.pulumi("up", "--yes", "--skip-preview")
            recovery_seconds = time.perf_counter() - user_started
            wait_until(registry.client.answers, 60, "the registry answers after the recovering `up`")
            time.sleep(0.2)  # let the probe see it answer
        output = recovering.stdout + recovering.stderr
        assert f"removed container '{registry.container}'" in output, output
        assert "interrupted while creating" in output, output  # the engine's warning about the killed run
        # The killed run's pending create outlives the recovery (the engine keeps pending creates until a
        # refresh clears them, and warns on every `up`): the README's last step clears it.
        assert pending_operations(registry.stack) == ["creating registry-registry-container"]
        registry.stack.pulumi("refresh", "--clear-pending-creates", "--yes")
        outage_start, outage_end = max(probe.outages, key=lambda o: o[1] - o[0])
        record(f"SIGKILL right after the old container was deleted: new container left `{leftover}`, stack locked, "
               f"{len(orphan_names)} orphaned processes ({', '.join(orphan_names)}); `pulumi cancel` + `pulumi up` "
               f"took {recovery_seconds:.1f} s, the registry answered {outage_end - user_started:.1f} s after "
               f"`pulumi cancel` began; registry down {outage_end - outage_start:.1f} s in all, of which "
               f"{user_started - outage_start:.1f} s before the recovery began (the kill and the test's checks)")  # fmt: skip
        assert_converged(registry, image, "faults/sigkill")
    finally:
        kill_pids(orphans)


def test_sigkill_after_the_new_container_started_stops_the_next_up_naming_it(registry: Deployed) -> None:
    # Killed later, during the health wait: the new container runs (and serves). The hook does not
    # remove a running container, even one of this stack: the next `up` stops, naming it.
    image = registry.client.push_image("faults/sigkill-started", "1")
    replace_container(registry)
    orphans: list[int] = []
    try:
        with docker_events(registry.container) as events:
            sigkill_up_after(registry, events, "start", orphans)
        started = container_id(registry.container)
        assert container_status(registry.container) == "running"
        registry.stack.pulumi("cancel", "--yes")
        refused = registry.stack.pulumi("up", "--yes", "--skip-preview", check=False)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0, output
        assert f"container '{registry.container}' ({started[:12]}) is this stack's registry but running" in output, output
        assert f"docker rm -f {registry.container}" in output, output
        assert container_id(registry.container) == started and registry.client.authenticated()
        # The message's steps.
        run(["docker", "rm", "-f", registry.container])
        registry.stack.pulumi("up", "--yes", "--skip-preview")
        registry.stack.pulumi("refresh", "--clear-pending-creates", "--yes")
        record("SIGKILL after the new container started: it runs on, serving; the next `up` stops, naming it")
        assert_converged(registry, image, "faults/sigkill-started")
    finally:
        kill_pids(orphans)


def test_two_ups_at_once_one_is_refused_by_the_lock(registry: Deployed) -> None:
    image = registry.client.push_image("faults/concurrent", "1")
    replace_container(registry)
    first = CliRun(registry.stack, "up", "--yes", "--skip-preview")
    try:
        wait_until(lambda: bool(lock_files(registry.stack)), 60, "the first `up` holds the stack's lock")
        second = registry.stack.pulumi("up", "--yes", "--skip-preview", check=False)
        assert first.process.poll() is None, "the first `up` must still run while the second starts"
        code = first.wait(timeout=300)
    finally:
        if first.process.poll() is None:
            kill_pids(session_processes(first.process.pid))
    assert code == 0, first.output
    refused = second.stdout + second.stderr
    assert second.returncode != 0 and "the stack is currently locked by 1 lock(s)" in refused, refused
    record("two `pulumi up` at once: the second refused by the backend's lock, the first completed")
    assert_converged(registry, image, "faults/concurrent")
