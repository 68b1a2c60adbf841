"""End to end: pull secrets that carry a user who can push (no `pullPort`) (issue 23).

A new stack is refused them before anything is created, unless it says so
(`pullSecret.allowPushUser: true`); a stack deployed before the rule keeps the namespaces it holds,
with the warning, and is refused a namespace it adds. The target guard's `check` decides it, from
what the stack's state recorded (components/target_guard.py). Render mode: no cluster needed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import Stack, throwaway_registry_stack
from tests.e2e.test_upgrade import stack_of_old_program, upgrade

# The program before the rule (its target guard records no pull secret namespaces).
BEFORE_THE_RULE = "0780c53c49d0634e61bc8d27d349e3342bcd7465"
REFUSED = "would carry a user who can push"
WARNED = "private-registry:pullSecret.user = admin can push"


def rendered(workdir: Path, name: str, namespaces: list[str], **pull_secret: bool) -> dict[str, object]:
    """Settings of a stack that renders its pull secrets into a folder of its own."""
    folder = workdir / f"rendered-{name}"
    return {
        "pullSecret": {"namespaces": namespaces, **pull_secret},
        "kubernetes": {"mode": "render", "renderDirectory": str(folder)},
        "users": [{"name": "admin"}],
    }


def printed(stack: Stack, *command: str) -> tuple[int, str]:
    """Exit code and output of a pulumi command that may fail."""
    result = stack.pulumi(*command, check=False)
    return result.returncode, result.stdout + result.stderr


def guard_and_pull_secrets_planned(stack: Stack) -> list[str]:
    """The steps a preview plans for the target guard and the pull secrets (other resources' changes
    are not this test's business)."""
    names = [step["urn"].rsplit("::", 1)[-1] for step in stack.preview_steps()]
    return [n for n in names if n.endswith("-target") or "-pull-secrets-" in n]


def test_a_new_stack_is_refused_a_push_user_in_its_pull_secrets_until_it_says_so(workdir: Path) -> None:
    settings = rendered(workdir, "new", ["apps"])
    with throwaway_registry_stack(workdir, "e2e-push-user-new", settings) as stack:
        stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")  # render mode: no cluster at all
        for command in (("preview",), ("up", "--yes")):  # `up` previews first: stopped there
            code, out = printed(stack, *command)
            assert code != 0 and f"the pull secret in apps {REFUSED}" in out, out
            assert "pulumi config set --path private-registry:pullSecret.allowPushUser true" in out, out
        # stopped before anything: no resource of a provider in the state (providers only), no manifest
        state = json.loads(stack.pulumi("stack", "export").stdout)
        made = [r for r in state["deployment"].get("resources") or [] if r.get("custom")]
        assert [r["urn"] for r in made if not r["type"].startswith("pulumi:providers:")] == [], made
        assert not list((workdir / "rendered-new").rglob("*.yaml"))

        stack.configure(rendered(workdir, "new", ["apps"], allowPushUser=True))
        stack.up()
        assert REFUSED not in "".join(stack.transcript[-2:]) and WARNED not in "".join(stack.transcript[-2:])
        assert len(list((workdir / "rendered-new").rglob("*.yaml"))) >= 1
        assert guard_and_pull_secrets_planned(stack) == []

        # taking the word back refuses them again: the stack never held them with an unallowed push user
        stack.configure(rendered(workdir, "new", ["apps"]))
        code, out = printed(stack, "preview")
        assert code != 0 and f"the pull secret in apps {REFUSED}" in out, out


def test_a_stack_from_before_the_rule_keeps_its_namespaces_with_the_warning_and_is_refused_a_new_one(
    workdir: Path,
) -> None:
    settings = rendered(workdir, "old", ["apps"])
    with stack_of_old_program(workdir, "push-user-old", BEFORE_THE_RULE, settings) as (stack, _):
        stack.env["KUBECONFIG"] = str(workdir / "no-such-kubeconfig")
        stack.up()
        upgrade(stack)
        # the new program: the namespace it holds stays, the warning says how to move on
        code, out = printed(stack, "up", "--yes", "--skip-preview")
        assert code == 0 and WARNED in out and "the pull secret in apps can overwrite" in out, out
        assert guard_and_pull_secrets_planned(stack) == []  # the guard recorded `apps` in place
        # a namespace it adds is a new one: refused, `apps` is not
        stack.configure(rendered(workdir, "old", ["apps", "web"]))
        code, out = printed(stack, "preview")
        assert code != 0 and f"the pull secret in web {REFUSED}" in out, out
        assert f"in apps, web {REFUSED}" not in out, out
        stack.configure(rendered(workdir, "old", ["apps", "web"], allowPushUser=True))
        stack.up()
        assert (workdir / "rendered-old").exists()
