"""The stack's target, recorded once: a later change is refused before anything is touched.

Switching a deployed stack between `docker` and `kubernetes` would delete one registry and create
another, empty one (the image data is in a Docker volume on one side, a bucket or a claim on the
other). The program refuses it instead: this resource is registered first, and its `check` fails
when the recorded target differs, so the preview (and `up`) stops before any other step. Moving a
registry to the other target is a new stack plus a copy of the images (README "Moving to the other
target").
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, Resource, ResourceProvider


def target_change_problem(old: Any, new: Any) -> str | None:
    """Why a change of target is refused, or None when there is none to refuse."""
    if not old or old == new:
        return None
    return (
        f"private-registry:target = {new!r}, but this stack's registry runs on target {old!r}; a stack keeps its "
        f"target (switching would start an empty registry and leave the images behind). Set it back to {old!r}, or "
        "move the images to a new stack with the other target (README: Moving to the other target)"
    )


class StackTargetProvider(ResourceProvider):
    """Records `target`; `check` refuses a different one."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        problem = target_change_problem(olds.get("target"), news.get("target"))
        return CheckResult(news, [CheckFailure("target", problem)] if problem else [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"target-{props['target']}", outs={"target": props["target"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only `target` counts (the serialized provider changes with the code); check refused a change.
        return DiffResult(changes=olds.get("target") != news.get("target"))


class StackTarget(Resource):
    """The target the stack was created with."""

    def __init__(self, name: str, target: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(StackTargetProvider(), name, {"target": target}, opts)
