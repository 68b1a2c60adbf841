"""End to end: a server certificate inside its early-renewal window is replaced by a plain `pulumi up`."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.helpers import REPO, Stack, copy_project, record

PROJECT = Path(__file__).resolve().parent / "renewal_project"


def renewal_stack(workdir: Path, name: str, validity: int, early: int) -> Stack:
    project = workdir / name
    project.mkdir()
    for item in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(PROJECT / item, project / item)
    copy_project(project / "program", REPO)
    (project / "venv").symlink_to(REPO / "venv")
    stack = Stack(workdir / f"{name}-state", "renewal", project_dir=project)
    stack.init({"validityHours": validity, "earlyRenewalHours": early})
    return stack


def test_certificate_inside_its_window_is_replaced_by_a_plain_up(tmp_path: Path) -> None:
    stack = renewal_stack(tmp_path, "inside", validity=48, early=48)  # the window covers the whole validity
    try:
        stack.up()
        first = stack.outputs()["certPem"]
        steps = stack.preview_steps()
        replaced = {
            s["urn"].rsplit("::", 1)[-1] for s in steps if s["op"] in ("replace", "create-replacement", "delete-replaced")
        }
        assert "check-server-cert" in replaced, steps
        stack.up()
        assert stack.outputs()["certPem"] != first
        record("certificate inside its renewal window: replaced by a plain `pulumi up`")
    finally:
        stack.pulumi("destroy", "--yes", check=False)


def test_certificate_outside_its_window_is_kept(tmp_path: Path) -> None:
    stack = renewal_stack(tmp_path, "outside", validity=48, early=1)
    try:
        stack.up()
        stack.pulumi("preview", "--expect-no-changes")
    finally:
        stack.pulumi("destroy", "--yes", check=False)
