"""A `pulumi preview --json` of a registry stack as a Markdown comment a reviewer can trust.

    pr_summary.py --stack NAME --preview preview.json [--diff diff.txt] [--errors stderr.txt] [--failed]
                  [--deployed-users a,b] [--planned-users a,c]

Prints the summary; exits 0 when the plan changes nothing, 2 when it changes something, 1 when the
preview failed (scripts/pr-check.sh runs it). A reviewer needs what will happen and who notices:
the summary says it per role (the writer, the read-only instance, a mirror) and per rollout (a
container replaced, a Deployment's `Recreate` or rolling update), with the engine's reasons as
input KEY names (never values), the program's warnings, and the CLI's own `pulumi preview --diff`
(which masks secrets) in a collapsed block. Text that is not ours (errors, warnings, the diff, key
and resource names) is made inert: HTML escaped (it cannot close the block, a `<pre>` or the
comment's markup), on one line where Markdown reads it (no code fence, heading or table row of its
own), Markdown's link, image, emphasis and code marks escaped, and what GitHub would turn into a
link or a notification broken by a zero-width space: `@` mentions (users and teams), issue
references (`#1`, `GH-1`, `owner/repo#1`: a `closes #1` closes nothing) and bare URLs. The
comment's first line is a hidden marker, so the workflow edits one comment per pull request in place.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- private-registry-pr-check -->"  # the workflow finds its own comment by it
COMMENT_LIMIT = 65536  # GitHub's limit of a comment's body, in characters
BUDGET = 60000  # what the summary may use: a margin for the workflow's own lines
# A replacement shows as several steps of one resource; the strongest names it.
STRENGTH = {"replace": 4, "delete": 3, "create": 2, "update": 1}
FOLDED = {"create-replacement": "replace", "delete-replaced": "replace", "replace": "replace"}
SYMBOL = {"create": "+ create", "update": "~ update", "replace": "+- replace", "delete": "- delete"}
WHY_SHOWN = 6  # changed keys per resource in the table; the rest are counted

COMPONENT = "private-registry:index:PrivateRegistry"
CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
WORKLOADS = (CONTAINER, DEPLOYMENT)
WRITER, READ_ONLY, MIRROR = "writer", "read-only", "mirror"
# The resources of one instance, named `<component>-<instance part>-<suffix>` (components/registry.py:
# `<name>-registry|pull|mirror-<slug>` + `-container|-data|...`; components/registry_kube.py:
# `<name>-deployment-[pull-|mirror-<slug>-]` + `deployment|service|auth|...`).
INSTANCE_SUFFIXES = "container|data|image|config-files|http-secret|deployment|service|auth|disruption-budget|upstream"
DOCKER_PART = re.compile(rf"^(?:(registry)|(pull)|mirror-(.+?))-(?:{INSTANCE_SUFFIXES})$")
KUBE_PART = re.compile(rf"^deployment-(?:(pull)-|mirror-(.+?)-)?(?:{INSTANCE_SUFFIXES})$")
KUBE_NAME = re.compile(r"^registry(?:-(pull)|-mirror-(.+))?$")  # a Deployment's metadata.name (NAME, PULL_NAME)


@dataclass(frozen=True)
class Change:
    """One resource the plan touches: its role (writer, read-only, mirror: for the instances' own
    resources), its Deployment's rollout strategy, and the input keys the engine gives as the reason."""

    op: str
    name: str
    type: str
    role: str | None = None
    mirror: str | None = None  # a mirror's name (its upstream's slug, as in its resource names)
    strategy: str | None = None  # a Deployment's `spec.strategy.type` after the change
    why: tuple[str, ...] = ()  # changed input keys (detailedDiff, else diffReasons)
    replace_why: tuple[str, ...] = ()  # the keys that force the replacement

    @property
    def short_type(self) -> str:
        """`docker:index/container:Container` -> `docker Container`."""
        package = self.type.split(":", 1)[0]
        return f"{package} {self.type.rsplit(':', 1)[-1]}" if self.type.count(":") >= 2 else self.type

    @property
    def who(self) -> str:
        """The instance in words: `the registry (writer)`, `the read-only instance`, `mirror `docker-io``."""
        if self.role == MIRROR:
            return f"mirror {span(self.mirror or '')}"
        return "the read-only instance" if self.role == READ_ONLY else "the registry (writer)"

    @property
    def rolls_pods(self) -> bool:
        """A Deployment update that touches its pod template (or whose keys the preview does not give)."""
        return not self.why or any(key.startswith("spec.template") or key == "spec" for key in self.why)


def _type_of(urn: str, state: dict[str, Any]) -> str:
    return str(state.get("type") or urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1])


def components(preview: dict[str, Any]) -> list[str]:
    """The names of the registry components in the program, longest first (one prefix may hold another)."""
    names = {
        str(step.get("urn", "")).rsplit("::", 1)[-1]
        for step in preview.get("steps") or []
        if _type_of(str(step.get("urn", "")), step.get("newState") or step.get("oldState") or {}) == COMPONENT
    }
    return sorted(names, key=len, reverse=True)


def role_of(name: str, kind: str, inputs: dict[str, Any], owners: Sequence[str]) -> tuple[str | None, str | None]:
    """(role, mirror name) of an instance's resource; (None, None) for anything else.

    A Deployment says it in its object name (fixed by components/registry_kube.py); every other
    resource in its Pulumi name after its component's (`registry-pull-container`).
    """
    if kind == DEPLOYMENT:
        object_name = (inputs.get("metadata") or {}).get("name")
        found = KUBE_NAME.match(object_name) if isinstance(object_name, str) else None
        if found:
            return (READ_ONLY, None) if found[1] else (MIRROR, found[2]) if found[2] else (WRITER, None)
    parts = [name[len(owner) + 1 :] for owner in owners if name.startswith(owner + "-")] or [name.split("-", 1)[-1]]
    for part in parts[:1]:
        docker_part, kube_part = DOCKER_PART.match(part), KUBE_PART.match(part)
        if docker_part:
            return (WRITER, None) if docker_part[1] else (READ_ONLY, None) if docker_part[2] else (MIRROR, docker_part[3])
        if kube_part:
            return (READ_ONLY, None) if kube_part[1] else (MIRROR, kube_part[2]) if kube_part[2] else (WRITER, None)
    return None, None


MASK = "[secret]"  # how `pulumi preview --json` shows a secret value


def hidden_keys(step: dict[str, Any]) -> list[str]:
    """An update the engine gives no key for (a dynamic provider's diff): its secret inputs (masked in
    both states, so one of them changed) when every other input is the same; [] otherwise."""
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    if any(old.get(k) != new.get(k) for k in {*old, *new}):
        return []
    return [f"{k} {MASK}" for k, v in new.items() if v == MASK and not str(k).startswith("__")]


def _keys(step: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The changed input keys and those that force a replacement: names only, never a value."""
    detailed = step.get("detailedDiff") or {}
    changed = [str(key) for key in detailed] or [str(key) for key in step.get("diffReasons") or []]
    if not changed and step.get("op") == "update":
        changed = hidden_keys(step)
    forcing = [str(key) for key, diff in detailed.items() if str((diff or {}).get("kind", "")).endswith("-replace")]
    return changed, forcing or [str(key) for key in step.get("replaceReasons") or []]


def _merge(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def changes(preview: dict[str, Any]) -> list[Change]:
    """The resources the plan creates, updates, replaces or deletes, one entry each, in plan order."""
    owners = components(preview)
    found: dict[str, Change] = {}
    for step in preview.get("steps") or []:
        op = FOLDED.get(step.get("op", ""), step.get("op", ""))
        if op not in STRENGTH:
            continue  # same, read, refresh, discard: nothing changes
        urn = str(step.get("urn", ""))
        state = step.get("newState") or step.get("oldState") or {}
        kind = _type_of(urn, state)
        name = urn.rsplit("::", 1)[-1]
        inputs = state.get("inputs") or {}
        role, mirror = role_of(name, kind, inputs, owners) if kind not in (COMPONENT,) else (None, None)
        strategy = ((inputs.get("spec") or {}).get("strategy") or {}).get("type") if kind == DEPLOYMENT else None
        why, forcing = _keys(step)
        current = found.get(urn)
        if current is not None:
            op = op if STRENGTH[op] > STRENGTH[current.op] else current.op
            why, forcing = list(_merge(current.why, why)), list(_merge(current.replace_why, forcing))
            strategy = strategy or current.strategy
        found[urn] = Change(op, name, kind, role, mirror, strategy if isinstance(strategy, str) else None,
                            tuple(why), tuple(forcing))  # fmt: skip
    return [c for c in found.values() if not c.type.startswith("pulumi:pulumi:Stack")]


def serving(preview: dict[str, Any]) -> set[str]:
    """The roles whose container or Deployment the stack has after the plan (unchanged ones included)."""
    owners = components(preview)
    roles: set[str] = set()
    for step in preview.get("steps") or []:
        state = step.get("newState") or {}
        urn = str(step.get("urn", ""))
        kind = _type_of(urn, state or step.get("oldState") or {})
        if kind in WORKLOADS and step.get("op") not in ("delete", "delete-replaced", "discard"):
            role, _ = role_of(urn.rsplit("::", 1)[-1], kind, state.get("inputs") or {}, owners)
            roles.add(role or WRITER)
    return roles


def _affected(role: str | None, mirror: str | None, present: set[str]) -> tuple[str, str]:
    """(who notices when the instance does not serve, who does not), in plain words."""
    if role == MIRROR:
        return (f"nodes' pulls of the images mirror {span(mirror or '')} serves (containerd sends them to the mirror alone)",
                "the registry's pushes and pulls go on")  # fmt: skip
    if role == READ_ONLY:
        return "cluster pulls (the pull endpoint `pullPort`, where pull secrets and node trust point)", "pushes go on"
    if READ_ONLY in present:
        return "pushes (and pulls at the push endpoint)", "cluster pulls go on (they go to the read-only instance)"
    return "pushes and pulls (cluster pulls included)", ""


def _then(sentence: str, unaffected: str) -> str:
    return f"{sentence}; {unaffected}." if unaffected else f"{sentence}."


def workload_notice(change: Change, present: set[str], fresh: bool) -> str | None:
    """What users and clusters notice when an instance's container or Deployment changes."""
    who, kind = change.who, "container" if change.type == CONTAINER else "Deployment"
    mirror = span(change.mirror or "")
    who = who[0].upper() + who[1:]
    fails, unaffected = _affected(change.role, change.mirror, present)
    if change.op == "create":
        if change.role == WRITER or fresh:
            return None  # the stack is created: one line says so
        if change.role == MIRROR:
            return (
                f"A new {kind} for mirror {mirror} (a pull-through cache, empty at first) is created beside the "
                "running registry, which does not restart; nodes send their pulls of its upstream there once node trust "
                "(or your provisioning, output `mirrorHostsToml`) has the new `hosts.toml`."
            )
        return (
            f"A read-only instance ({kind}) is created beside the running registry, which does not restart; the pull "
            "secrets and node trust switch cluster pulls to it (`pullPort`)."
        )
    if change.op == "delete":
        if change.role == MIRROR:
            return f"**Mirror {mirror} is removed** with its cache: nodes must pull its upstream directly again."
        if change.role == READ_ONLY:
            return "**The read-only instance is removed**: cluster pulls go back to the registry itself."
        return f"**The registry's {kind} is deleted**: pushes and pulls stop."
    if change.type == CONTAINER:
        if change.op == "replace":
            return _then(
                f"**{who}: its container is replaced**: {fails} fail for about 2 s while the new one starts (1.4 s "
                "measured), its data volume stays",
                unaffected,
            )
        return f"{who}: its container's settings change in place; it keeps running."
    if change.op == "replace":
        return _then(
            f"**{who}: its Deployment is replaced**: every Pod stops before the new ones start, {fails} fail until a "
            "new Pod is ready",
            unaffected,
        )
    if not change.rolls_pods:
        return f"{who}: its Deployment changes without restarting a Pod (no pod-template key changes)."
    if change.strategy == "Recreate":
        return _then(
            f"**{who}: its Pod is recreated** (strategy `Recreate`: its ReadWriteOnce volume takes one Pod at a time): "
            f"the old Pod stops before the new one starts, {fails} fail until the new Pod is ready",
            unaffected,
        )
    if change.strategy == "RollingUpdate":
        return f"{who}: its Pods roll one at a time (strategy `RollingUpdate`, none unavailable): {fails} go on."
    return f"{who}: its Pods restart (the preview does not give the Deployment's strategy)."


# (resource type, operations) -> what users notice. The instances' containers and Deployments, the
# CA and server certificate, users and pull secrets need more than a type and are handled in `notices`.
PLAIN_NOTICES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "docker:index/volume:Volume",
        ("delete", "replace"),
        "**A data volume leaves the stack**: kept on the Docker host with `retainData: true`, deleted with "
        "its images otherwise; a new name starts an empty registry.",
    ),
    (
        "pulumi-python:dynamic/private-registry:ConfigFiles",
        ("update",),
        "The registry's files (htpasswd, certificate) are rewritten in place in its config volume: a password "
        "change restarts nothing, the registry reads the new htpasswd file at its next request.",
    ),
    (
        "kubernetes:core/v1:Namespace",
        ("delete",),
        "**The registry's namespace is deleted**, with the Deployments and their Secrets.",
    ),
)
CA = "tls:index/selfSignedCert:SelfSignedCert"
SERVER_CERT = "tls:index/locallySignedCert:LocallySignedCert"
IMAGE = "pulumi-python:dynamic/private-registry:Image"  # a declared image (setting `images`)
PULL_CREDENTIAL = "pulumi-python:dynamic/private-registry:PullCredential"  # updated: the pull secrets rotate
IMAGE_NOTICES = {
    "create": "Image(s) copied into the registry",
    "update": "Image(s) copied again (the source's digest moved, or the name changed)",
    "delete": "Image(s) no longer declared (they stay in the registry)",
}


def notices(
    plan: Sequence[Change], deployed_users: Sequence[str], planned_users: Sequence[str], present: set[str] | None = None
) -> list[str]:
    """What users and clusters will notice, in plain words, most disruptive first. `present`: the
    roles the stack serves after the plan (`serving`); None: the writer alone."""
    present = {WRITER} if present is None else present
    lines: list[str] = []
    by = {(c.type, c.op) for c in plan}
    fresh = any(c.type in WORKLOADS and c.op == "create" and c.role in (WRITER, None) for c in plan)
    if fresh:
        lines.append("The registry is created: nothing runs yet that anyone could notice.")
    if (CA, "replace") in by:
        lines.append(
            "**The CA changes**: every node and Docker daemon must trust the new `caCertificate` (node trust, "
            "`/etc/docker/certs.d`), or pulls fail with `x509: certificate signed by unknown authority`."
        )
    elif (SERVER_CERT, "replace") in by:
        lines.append("A new server certificate is issued: clients and nodes keep trusting the same CA (`caCertificate` stays).")
    workloads = [c for c in plan if c.type in WORKLOADS]
    workloads.sort(key=lambda c: (c.op not in ("replace", "delete"), c.strategy != "Recreate"))
    lines += [text for c in workloads if (text := workload_notice(c, present, fresh))]
    lines += [text for kind, ops, text in PLAIN_NOTICES if any((kind, op) in by for op in ops)]
    added = [u for u in planned_users if u not in deployed_users]
    removed = [u for u in deployed_users if u not in planned_users]
    if deployed_users and added:
        lines.append(f"User(s) added: {', '.join(span(u) for u in added)}.")
    if removed:
        lines.append(f"User(s) removed: {', '.join(span(u) for u in removed)}: their logins stop working.")
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
            lines.append(f"A pull secret is created in namespace {span(namespace)}.")
        elif change.op == "delete":
            lines.append(f"**The pull secret leaves namespace {span(namespace)}**: Pods there can no longer pull with it.")
        else:
            lines.append(f"The pull secret in namespace {span(namespace)} gets new credentials; running Pods are not affected.")
    for op, text in IMAGE_NOTICES.items():
        names = [c.name.split("-images-", 1)[-1] for c in plan if c.type == IMAGE and c.op == op]
        if names:
            lines.append(f"{text}: {', '.join(span(n) for n in names)}.")
    if any(c.type == "kubernetes:apps/v1:DaemonSet" for c in plan):
        lines.append("The node-trust DaemonSet changes: it writes the CA and `hosts.toml` onto every node again.")
    if any("local-registry-hosting" in c.name for c in plan):
        lines.append("The KEP-1755 `local-registry-hosting` ConfigMap in `kube-public` changes (tools like Tilt read it).")
    return lines


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ZWSP = "\u200b"  # zero-width space: GitHub links no mention, reference or URL it splits
# What GitHub turns into a link or a notification: an @mention (user, org/team), an issue reference
# (`#1`, `GH-1`; `owner/repo#1` ends in one), a bare URL or `www.` (the autolink extension).
LINKING = re.compile(r"@|#(?=\d)|(?i:\bgh)(?=-\d)|(?i:\b(?:https?|ftp)):(?=//)|(?i:\bwww)(?=\.)")
# Markdown that is more than emphasis, escaped with a backslash where Markdown reads the text: a
# backslash (it would escape our own markup), code spans, math, a heading's `#`, and the `(` or `[`
# after a `]` (an inline link or image; reference links need a definition, which needs a line of
# its own). `ports[0]` stays as it is.
MARKDOWN_MARK = re.compile(r"([\\`$#]|(?<=\])[(\[])")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings: a lone CR ends a line too


def inert(text: str) -> str:
    """Text that is not ours, safe in an HTML block of the comment (`<pre>`): no markup of its own
    (HTML escaped, so it cannot close `<details>` or `<pre>`), nothing GitHub links or notifies
    (`LINKING` split by a zero-width space), no terminal colours."""
    return LINKING.sub(lambda m: m[0] + ZWSP, html.escape(ANSI.sub("", text), quote=False))


def inline(text: str) -> str:
    """Text that is not ours where Markdown reads it (a list item, a table cell): `inert`, its line
    breaks as `<br>` (no block of its own: a fence, a heading), Markdown's marks escaped."""
    lines = [MARKDOWN_MARK.sub(r"\\\1", inert(line)) for line in LINE_BREAK.split(text)]
    return "<br>".join(lines)


def span(text: str) -> str:
    """A Markdown code span of text that is not ours (a name): nothing in it is markup; a backtick
    (which would end it) becomes a quote, a line break (which could start a block) a space, and
    `LINKING` is split as everywhere (GitHub links nothing in code today; it need not stay so)."""
    flat = LINE_BREAK.sub(" ", ANSI.sub("", text)).replace("`", "'")
    return "`" + LINKING.sub(lambda m: m[0] + ZWSP, flat) + "`"


def code(text: str) -> str:
    """An inline code element of text that is not ours, for a table cell (a `|` cannot split it)."""
    return f"<code>{inline(text).replace('|', '&#124;')}</code>"


def why(change: Change) -> str:
    """The table's `why` cell: the changed input keys, those forcing a replacement first and marked."""
    if change.op in ("create", "delete"):
        return "new" if change.op == "create" else "no longer declared"
    keys = [*change.replace_why, *(k for k in change.why if k not in change.replace_why)]
    if not keys:
        return "(the engine gives no key)"
    if all(k.endswith(f" {MASK}") for k in keys):
        names = ", ".join(code(k.removesuffix(f" {MASK}")) for k in keys[:WHY_SHOWN])
        return f"a secret input: {names} (value hidden)" if len(keys) == 1 else f"one of the secret inputs {names}"
    shown = [code(k) + (" (replace)" if k in change.replace_why else "") for k in keys[:WHY_SHOWN]]
    more = f" and {len(keys) - WHY_SHOWN} more" if len(keys) > WHY_SHOWN else ""
    return ", ".join(shown) + more


def warnings(preview: dict[str, Any], severities: tuple[str, ...] = ("warning",)) -> list[str]:
    """The program's and the engine's diagnostics of these severities, each once, in order."""
    found = [str(d.get("message", "")).strip() for d in preview.get("diagnostics") or [] if d.get("severity") in severities]
    return [m for m in dict.fromkeys(found) if m]


def diff_block(diff: str, room: int) -> str:
    """The CLI's `pulumi preview --diff`, collapsed, inert, trimmed to `room` characters (head and tail
    kept, the lines between counted)."""
    head = "<details><summary>Full <code>pulumi preview --diff</code> (secrets masked by the CLI)</summary>\n\n<pre>\n"
    tail = "</pre>\n\n</details>\n"
    lines = [inert(line.rstrip()) for line in diff.splitlines()]
    body = "\n".join(lines)
    room -= len(head) + len(tail) + 80
    if room < 200:
        return "<details><summary>Full diff left out: the summary takes the comment's room</summary></details>\n"
    if len(body) > room:
        first: list[str] = []
        last: list[str] = []
        used = 0
        for line in lines:  # the first two thirds from the head
            if used + len(line) + 1 > room * 2 // 3:
                break
            first.append(line)
            used += len(line) + 1
        for line in reversed(lines[len(first) :]):
            if used + len(line) + 1 > room:
                break
            last.insert(0, line)
            used += len(line) + 1
        cut = len(lines) - len(first) - len(last)
        body = "\n".join([*first, f"... {cut} line(s) trimmed to fit a comment ...", *last])
    return head + body + "\n" + tail


def markdown(
    stack: str, plan: Sequence[Change], notes: Iterable[str], warned: Sequence[str] = (), diff: str | None = None
) -> str:
    """The comment: marker, counts, what users and clusters notice, warnings, the table with a why per
    change, then the full diff collapsed."""
    lines = [MARKER]
    if not plan:
        lines += [f"### Registry stack {span(stack)}: no changes", "", "`pulumi preview` plans nothing to do."]
    else:
        counts: dict[str, int] = {}
        for change in plan:
            counts[change.op] = counts.get(change.op, 0) + 1
        parts = ", ".join(f"{counts[op]} to {op}" for op in ("create", "update", "replace", "delete") if op in counts)
        lines.append(f"### Registry stack {span(stack)}: {parts}")
        notes = list(notes)
        if notes:
            lines += ["", "**What users and clusters will notice**", ""] + [f"- {note}" for note in notes]
    if warned:
        lines += ["", "**Warnings (the program's and its providers')**", ""] + [f"- {inline(w)}" for w in warned]
    if plan:
        lines += ["", "| change | resource | role | type | why (changed input keys) |", "|---|---|---|---|---|"]
        for c in plan:
            role = f"{c.role} {span(c.mirror or '')}".replace("|", "\\|") if c.role == MIRROR else (c.role or "")
            if c.strategy:
                role += f", {c.strategy}"
            lines.append(f"| {SYMBOL[c.op]} | {code(c.name)} | {role} | {c.short_type} | {why(c)} |")
    text = "\n".join(lines) + "\n"
    if diff is not None and diff.strip():
        text += "\n" + diff_block(diff, BUDGET - len(text))
    return text


def failure(stack: str, errors: str, diff: str | None = None) -> str:
    """The comment of a preview that failed: the last error lines the CLI printed, inert (settings
    errors never show a secret's value)."""
    kept = [line.rstrip() for line in ANSI.sub("", errors).splitlines() if line.strip()][-20:]
    body = inert("\n".join(kept) or "(no error output)")
    text = f"{MARKER}\n### Registry stack {span(stack)}: the preview failed\n\n<pre>\n{body}\n</pre>\n"
    if diff is not None and diff.strip():
        text += "\n" + diff_block(diff, BUDGET - len(text))
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", required=True, help="the stdout of `pulumi preview --json`")
    parser.add_argument("--diff", help="the stdout of `pulumi preview --diff` (the CLI masks secrets)")
    parser.add_argument("--errors", help="the stderr of the preview")
    parser.add_argument("--failed", action="store_true", help="the preview exited non-zero")
    parser.add_argument("--deployed-users", default="", help="comma-separated user names of the last deployment")
    parser.add_argument("--planned-users", default="", help="comma-separated user names of the stack's config")
    args = parser.parse_args(argv)
    errors = Path(args.errors).read_text() if args.errors else ""
    diff = Path(args.diff).read_text() if args.diff and Path(args.diff).exists() else None
    text = Path(args.preview).read_text()
    try:
        preview = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        preview = {}
    if args.failed:
        messages = warnings(preview, ("error",))
        sys.stdout.write(failure(args.stack, "\n".join([*messages, errors]), diff))
        return 1
    plan = changes(preview)
    deployed = [u for u in args.deployed_users.split(",") if u]
    planned = [u for u in args.planned_users.split(",") if u]
    notes = notices(plan, deployed, planned, serving(preview))
    sys.stdout.write(markdown(args.stack, plan, notes, warnings(preview), diff))
    return 2 if plan else 0


if __name__ == "__main__":
    sys.exit(main())
