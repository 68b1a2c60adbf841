"""`scripts/status.sh`: how a stack's registry is doing, from its outputs and the registry itself.

    python scripts/status.py --stack NAME [--early-renewal-days N] [--context CTX] [--json] [--html FILE] < outputs.json

`outputs.json` is `pulumi stack output --json --show-secrets` (read from stdin, kept in memory: a
password is used to ask the registry, never printed). It reports each instance's health (containers
on target `docker`, Pods on target `kubernetes`), the registry's answer on its endpoint, the
certificate's expiry (attention inside the early-renewal window), storage used, repositories with
their tags (digest, size, push time where the storage shows it), the last garbage collection, and
whether the nodes' trust DaemonSet runs the current CA everywhere. Human text by default, `--json`
for scripts, `--html FILE` for a page that needs no server. Exit 1 when something needs attention.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.child_env import TOOLS, child_env
from components.names import object_name, registry_slug
from components.oci import Registry, RegistryError, children, is_index

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
STORAGE_ROOT = "/var/lib/registry"
LAST_GC = f"{STORAGE_ROOT}/.private-registry-last-gc"  # written by scripts/gc.sh (target docker)
TAGS = f"{STORAGE_ROOT}/docker/registry/v2/repositories"


@dataclass
class Instance:
    name: str
    role: str  # registry, read-only, mirror
    healthy: bool
    detail: str


@dataclass
class Tag:
    repository: str
    tag: str
    digest: str
    size: int  # bytes of config and layers the registry holds (every platform's, for an index)
    platforms: int
    pushed: str | None  # when the tag last moved, where the storage shows it


@dataclass
class Report:
    stack: str
    target: str
    endpoint: str
    answers: bool = False
    answer: str = ""
    certificate_expires_at: str = ""
    certificate_days_left: int | None = None
    instances: list[Instance] = field(default_factory=list)
    storage_used_bytes: int | None = None
    storage_referenced_bytes: int = 0
    tags: list[Tag] = field(default_factory=list)
    last_gc: str | None = None
    node_trust: str | None = None
    attention: list[str] = field(default_factory=list)


def run_command(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run docker or kubectl with only the environment its tool reads (components/child_env.py)."""
    tool = Path(args[0]).name if args else ""
    env = child_env(tool if tool in TOOLS else "plain")
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as err:
        return subprocess.CompletedProcess(list(args), 127, "", str(err))


def days_left(expires_at: str, now: datetime.datetime) -> int:
    """Whole days until an RFC 3339 time (pulumi-tls gives nanoseconds, Python reads microseconds)."""
    trimmed = re.sub(r"\.(\d{1,6})\d*", r".\1", expires_at).replace("Z", "+00:00")
    return (datetime.datetime.fromisoformat(trimmed) - now).days


def certificate(report: Report, outputs: dict[str, Any], early_renewal_days: int, now: datetime.datetime) -> None:
    report.certificate_expires_at = str(outputs.get("certificateExpiresAt", ""))
    if not report.certificate_expires_at:
        return
    left = days_left(report.certificate_expires_at, now)
    report.certificate_days_left = left
    if left < 0:
        report.attention.append(f"the certificate expired {-left} day(s) ago: run pulumi up")
    elif left < early_renewal_days:
        report.attention.append(
            f"the certificate expires in {left} day(s), inside the early-renewal window ({early_renewal_days} days): "
            "the next pulumi up renews it"
        )


def client(outputs: dict[str, Any]) -> Registry | None:
    """The registry's API as the first user it accepts on the endpoint (the writer knows push users only)."""
    passwords = outputs.get("passwords") or {}
    for user in outputs.get("usernames") or []:
        registry = Registry(outputs["endpoint"], user, passwords.get(user), outputs.get("caCertificate"), timeout=15)
        try:
            response = registry.request("GET", "/v2/", "")
            response.close()  # only the status counts: a body is never read unbounded (a connection per request)
        except RegistryError:
            continue
        if response.status == 200:
            return registry
    return None


def catalog(registry: Registry, pushed: dict[tuple[str, str], str]) -> list[Tag]:
    """Every repository's tags with digest, size and platforms."""
    tags: list[Tag] = []
    # Paged, bounded and checked as read by the registry client (components/oci.py), like the manifests.
    for repository in registry.catalog():
        for tag in sorted(registry.tags(repository)):
            top, data = registry.fetch(repository, tag)
            digest = top.digest
            # The manifests and blobs as the copy walks them (components/oci.py).
            if is_index(data, top.media_type):
                platforms = [registry.manifest(repository, m["digest"]) for m in children(data)]
            else:
                platforms = [data]
            size = sum(int(blob.get("size", 0)) for manifest in platforms for blob in children(manifest))
            tags.append(Tag(repository, tag, digest, size, len(platforms), pushed.get((repository, tag))))
    return tags


def push_times(text: str) -> dict[tuple[str, str], str]:
    """`stat -c '%Y %n'` lines of `<repositories>/<repo>/_manifests/tags/<tag>/current/link` -> push times."""
    found = {}
    for line in text.splitlines():
        stamp, _, path = line.partition(" ")
        if not stamp.isdigit() or "/_manifests/tags/" not in path:
            continue
        repository = path.split(TAGS + "/", 1)[-1].split("/_manifests/tags/")[0]
        tag = path.split("/_manifests/tags/")[1].split("/")[0]
        moment = datetime.datetime.fromtimestamp(int(stamp), datetime.UTC)
        found[(repository, tag)] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return found


# The registry image has busybox, but not every applet linked (the sandbox's has cat, ls, sh, wget).
BUSYBOX = "/bin/busybox"
STAT_TAGS = (
    f"{BUSYBOX} find {TAGS} -path '*/_manifests/tags/*/current/link' -exec {BUSYBOX} stat -c '%Y %n' {{}} + 2>/dev/null; true"
)


def docker_side(report: Report, outputs: dict[str, Any], run: Runner) -> dict[tuple[str, str], str]:
    """Target docker: each container's health; storage used, push times and last gc from the writer."""
    names = [("registry", outputs.get("containerName")), ("read-only", outputs.get("pullContainerName"))]
    base = outputs.get("containerName", "")
    names += [("mirror", f"{base}-mirror-{registry_slug(upstream)}") for upstream in outputs.get("mirrors") or {}]
    for role, name in names:
        if not name:
            continue
        result = run(["docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", name])
        state = result.stdout.strip() if result.returncode == 0 else "missing"
        healthy = state == "running healthy"
        report.instances.append(Instance(name, role, healthy, state))
        if not healthy:
            report.attention.append(f"container {name} ({role}) is {state}, not running and healthy")
    writer = outputs.get("containerName")
    if not writer:
        return {}
    used = run(["docker", "exec", writer, BUSYBOX, "du", "-sk", STORAGE_ROOT])
    if used.returncode == 0 and used.stdout.split():
        report.storage_used_bytes = int(used.stdout.split()[0]) * 1024
    last = run(["docker", "exec", writer, BUSYBOX, "cat", LAST_GC])
    report.last_gc = last.stdout.strip() if last.returncode == 0 and last.stdout.strip() else None
    stats = run(["docker", "exec", writer, BUSYBOX, "sh", "-c", STAT_TAGS])
    return push_times(stats.stdout)


def kube_side(report: Report, outputs: dict[str, Any], run: Runner, kubectl: list[str]) -> dict[tuple[str, str], str]:
    """Target kubernetes: each Pod's readiness; storage used and push times from a writer Pod on a
    claim; the last gc from the ConfigMap `registry-gc` (scripts/gc.sh)."""
    namespace = outputs.get("registryNamespace", "")
    inside = [*kubectl, "-n", namespace]
    result = run([*inside, "get", "pods", "-l", "app.kubernetes.io/part-of=private-registry", "-o", "json"])
    if result.returncode != 0:
        report.attention.append(f"could not list the registry's Pods in namespace {namespace}: {result.stderr.strip()[:200]}")
        return {}
    writer_pod = None
    roles = {"registry": "registry", "registry-pull": "read-only"}
    for pod in json.loads(result.stdout).get("items") or []:
        name, deployment = pod["metadata"]["name"], pod["metadata"].get("labels", {}).get("app.kubernetes.io/name", "")
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
        ready = conditions.get("Ready") == "True"
        restarts = sum(int(s.get("restartCount", 0)) for s in pod.get("status", {}).get("containerStatuses") or [])
        role = roles.get(deployment, "mirror" if deployment.startswith("registry-mirror-") else deployment)
        report.instances.append(Instance(name, role, ready, f"{pod['status'].get('phase', '?')}, {restarts} restart(s)"))
        if not ready:
            report.attention.append(f"Pod {name} ({role}) is not ready")
        if deployment == "registry" and ready and writer_pod is None:
            writer_pod = name
    last = run([*inside, "get", "configmap", "registry-gc", "-o", "jsonpath={.data.last}"])
    report.last_gc = last.stdout.strip() if last.returncode == 0 and last.stdout.strip() else None
    if writer_pod is None or not str(outputs.get("registryStorage", "")).startswith("persistentvolumeclaim/"):
        return {}  # S3: the bucket's own tools tell its size
    used = run([*inside, "exec", writer_pod, "--", BUSYBOX, "du", "-sk", STORAGE_ROOT])
    if used.returncode == 0 and used.stdout.split():
        report.storage_used_bytes = int(used.stdout.split()[0]) * 1024
    return push_times(run([*inside, "exec", writer_pod, "--", BUSYBOX, "sh", "-c", STAT_TAGS]).stdout)


def node_trust(report: Report, stack: str, run: Runner, kubectl: list[str]) -> None:
    """Where the trust DaemonSet runs: every node has its current files (the CA's hash is in its template)."""
    name = object_name("registry-trust", stack)
    found = run([*kubectl, "get", "daemonsets", "-A", "--field-selector", f"metadata.name={name}", "-o", "json"])
    items = json.loads(found.stdout).get("items") if found.returncode == 0 and found.stdout.strip() else []
    if not items:
        return
    status = items[0].get("status", {})
    desired, updated, ready = (int(status.get(k, 0)) for k in ("desiredNumberScheduled", "updatedNumberScheduled", "numberReady"))
    report.node_trust = f"{updated}/{desired} node(s) with the current CA, {ready} ready"
    if updated != desired or ready != desired:
        report.attention.append(f"node trust: only {updated} of {desired} node(s) have the current CA ({ready} ready)")


def collect(
    stack: str,
    outputs: dict[str, Any],
    early_renewal_days: int,
    kubectl: list[str] | None,
    run: Runner = run_command,
    now: datetime.datetime | None = None,
) -> Report:
    report = Report(stack=stack, target=str(outputs.get("target", "docker")), endpoint=str(outputs.get("endpoint", "")))
    certificate(report, outputs, early_renewal_days, now or datetime.datetime.now(datetime.UTC))
    if report.target == "kubernetes":
        pushed = kube_side(report, outputs, run, kubectl or ["kubectl"])
    else:
        pushed = docker_side(report, outputs, run)
    if kubectl is not None:
        node_trust(report, stack, run, kubectl)
    registry = client(outputs)
    if registry is None:
        report.answer = "no answer with any of the stack's users"
        report.attention.append(f"the registry does not answer on {report.endpoint} (GET /v2/ with the stack's users)")
        return report
    report.answers, report.answer = True, "HTTP 200"
    try:
        report.tags = catalog(registry, pushed)
    except RegistryError as err:
        report.attention.append(f"could not list the repositories: {err}")
    sizes: dict[str, int] = {}
    for tag in report.tags:
        sizes[tag.digest] = tag.size
    report.storage_referenced_bytes = sum(sizes.values())
    return report


def mib(size: int | None) -> str:
    """A size as people read it (KiB below a MiB)."""
    if size is None:
        return "unknown"
    return f"{size / 1048576:.1f} MiB" if size >= 1048576 else f"{size / 1024:.1f} KiB"


def human(report: Report) -> str:
    lines = [f"stack {report.stack} (target {report.target}), endpoint {report.endpoint}: {report.answer}"]
    if report.certificate_days_left is not None:
        lines.append(f"certificate: expires {report.certificate_expires_at} ({report.certificate_days_left} days left)")
    for i in report.instances:
        lines.append(f"  {'ok ' if i.healthy else 'BAD'} {i.role:9} {i.name}: {i.detail}")
    repositories = sorted({t.repository for t in report.tags})
    lines.append(
        f"storage: {mib(report.storage_used_bytes)} used, {mib(report.storage_referenced_bytes)} referenced by "
        f"{len(report.tags)} tag(s) in {len(repositories)} repositories"
    )
    for repository in repositories:
        tags = [t for t in report.tags if t.repository == repository]
        lines.append(f"  {repository}: {len(tags)} tag(s): " + ", ".join(f"{t.tag} ({mib(t.size)})" for t in tags))
    lines.append(f"last garbage collection: {report.last_gc or 'none recorded'}")
    if report.node_trust:
        lines.append(f"node trust: {report.node_trust}")
    lines += [f"ATTENTION: {a}" for a in report.attention] or ["nothing needs attention"]
    return "\n".join(lines) + "\n"


def page(report: Report) -> str:
    """A page that needs no server (no script, no external resource)."""
    e = html.escape

    def rows(cells: list[list[str]]) -> str:
        return "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in cells)

    state = "needs attention" if report.attention else "healthy"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>registry {e(report.stack)}: {state}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left;white-space:nowrap}.bad{color:#b00}.ok{color:#070}</style></head><body>",
        f"<h1>Registry {e(report.stack)} <span class='{'bad' if report.attention else 'ok'}' id='state'>{state}</span></h1>",
        f"<p>Target {e(report.target)}, endpoint <code>{e(report.endpoint)}</code>: {e(report.answer)}.</p>",
        f"<p id='certificate'>Certificate expires {e(report.certificate_expires_at)} "
        f"({report.certificate_days_left} days left).</p>",
        "<h2>Attention</h2><ul id='attention'>"
        + ("".join(f"<li class='bad'>{e(a)}</li>" for a in report.attention) or "<li>nothing</li>")
        + "</ul>",
        "<h2>Instances</h2><table id='instances'><tr><th>name</th><th>role</th><th>healthy</th><th>state</th></tr>",
        rows([[i.name, i.role, "yes" if i.healthy else "NO", i.detail] for i in report.instances]) + "</table>",
        f"<h2>Repositories</h2><p>Storage: {mib(report.storage_used_bytes)} used, "
        f"{mib(report.storage_referenced_bytes)} referenced.</p>",
        "<table id='tags'><tr><th>repository</th><th>tag</th><th>size</th><th>platforms</th><th>pushed</th><th>digest</th></tr>",
        rows(
            [
                [t.repository, t.tag, mib(t.size), str(t.platforms), t.pushed or "unknown", t.digest[:19] + "…"]
                for t in report.tags
            ]
        )
        + "</table>",
        f"<p>Last garbage collection: {e(report.last_gc or 'none recorded')}.</p>",
        f"<p>Node trust: {e(report.node_trust or 'no DaemonSet')}.</p></body></html>",
    ]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="status.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--early-renewal-days", type=int, default=30)
    parser.add_argument("--context", default=None, help="the stack's kubernetes.context (none: no cluster to ask)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--html", type=Path)
    args = parser.parse_args(argv)
    outputs = json.loads(sys.stdin.read() or "{}")
    if not outputs.get("endpoint"):
        print(f"status.sh: stack {args.stack} has no outputs: run pulumi up first", file=sys.stderr)
        return 2
    kubectl = ["kubectl", "--context", args.context] if args.context else None
    if outputs.get("target") == "kubernetes" and kubectl is None:
        kubectl = ["kubectl"]
    report = collect(args.stack, outputs, args.early_renewal_days, kubectl)
    if args.html is not None:
        args.html.write_text(page(report))
    print(json.dumps(asdict(report), indent=1) if args.json else human(report), end="" if not args.json else "\n")
    return 1 if report.attention else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
