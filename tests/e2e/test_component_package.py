"""End to end: the registry as a component package other programs install and import.

The repository is installed with pip into a fresh virtualenv of the example platform program
(`examples/platform`, a separate Pulumi project); its own program tests run there under mocks, then
its two registries go up on the sandbox's dockerd with the real engine and providers (the dynamic
providers now pickled as `private_registry.*`, loaded from that virtualenv), answer over TLS with
their own CAs, a second preview is clean, and destroy removes both containers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REGISTRY_IMAGE, REPO, Stack, free_port, record, run
from tests.e2e.faults import RegistryClient


def repository_copy(target: Path) -> Path:
    """The repository's files as a clone would have them (tracked and new, never ignored ones)."""
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


@pytest.fixture(scope="module")
def platform(workdir: Path) -> Iterator[Stack]:
    source = repository_copy(workdir / "source")
    project = source / "examples" / "platform"
    started = time.perf_counter()
    run([sys.executable, "-m", "venv", str(project / "venv")])
    pip = [str(project / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, str(source), "-r", str(project / "requirements.txt")])
    record(f"component package: a fresh virtualenv with the package from the repository in {time.perf_counter() - started:.1f} s")
    name = f"e2e-pkg-{os.urandom(3).hex()}"
    stack = Stack(workdir, name, project_dir=project)
    stack.init(
        {
            "imagesPort": free_port(),
            "cachePort": free_port(),
            "common": {"image": REGISTRY_IMAGE, "pullImage": False, "retainData": False},
        }
    )
    try:
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        for instance in ("images", "cache"):
            run(["docker", "rm", "-f", f"registry-{name}-{instance}"], check=False)
            run(["docker", "volume", "rm", f"registry-data-{name}-{instance}"], check=False)


def test_the_consumers_program_tests_pass_with_the_installed_package(platform: Stack) -> None:
    python = platform.project_dir / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=platform.project_dir,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the package, not this checkout
    )
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout + result.stderr
    imported = run([str(python), "-c", "import private_registry; print(private_registry.__file__)"], cwd="/").stdout
    assert str(platform.project_dir / "venv") in imported, imported


def test_two_registries_of_one_program_go_up_and_answer(platform: Stack) -> None:
    seconds = platform.up()
    record(f"component package: two registries of one program up in {seconds:.1f} s")
    out: dict[str, Any] = platform.outputs()
    for prefix, user in (("images", "ci"), ("cache", "builder")):
        endpoint, ca = out[f"{prefix}Endpoint"], out[f"{prefix}CaCertificate"]
        assert out[f"{prefix}ContainerName"] == f"registry-{platform.name}-{prefix}"
        assert RegistryClient(endpoint, ca, user, "wrong").request("GET", "/v2/")[0] == 401
        assert RegistryClient(endpoint, ca, user, out[f"{prefix}Passwords"][user]).authenticated(), prefix
    assert out["imagesCaCertificate"] != out["cacheCaCertificate"]  # each registry has its own CA
    state = platform.state_text()
    passwords = [p for prefix in ("images", "cache") for p in out[f"{prefix}Passwords"].values()]
    assert len(passwords) == 3 and not [p for p in passwords if p in state], "a password in plaintext in the state"
    platform.pulumi("preview", "--expect-no-changes")


def test_destroy_removes_both(platform: Stack) -> None:
    platform.pulumi("destroy", "--yes")
    for prefix in ("images", "cache"):
        assert run(["docker", "inspect", f"registry-{platform.name}-{prefix}"], check=False).returncode != 0
