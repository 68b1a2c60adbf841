"""End to end: a plain `pulumi preview` of each kind of user change on a live stack, as a PR check runs it.

A preview sees what a run would create as unknown (a generated password), which `up --skip-preview`
never shows: each change below once crashed only here. The stack is created once; every change is
previewed from the same live state and the stack file put back after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Stack, throwaway_registry_stack

FILE = "registry-users-file"
CONTAINER = "registry-registry-container"
FILES = "registry-registry-config-files"  # the htpasswd file, rewritten in place: the container stays


@pytest.fixture(scope="module")
def live(workdir: Path) -> Iterator[Stack]:
    settings = {"users": [{"name": "admin"}, {"name": "ci"}], "bcryptCost": 5, "pullSecret": {"namespaces": []}}
    with throwaway_registry_stack(workdir, "e2e-previews", settings) as stack:
        stack.set_secret("users[1].password", "ci-password-1")
        stack.up()
        yield stack


def planned(stack: Stack, change: Callable[[], None]) -> dict[str, set[str]]:
    """The operations a plain preview plans after `change`, per resource name; the stack file is restored."""
    stack_file = stack.project_dir / f"Pulumi.{stack.name}.yaml"
    before = stack_file.read_text()
    try:
        change()
        ops: dict[str, set[str]] = {}
        for step in stack.preview_steps():
            ops.setdefault(step["urn"].rsplit("::", 1)[-1], set()).add(step["op"])
        return ops
    finally:
        stack_file.write_text(before)


def test_add_a_user_without_a_password(live: Stack) -> None:
    ops = planned(live, lambda: live.configure({"users": [{"name": "admin"}, {"name": "ci"}, {"name": "dave"}]}))
    assert ops.get("registry-users-dave-password") == {"create"} and ops.get(FILE) == {"update"}, ops
    assert ops.get(FILES) == {"update"} and CONTAINER not in ops, ops


def test_add_a_user_with_a_password(live: Stack) -> None:
    def add() -> None:
        live.pulumi("config", "set", "--path", "users[2].name", "erin")
        live.set_secret("users[2].password", "erin-password-1")

    ops = planned(live, add)
    assert ops.get(FILE) == ops.get(FILES) == {"update"} and CONTAINER not in ops, ops
    assert not any(name.endswith("-password") for name in ops), ops  # nothing generated


def test_remove_users_with_and_without_a_password(live: Stack) -> None:
    generated = planned(live, lambda: live.configure({"users": [{"name": "ci"}]}))  # admin had a generated one
    assert generated.get("registry-users-admin-password") == {"delete"} and generated.get(FILE) == {"update"}, generated
    configured = planned(live, lambda: live.configure({"users": [{"name": "admin"}]}))  # ci had a configured one
    assert configured.get(FILE) == {"update"} and not any(n.endswith("-password") for n in configured), configured


def test_change_the_cost(live: Stack) -> None:
    ops = planned(live, lambda: live.configure({"bcryptCost": 6}))
    assert ops.get(FILE) == ops.get(FILES) == {"update"} and CONTAINER not in ops, ops
    assert not any(name.endswith("-password") for name in ops), ops


def test_rename_a_user(live: Stack) -> None:
    def rename() -> None:
        live.pulumi("config", "set", "--path", "users[0].name", "root")

    ops = planned(live, rename)
    assert ops.get("registry-users-root-password") == {"create"}, ops
    assert ops.get("registry-users-admin-password") == {"delete"} and ops.get(FILE) == {"update"}, ops


def test_no_change_previews_clean(live: Stack) -> None:
    live.pulumi("preview", "--expect-no-changes")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        # `--path users.password` (no [0]) on a stack that does not list its users yet: an object.
        ("private-registry:users.password", "private-registry:users = <secret: an object with keys password>"),
        # A misspelled key holding a user list.
        ("private-registry:usres[0].password", "private-registry:usres = <secret: a list of 1 item(s)>"),
    ],
)
def test_a_misplaced_secret_is_not_printed(live: Stack, path: str, shown: str) -> None:
    stack_file = live.project_dir / f"Pulumi.{live.name}.yaml"
    before = stack_file.read_text()
    try:
        live.pulumi("config", "rm", "private-registry:users")
        live.set_secret(path, "s3cret-typed-at-the-wrong-path")
        result = live.pulumi("preview", check=False)
    finally:
        stack_file.write_text(before)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "s3cret-typed-at-the-wrong-path" not in output
    assert shown in output, output
    assert "Traceback" not in output  # the problems, not the program's stack
