"""End to end: `pulumi up` fails when the container runs but the registry never answers."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.conftest import TEST_IMAGE, record, throwaway_registry_stack


def test_up_fails_when_the_registry_does_not_answer(workdir: Path) -> None:
    # An image without a registry in it: the container starts, the health check never passes.
    settings = {"image": TEST_IMAGE, "pullSecret": {"namespaces": []}}
    with throwaway_registry_stack(workdir, "e2e-down", settings) as stack:
        started = time.perf_counter()
        result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
        record(f"pulumi up with a registry that never answers failed after {time.perf_counter() - started:.1f} s")
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert "registry-registry-container" in output and ("health" in output.lower() or "exited" in output.lower()), output
