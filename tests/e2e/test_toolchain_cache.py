"""End to end: a second clone of the repository at another path reuses the toolchain already built.

The cache keys hash the inputs' contents, never their paths; a key that depended on the checkout's
path would make every clone build the CLI, language host and plugins again (300 MB, minutes).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.e2e.helpers import REPO, record, run

PARTS = ("cli", "langhost", "kubernetes", "tls", "docker")


def built_dir(line: str) -> str:
    """The part's cache folder from the last line a build script prints (a folder or .../bin/<file>)."""
    return line.split("/bin/", 1)[0].rstrip("/")


def test_a_clone_at_another_path_reuses_every_part(tmp_path: Path) -> None:
    clone = tmp_path / "elsewhere" / "private-registry"
    # What a clone has of the toolchain: the tracked files (no caches live in the repository).
    tracked = run(["git", "-C", str(REPO), "ls-files", "toolchain"]).stdout.split()
    for name in tracked:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, clone / name)
    started = time.perf_counter()
    for part in PARTS:
        here = run(["bash", str(REPO / "toolchain" / f"build-{part}.sh")]).stdout.strip().splitlines()[-1]
        there = subprocess.run(
            ["bash", str(clone / "toolchain" / f"build-{part}.sh")], capture_output=True, text=True, check=False
        )
        assert there.returncode == 0, there.stderr[-2000:]
        assert built_dir(there.stdout.strip().splitlines()[-1]) == built_dir(here), (part, there.stderr[-2000:])
        assert "building" not in there.stderr, (part, there.stderr[-2000:])
    record(f"toolchain in a clone at another path: all {len(PARTS)} parts reused in {time.perf_counter() - started:.1f} s")
