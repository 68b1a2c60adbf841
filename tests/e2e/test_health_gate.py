"""End to end: `pulumi up` fails when the container runs but the registry never answers."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.e2e.conftest import Stack, record, run
from tests.e2e.test_registry import TEST_IMAGE, free_port


def test_up_fails_when_the_registry_does_not_answer(workdir: Path) -> None:
    suffix = os.urandom(3).hex()
    container, volume = f"registry-down-{suffix}", f"registry-data-down-{suffix}"
    stack = Stack(workdir, "e2e-down")
    # An image without a registry in it: the container starts, the health check never passes.
    stack.init(
        {
            "image": TEST_IMAGE,
            "pullImage": False,
            "port": free_port(),
            "containerName": container,
            "dataVolume": volume,
            "retainData": False,
            "pullSecret": {"namespaces": []},
        }
    )
    try:
        started = time.perf_counter()
        result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
        record(f"pulumi up with a registry that never answers failed after {time.perf_counter() - started:.1f} s")
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "registry-registry-container" in output and ("health" in output.lower() or "exited" in output.lower()), output
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)
