"""Before a preview in cluster mode: may the kubeconfig's identity do what server-side apply needs?

    kube_access.py --stack NAME --config config.json     (config.json: `pulumi config --json`)

A preview of a stack with `kubernetes.mode: cluster` asks the API server for a server-side apply
dry run of every object the stack manages: that is a `patch` (with `get` and `list` to read what is
there) on each kind, in each namespace. A kubeconfig with read access alone fails late, deep in the
provider's output. This asks first (`kubectl auth can-i`, a SelfSubjectAccessReview each) and names
every missing verb and resource. It reads the stack's settings from `pulumi config --json`, which
leaves secret values out. Exit 0: all allowed, or nothing to check (not cluster mode; no kubectl,
said in a line); 1: something is missing (each named); 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.child_env import child_env

PROJECT = "private-registry"
VERBS = ("get", "list", "patch")  # server-side apply's dry run: read what is there, then patch


@dataclass(frozen=True)
class Need:
    """One kind the stack applies, where: `resource` as kubectl names it (`deployments.apps`),
    `namespace` None for cluster-scoped kinds."""

    resource: str
    namespace: str | None
    why: str


def setting(config: dict[str, Any], key: str) -> Any:
    """A setting's value from `pulumi config --json` (objects come as `objectValue`, or as JSON text
    in `value`); None when unset or secret (the CLI leaves a secret's value out)."""
    entry = config.get(f"{PROJECT}:{key}")
    if not isinstance(entry, dict):
        return None
    if "objectValue" in entry:
        return entry["objectValue"]
    value = entry.get("value")
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _object(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = setting(config, key)
    return value if isinstance(value, dict) else {}


def cluster_context(config: dict[str, Any]) -> str | None:
    """The kubeconfig context of a stack in cluster mode (`kubernetes.context`, mode unset or `cluster`)."""
    kube = _object(config, "kubernetes")
    context, mode = kube.get("context"), kube.get("mode")
    if not context or mode not in (None, "cluster"):
        return None
    return str(context)


def needed(config: dict[str, Any], stack: str) -> list[Need]:
    """What the stack applies in cluster mode, kind by kind and namespace by namespace."""
    pull = _object(config, "pullSecret")
    namespaces = pull.get("namespaces")
    namespaces = [str(n) for n in namespaces] if isinstance(namespaces, list) else ["default"]
    needs = [Need("secrets", ns, "pull secret") for ns in namespaces]
    if pull.get("patchDefaultServiceAccount") is True:
        needs += [Need("serviceaccounts", ns, "pullSecret.patchDefaultServiceAccount") for ns in namespaces]
    if setting(config, "target") == "kubernetes":
        own = str(setting(config, "namespace") or f"registry-{stack}")
        needs.append(Need("namespaces", None, "the registry's namespace"))
        kinds = ["secrets", "services", "deployments.apps", "poddisruptionbudgets.policy", "persistentvolumeclaims"]
        if (_object(config, "pods").get("serviceAccount") or {}).get("create") is True:
            kinds.append("serviceaccounts")
        if _object(config, "metrics").get("serviceMonitor") is True:
            kinds.append("servicemonitors.monitoring.coreos.com")
        needs += [Need(kind, own, "target kubernetes") for kind in kinds]
    trust = _object(config, "nodeTrust")
    if trust.get("mode") == "daemonset":
        needs.append(Need("daemonsets.apps", str(trust.get("namespace") or "kube-system"), "nodeTrust.mode daemonset"))
    if setting(config, "localRegistryHosting") in (True, "true"):
        needs.append(Need("configmaps", "kube-public", "localRegistryHosting"))
    return list(dict.fromkeys(needs))


def missing(needs: Sequence[Need], can_i: Callable[[str, str, str | None], bool]) -> list[str]:
    """The verbs the identity may not use, as lines a reader acts on."""
    lines = []
    for need in needs:
        denied = [verb for verb in VERBS if not can_i(verb, need.resource, need.namespace)]
        if denied:
            where = f"in namespace {need.namespace}" if need.namespace else "(cluster-scoped)"
            lines.append(f"missing: {', '.join(denied)} on {need.resource} {where} ({need.why})")
    return lines


def kubectl_can_i(context: str) -> Callable[[str, str, str | None], bool]:
    def can_i(verb: str, resource: str, namespace: str | None) -> bool:
        scope = ["-n", namespace] if namespace else []
        result = subprocess.run(
            ["kubectl", "auth", "can-i", verb, resource, *scope, "--context", context, "--quiet"],
            capture_output=True,
            text=True,
            timeout=20,
            env=child_env("kubectl"),  # not the stack's passphrase or backend token
        )
        if result.returncode not in (0, 1):  # 1 is "no"; warnings (an unknown kind) go to stderr
            raise RuntimeError(f"kubectl auth can-i {verb} {resource} --context {context}: {result.stderr.strip()}")
        return result.returncode == 0

    return can_i


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config", required=True, help="the stdout of `pulumi config --json` (no secret values)")
    args = parser.parse_args(argv)
    try:
        config = json.loads(Path(args.config).read_text() or "{}")
    except json.JSONDecodeError:
        print("kube access: `pulumi config --json` gave no JSON; the permission check is skipped")
        return 0
    context = cluster_context(config)
    if context is None:
        return 0  # render or none: the preview talks to no cluster
    if shutil.which("kubectl") is None:
        print("kube access: kubectl is not on PATH: the permission check before the preview is skipped")
        return 0
    needs = needed(config, args.stack)
    try:
        lines = missing(needs, kubectl_can_i(context))
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"kube access: could not ask the API server ({err})", file=sys.stderr)
        return 1
    if lines:
        print(f"kube access: the kubeconfig's identity in context {context} may not do what a server-side apply preview")
        print("needs (docs/pr-checks.md has the Role to grant):")
        print("\n".join(f"  {line}" for line in lines))
        return 1
    print(f"kube access: context {context} may get, list and patch all {len(needs)} kind(s) the stack applies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
