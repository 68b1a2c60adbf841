"""End to end: `scripts/pr-check.sh`, the PR check, on a live stack: an unchanged stack, a password
change, a user added and a certificate setting changed each give the expected summary and exit code,
and no password reaches the summary or anything the script prints.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Stack, throwaway_registry_stack

CI_PASSWORD = "ci-password-" + os.urandom(6).hex()


@pytest.fixture(scope="module")
def live(workdir: Path) -> Iterator[Stack]:
    settings = {"users": [{"name": "admin"}, {"name": "ci"}], "bcryptCost": 5}
    with throwaway_registry_stack(workdir, "e2e-pr-check", settings) as stack:
        stack.set_secret("users[1].password", CI_PASSWORD)
        stack.up()
        yield stack


def pr_check(stack: Stack, change: Callable[[], None] | None = None) -> tuple[int, str, str]:
    """Exit code, summary and everything else the script printed, after `change` (then undone)."""
    stack_file = stack.project_dir / f"Pulumi.{stack.name}.yaml"
    before = stack_file.read_text()
    try:
        if change:
            change()
        summary = stack.workdir / "summary.md"
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "pr-check.sh"), stack.name, "--output", str(summary)],
            env={**stack.env, "PROJECT_DIR": str(stack.project_dir)},
            capture_output=True,
            text=True,
        )
        return result.returncode, summary.read_text(), result.stdout + result.stderr
    finally:
        stack_file.write_text(before)


def secrets(stack: Stack) -> list[str]:
    return [CI_PASSWORD, *stack.outputs()["passwords"].values()]


def test_an_unchanged_stack_is_clean(live: Stack) -> None:
    code, summary, _ = pr_check(live)
    assert code == 0, summary
    assert summary.startswith(f"### Registry stack `{live.name}`: no changes")


def test_a_password_change_rewrites_the_users_file_in_place_and_says_so(live: Stack) -> None:
    code, summary, printed = pr_check(live, lambda: live.set_secret("users[1].password", "new-" + CI_PASSWORD))
    assert code == 2, summary
    assert "The registry's files (htpasswd, certificate) are rewritten in place" in summary
    assert "The registry container is replaced" not in summary
    assert "A password changes" in summary and "| ~ update | `registry-users-file` |" in summary
    assert not any(s in summary + printed for s in [*secrets(live), "new-" + CI_PASSWORD])


def test_a_new_user_is_named(live: Stack) -> None:
    code, summary, printed = pr_check(
        live, lambda: live.configure({"users": [{"name": "admin"}, {"name": "ci"}, {"name": "dave"}]})
    )
    assert code == 2, summary
    assert "User(s) added: `dave`." in summary and "| + create | `registry-users-dave-password` |" in summary
    assert not any(s in summary + printed for s in secrets(live))


def test_a_certificate_setting_issues_a_new_server_certificate_under_the_same_ca(live: Stack) -> None:
    code, summary, _ = pr_check(live, lambda: live.configure({"validityDays": 200}))
    assert code == 2, summary
    assert "A new server certificate is issued: clients and nodes keep trusting the same CA" in summary
    assert "The CA changes" not in summary


def test_a_bad_setting_fails_with_the_settings_error(live: Stack) -> None:
    code, summary, _ = pr_check(live, lambda: live.configure({"port": 0}))
    assert code == 1, summary
    assert "the preview failed" in summary and "private-registry:port = 0" in summary
