"""The stack's target, recorded once: a later change is refused before anything is touched.

Switching a deployed stack between `docker` and `kubernetes` would delete one registry and create
another, empty one (the image data is in a Docker volume on one side, a bucket or a claim on the
other). The program refuses it instead: this resource is registered first, and its `check` fails
when the recorded target differs, so the preview (and `up`) stops before any other step. Moving a
registry to the other target is a new stack plus a copy of the images (README "Moving to the other
target").

It also records whether the stack names its cluster (`kubernetes`). Until 2026-12-02 a stack without
Kubernetes settings wrote its pull secrets into the kubeconfig's current context; now it writes into
no cluster at all, so the first run of such a stack would delete those Secrets. A stack recorded
before that (no `kubernetes` in its state here) is stopped instead, until its config says which
cluster it writes into, or that it writes into none.

And it records the pull secret namespaces that carry a push user (no `pullPort`, no
`pullSecret.allowPushUser`). Its `check` sees what the stack held before, which the settings cannot:
a namespace it did not hold (every one of a new stack) is refused, those a running stack holds keep
working with the settings' warning. A stack recorded before this (`target` without the list) holds
all it names now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

UNSET = "unset"  # the recorded `kubernetes` of a stack whose config has no `kubernetes` setting
PUSH_USER_NAMESPACES = "pushUserNamespaces"  # the recorded namespaces whose pull secret carries a push user


def target_change_problem(old: Any, new: Any) -> str | None:
    """Why a change of target is refused, or None when there is none to refuse."""
    if not old or old == new:
        return None
    return (
        f"private-registry:target = {new!r}, but this stack's registry runs on target {old!r}; a stack keeps its "
        f"target (switching would start an empty registry and leave the images behind). Set it back to {old!r}, or "
        "move the images to a new stack with the other target (README: Moving to the other target)"
    )


def unnamed_cluster_problem(olds: dict[str, Any], news: dict[str, Any]) -> str | None:
    """Why a stack deployed before clusters had to be named, and still naming none, is stopped; or None."""
    if not olds.get("target") or "kubernetes" in olds or news.get("kubernetes") != UNSET:
        return None
    return (
        "private-registry:kubernetes is not set. This stack was deployed before 2026-12-02, when a stack without it "
        "wrote its pull secrets (and node trust) into the kubeconfig's current context; now such a stack writes into "
        "no cluster, and this run would delete those objects. Say which cluster it writes into: `pulumi config set "
        "--path private-registry:kubernetes.context <context>` (the one it used: `kubectl config current-context`), "
        "or that it writes into none and its objects go: `pulumi config set --path private-registry:kubernetes.mode none`"
    )


def push_user_problem(olds: dict[str, Any], news: dict[str, Any]) -> str | None:
    """Why pull secrets with a push user are refused in namespaces the stack did not hold; or None."""
    if not olds.get("target"):
        held: list[str] = []  # a new stack (or one deployed before the guard existed)
    elif PUSH_USER_NAMESPACES not in olds:
        return None  # recorded before the list was: the stack holds what it names
    else:
        held = list(olds[PUSH_USER_NAMESPACES] or [])
    refused = [ns for ns in news.get(PUSH_USER_NAMESPACES) or [] if ns not in held]
    if not refused:
        return None
    return (
        f"private-registry:pullSecret.namespaces: the pull secret in {', '.join(refused)} would carry a user who can "
        "push (and delete, with deleteEnabled): without pullPort every user can, and whoever reads the secret could "
        "overwrite images every namespace runs. Set pullPort and add a user with access: pull (it goes into the pull "
        "secrets), or say so in so many words: `pulumi config set --path private-registry:pullSecret.allowPushUser "
        "true` (a stack deployed before 2026-12-01 with these pull secrets needs it too; docs/upgrading.md)"
    )


class StackTargetProvider(ResourceProvider):
    """Records `target` and `kubernetes`; `check` refuses a different target, and a stack from before
    clusters had to be named that still names none.
    """

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if problem := target_change_problem(olds.get("target"), news.get("target")):
            failures.append(CheckFailure("target", problem))
        if problem := unnamed_cluster_problem(olds, news):
            failures.append(CheckFailure("kubernetes", problem))
        if problem := push_user_problem(olds, news):
            failures.append(CheckFailure(PUSH_USER_NAMESPACES, problem))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"target-{props['target']}", outs=dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=dict(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `target` (check refused a change), `kubernetes` and the push-user namespaces count, the
        # serialized provider (which changes with the code) does not. A stack from before one was
        # recorded gets it by an in-place update that touches nothing else.
        recorded = ("target", "kubernetes", PUSH_USER_NAMESPACES)
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in recorded), replaces=[])


class StackTarget(Resource):
    """The target the stack was created with, whether it names its cluster, and the pull secret
    namespaces that carry a push user."""

    def __init__(
        self, name: str, target: str, kubernetes: str, opts: pulumi.ResourceOptions, push_user_namespaces: Sequence[str] = ()
    ) -> None:
        props = {"target": target, "kubernetes": kubernetes, PUSH_USER_NAMESPACES: sorted(push_user_namespaces)}
        super().__init__(StackTargetProvider(), name, props, opts)
