"""End to end: `pulumi up` fails when the container runs but the registry never answers."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.helpers import TEST_IMAGE, record, throwaway_registry_stack


def test_up_fails_when_the_registry_does_not_answer(workdir: Path) -> None:
    # An image without a registry in it: the container starts, the health check never passes.
    settings = {"image": TEST_IMAGE, "pullSecret": {"namespaces": []}, "healthTimeoutSeconds": 10}
    with throwaway_registry_stack(workdir, "e2e-down", settings) as stack:
        started = time.perf_counter()
        result = stack.pulumi("up", "--yes", "--skip-preview", check=False)
        seconds = time.perf_counter() - started
        record(f"pulumi up with a registry that never answers (healthTimeoutSeconds 10) failed after {seconds:.1f} s")
        assert result.returncode != 0
        # The setting reached the provider: far below the 60 s default wait (not a timing target).
        assert seconds < 50, seconds
        output = result.stdout + result.stderr
        assert "registry-registry-container" in output and ("health" in output.lower() or "exited" in output.lower()), output
