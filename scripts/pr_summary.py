"""A `pulumi preview --json` of a registry stack as a short Markdown summary for a pull request.

    pr_summary.py --stack NAME --preview preview.json [--errors stderr.txt]
                  [--deployed-users a,b] [--planned-users a,c]

Prints the summary; exits 0 when the plan changes nothing, 2 when it changes something, 1 when the
preview failed (scripts/pr-check.sh runs it). What a reader needs is what will happen and what users
will notice, so the summary holds operations, resource names and types, user names and plain-words
consequences; it never prints an input or output value (the preview masks secrets, and a value that
is not secret today may hold one tomorrow).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A replacement shows as several steps of one resource; the strongest names it.
STRENGTH = {"replace": 4, "delete": 3, "create": 2, "update": 1}
FOLDED = {"create-replacement": "replace", "delete-replaced": "replace", "replace": "replace"}
SYMBOL = {"create": "+ create", "update": "~ update", "replace": "+- replace", "delete": "- delete"}


@dataclass(frozen=True)
class Change:
    """One resource the plan touches."""

    op: str
    name: str
    type: str

    @property
    def short_type(self) -> str:
        """`docker:index/container:Container` -> `docker Container`."""
        package = self.type.split(":", 1)[0]
        return f"{package} {self.type.rsplit(':', 1)[-1]}" if self.type.count(":") >= 2 else self.type


def changes(preview: dict[str, Any]) -> list[Change]:
    """The resources the plan creates, updates, replaces or deletes, one entry each, in plan order."""
    found: dict[str, Change] = {}
    for step in preview.get("steps") or []:
        op = FOLDED.get(step.get("op", ""), step.get("op", ""))
        if op not in STRENGTH:
            continue  # same, read, refresh, discard: nothing changes
        urn = str(step.get("urn", ""))
        state = step.get("newState") or step.get("oldState") or {}
        kind = str(state.get("type") or urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1])
        current = found.get(urn)
        if current is None or STRENGTH[op] > STRENGTH[current.op]:
            found[urn] = Change(op=op, name=urn.rsplit("::", 1)[-1], type=kind)
    return [c for c in found.values() if not c.type.startswith("pulumi:pulumi:Stack")]


# (resource type, operations) -> what users notice, most disruptive first. The CA and server
# certificate, users and pull secrets need more than a type and are handled in `notices`.
PLAIN_NOTICES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "docker:index/container:Container",
        ("replace",),
        "**The registry container is replaced**: pulls and pushes fail for about 2 s while the new one starts "
        "(1.4 s measured); the data volume and its images stay.",
    ),
    (
        "docker:index/volume:Volume",
        ("delete", "replace"),
        "**The data volume leaves the stack**: kept on the Docker host with `retainData: true`, deleted with "
        "its images otherwise; a new name starts an empty registry.",
    ),
    (
        "pulumi-python:dynamic/private-registry:ConfigFiles",
        ("update",),
        "The registry's files (htpasswd, certificate) are rewritten in place in its config volume: a password "
        "change restarts nothing, the registry reads the new htpasswd file at its next request.",
    ),
    ("kubernetes:apps/v1:Deployment", ("update",), "The registry Pods roll one at a time (none unavailable): pulls go on."),
    (
        "kubernetes:core/v1:Namespace",
        ("delete",),
        "**The registry's namespace is deleted**, with the Deployment and its Secrets.",
    ),
)
CA = "tls:index/selfSignedCert:SelfSignedCert"
SERVER_CERT = "tls:index/locallySignedCert:LocallySignedCert"
REGISTRY = ("docker:index/container:Container", "kubernetes:apps/v1:Deployment")
IMAGE = "pulumi-python:dynamic/private-registry:Image"  # a declared image (setting `images`)
PULL_CREDENTIAL = "pulumi-python:dynamic/private-registry:PullCredential"  # updated: the pull secrets rotate
IMAGE_NOTICES = {
    "create": "Image(s) copied into the registry",
    "update": "Image(s) copied again (the source's digest moved, or the name changed)",
    "delete": "Image(s) no longer declared (they stay in the registry)",
}


def notices(plan: Sequence[Change], deployed_users: Sequence[str], planned_users: Sequence[str]) -> list[str]:
    """What a user of the registry will notice, in plain words, most disruptive first."""
    lines: list[str] = []
    by = {(c.type, c.op) for c in plan}
    if any((kind, "create") in by for kind in REGISTRY):
        lines.append("The registry is created: nothing runs yet that anyone could notice.")
    if (CA, "replace") in by:
        lines.append(
            "**The CA changes**: every node and Docker daemon must trust the new `caCertificate` (node trust, "
            "`/etc/docker/certs.d`), or pulls fail with `x509: certificate signed by unknown authority`."
        )
    elif (SERVER_CERT, "replace") in by:
        lines.append("A new server certificate is issued: clients and nodes keep trusting the same CA (`caCertificate` stays).")
    lines += [text for kind, ops, text in PLAIN_NOTICES if any((kind, op) in by for op in ops)]
    added = [u for u in planned_users if u not in deployed_users]
    removed = [u for u in deployed_users if u not in planned_users]
    if deployed_users and added:
        lines.append(f"User(s) added: {', '.join(f'`{u}`' for u in added)}.")
    if removed:
        lines.append(f"User(s) removed: {', '.join(f'`{u}`' for u in removed)}: their logins stop working.")
    if any(c.type == PULL_CREDENTIAL and c.op == "update" for c in plan):
        lines.append(
            "The pull secrets' credential rotates: the new password goes in beside the old one, the pull secrets "
            "switch once the registry accepts it (every replica), and the old one stops working at the next `pulumi up`."
        )
    elif not added and not removed and any(c.name.endswith("-users-file") and c.op == "update" for c in plan):
        lines.append(
            "A password changes (or the bcrypt cost), or the pull password the last rotation kept valid is dropped: "
            "the old one stops working."
        )
    for change in plan:
        if change.type != "kubernetes:core/v1:Secret" or "-pull-secrets-" not in change.name:
            continue
        namespace = change.name.split("-pull-secrets-", 1)[1]
        if change.op == "create":
            lines.append(f"A pull secret is created in namespace `{namespace}`.")
        elif change.op == "delete":
            lines.append(f"**The pull secret leaves namespace `{namespace}`**: Pods there can no longer pull with it.")
        else:
            lines.append(f"The pull secret in namespace `{namespace}` gets new credentials; running Pods are not affected.")
    for op, text in IMAGE_NOTICES.items():
        names = [c.name.split("-images-", 1)[-1] for c in plan if c.type == IMAGE and c.op == op]
        if names:
            lines.append(f"{text}: {', '.join(f'`{n}`' for n in names)}.")
    if any(c.type == "kubernetes:apps/v1:DaemonSet" for c in plan):
        lines.append("The node-trust DaemonSet changes: it writes the CA and `hosts.toml` onto every node again.")
    if any("local-registry-hosting" in c.name for c in plan):
        lines.append("The KEP-1755 `local-registry-hosting` ConfigMap in `kube-public` changes (tools like Tilt read it).")
    return lines


def markdown(stack: str, plan: Sequence[Change], notes: Iterable[str]) -> str:
    """The summary: counts, a table of the changed resources, then what users will notice."""
    if not plan:
        return f"### Registry stack `{stack}`: no changes\n\n`pulumi preview` plans nothing to do.\n"
    counts: dict[str, int] = {}
    for change in plan:
        counts[change.op] = counts.get(change.op, 0) + 1
    parts = ", ".join(f"{counts[op]} to {op}" for op in ("create", "update", "replace", "delete") if op in counts)
    lines = [f"### Registry stack `{stack}`: {parts}", "", "| change | resource | type |", "|---|---|---|"]
    lines += [f"| {SYMBOL[c.op]} | `{c.name}` | {c.short_type} |" for c in plan]
    notes = list(notes)
    if notes:
        lines += ["", "**What users will notice**", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def failure(stack: str, errors: str) -> str:
    """The summary of a preview that failed: the error lines the CLI printed (secret-safe by design:
    settings errors never show a secret's value)."""
    kept = [line.rstrip() for line in errors.splitlines() if line.strip()][-20:]
    body = "\n".join(kept) or "(no error output)"
    return f"### Registry stack `{stack}`: the preview failed\n\n```\n{body}\n```\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", required=True, help="the stdout of `pulumi preview --json`")
    parser.add_argument("--errors", help="the stderr of the same preview")
    parser.add_argument("--failed", action="store_true", help="the preview exited non-zero")
    parser.add_argument("--deployed-users", default="", help="comma-separated user names of the last deployment")
    parser.add_argument("--planned-users", default="", help="comma-separated user names of the stack's config")
    args = parser.parse_args(argv)
    errors = Path(args.errors).read_text() if args.errors else ""
    text = Path(args.preview).read_text()
    try:
        preview = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        preview = {}
    if args.failed:
        messages = [d.get("message", "") for d in preview.get("diagnostics") or [] if d.get("severity") == "error"]
        sys.stdout.write(failure(args.stack, "\n".join([*messages, errors])))
        return 1
    plan = changes(preview)
    deployed = [u for u in args.deployed_users.split(",") if u]
    planned = [u for u in args.planned_users.split(",") if u]
    sys.stdout.write(markdown(args.stack, plan, notices(plan, deployed, planned)))
    return 2 if plan else 0


if __name__ == "__main__":
    sys.exit(main())
