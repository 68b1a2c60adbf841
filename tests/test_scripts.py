"""The shell environment's guard: an empty passphrase is refused; a passphrase file is made 0600."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def source_env(env: dict[str, str], repo: Path = REPO) -> subprocess.CompletedProcess[str]:
    script = f'. "{repo}/scripts/pulumi-env.sh" && echo "file=$PULUMI_CONFIG_PASSPHRASE_FILE"'
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    return subprocess.run(["bash", "-c", script], env={**clean, **env}, capture_output=True, text=True)


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    result = source_env({"PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_BACKEND_URL": f"file://{tmp_path}"})
    assert result.returncode != 0 and "empty passphrase" in result.stderr


def test_empty_passphrase_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "passphrase"
    empty.write_text("  \n")
    result = source_env({"PULUMI_CONFIG_PASSPHRASE_FILE": str(empty), "PULUMI_BACKEND_URL": f"file://{tmp_path}"})
    assert result.returncode != 0 and "empty passphrase is refused" in result.stderr


def test_supplied_passphrase_file_is_used(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.write_text("a real passphrase\n")
    result = source_env({"PULUMI_CONFIG_PASSPHRASE_FILE": str(mine), "PULUMI_BACKEND_URL": f"file://{tmp_path}"})
    assert result.returncode == 0 and f"file={mine}" in result.stdout


def test_generated_passphrase_file_is_owner_only(tmp_path: Path) -> None:
    # A copy of the two scripts, so that the test writes nothing into this checkout.
    for name in ("scripts/pulumi-env.sh", "toolchain/env.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    result = source_env({}, repo=tmp_path)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().removeprefix("file="))
    assert path == tmp_path / ".secrets" / "passphrase"
    assert "created a passphrase" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip()
