"""Settings section cluster: which cluster the stack writes into, and what it writes there (pull
secrets, node trust). Pure, as settings.py, which calls `cluster_section`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model import KubernetesSettings, NodeTrustSettings, PullSecretSettings, Target, User
from .names import dns_label_ok, dns_subdomain_ok, image_ref_ok, image_registry
from .problems import Problems, key, read_boolean, read_object
from .setting_keys import field_default, field_names

KUBERNETES_MODES = ("none", "cluster", "render")
NODE_TRUST_MODES = ("none", "daemonset")
PULL_SECRET_KEYS = field_names("pullSecret")
KUBERNETES_KEYS = field_names("kubernetes")
NODE_TRUST_KEYS = field_names("nodeTrust")
CONTAINERD_CERTS_DIR = field_default("nodeTrust.certsDir")  # containerd's usual registry `config_path`


def _pull_secret(
    raw: Mapping[str, Any], users: Sequence[User], uses_cluster: bool, pull_port: int | None, p: Problems
) -> PullSecretSettings:
    value = read_object(raw, "pullSecret", PULL_SECRET_KEYS, p)
    name = value.get("name", field_default("pullSecret.name"))
    if not isinstance(name, str) or not dns_subdomain_ok(name):
        p.add("pullSecret.name", name, "must be a DNS-1123 subdomain (lower case a-z, 0-9, '-', '.')")
        name = field_default("pullSecret.name")
    # `default` only when the stack names a cluster (or renders): none is written into otherwise
    namespaces = value.get("namespaces", ["default"] if uses_cluster else [])
    good: list[str] = []
    if not isinstance(namespaces, list):
        p.add("pullSecret.namespaces", namespaces, "must be a list of namespace names")
        namespaces = []
    for i, ns in enumerate(namespaces):
        if not isinstance(ns, str) or not dns_label_ok(ns):
            p.add(f"pullSecret.namespaces[{i}]", ns, "must be a DNS-1123 label (a-z, 0-9, '-', at most 63)")
        elif ns in good:
            p.add(f"pullSecret.namespaces[{i}]", ns, "duplicate namespace")
        else:
            good.append(ns)
    pullers = [u.name for u in users if u.access == "pull"]
    # With a read-only instance the pull secrets carry a pull user's credentials, and by default the first one's.
    first_puller = pullers[0] if pullers else None
    user = value.get("user", first_puller if pull_port is not None else (users[0].name if users else "admin"))
    if user is None:
        p.add("pullSecret.user", None, "is required with pullPort: add a user with access: pull for the pull secrets")
        user = "admin"
    elif users and user not in {u.name for u in users}:
        p.add("pullSecret.user", user, f"must be one of the users: {', '.join(u.name for u in users)}")
    elif pull_port is not None and user not in pullers:
        p.add(
            "pullSecret.user",
            user,
            "is a push user: with pullPort the pull secrets carry a pull user's credentials (access: pull), so a "
            f"leaked pull secret cannot overwrite images; pull users: {', '.join(pullers) or 'none'}",
        )
    patch = value.get("patchDefaultServiceAccount", field_default("pullSecret.patchDefaultServiceAccount"))
    if not isinstance(patch, bool):
        p.add("pullSecret.patchDefaultServiceAccount", patch, "must be true or false")
        patch = False
    allow = value.get("allowPushUser", field_default("pullSecret.allowPushUser"))
    if not isinstance(allow, bool):
        p.add("pullSecret.allowPushUser", allow, "must be true or false")
        allow = False
    # Without pullPort every user can push (pull users need the read-only instance).
    pushing = tuple(good) if uses_cluster and pull_port is None and not allow else ()
    return PullSecretSettings(
        name=name,
        namespaces=tuple(good),
        user=str(user),
        patch_default_service_account=patch,
        allow_push_user=allow,
        push_user_namespaces=pushing,
    )


def _kubernetes(raw: Mapping[str, Any], stack: str, p: Problems, provider: str | None = None) -> KubernetesSettings:
    value = read_object(raw, "kubernetes", KUBERNETES_KEYS, p)
    if provider is not None:  # the program's own provider names the cluster; a second name would contradict it
        for name, given in value.items():
            if (name, given) != ("mode", "cluster"):
                p.add(f"kubernetes.{name}", given, f"is not used: the program hands in its kubernetes.Provider {provider!r}")
        return KubernetesSettings(
            mode="cluster", context=None, render_directory=None, configured="kubernetes" in raw, provider=provider
        )
    context = value.get("context")
    if context is not None and (not isinstance(context, str) or not context):
        p.add("kubernetes.context", context, "must be a kubeconfig context name")
        context = None
    # A stack writes only into a cluster its config names: without a context there is none.
    default_mode = "cluster" if context is not None else "none"
    mode = value.get("mode", default_mode)
    if mode not in KUBERNETES_MODES:
        p.add(
            "kubernetes.mode",
            mode,
            "must be none (no cluster), cluster (apply to kubernetes.context) or render (write manifests to a folder)",
        )
        mode = default_mode
    directory = value.get("renderDirectory")
    if directory is not None and (not isinstance(directory, str) or not directory.strip()):
        p.add("kubernetes.renderDirectory", directory, "must be a folder path")
        directory = None
    if mode == "render" and directory is None:
        directory = f"rendered/{stack}"
    if mode == "cluster" and context is None:
        p.add(
            "kubernetes.context",
            None,
            "is required with kubernetes.mode = cluster: name the kubeconfig context this stack writes into "
            "(kubectl config get-contexts); the current context is never taken by default, it may be another cluster",
        )
    if mode != "render" and directory is not None:
        p.add("kubernetes.renderDirectory", directory, "is only used with kubernetes.mode = render")
    if mode != "cluster" and context is not None:
        p.add("kubernetes.context", context, f"is only used with kubernetes.mode = cluster (not {mode})")
    return KubernetesSettings(mode=mode, context=context, render_directory=directory, configured="kubernetes" in raw)


NO_CLUSTER = (
    "needs a cluster, and this stack names none: set kubernetes.context (the kubeconfig context to write into) "
    "or kubernetes.mode = render (write the manifests to a folder)"
)


def _cluster_needed(
    kubernetes: KubernetesSettings,
    pull_secret: PullSecretSettings,
    node_trust: NodeTrustSettings,
    local_registry_hosting: bool,
    kube_target: bool,
    p: Problems,
) -> None:
    """Settings that write into a cluster are refused when the stack names no cluster (there, the
    pull secret namespaces default to none: any left were set)."""
    if kubernetes.mode != "none":
        return
    if pull_secret.namespaces:
        p.add("pullSecret.namespaces", list(pull_secret.namespaces), NO_CLUSTER)
    if node_trust.mode == "daemonset":
        p.add("nodeTrust.mode", "daemonset", NO_CLUSTER)
    if local_registry_hosting:
        p.add("localRegistryHosting", True, NO_CLUSTER)
    if kube_target:
        p.add("target", "kubernetes", NO_CLUSTER)


def _node_trust(raw: Mapping[str, Any], endpoint: str, p: Problems) -> NodeTrustSettings:
    from . import node_trust  # its pure rules; imported here, as it loads the Pulumi SDK

    value = read_object(raw, "nodeTrust", NODE_TRUST_KEYS, p)
    mode = value.get("mode", field_default("nodeTrust.mode"))
    if mode not in NODE_TRUST_MODES:
        p.add("nodeTrust.mode", mode, "must be none (nodes are provisioned with the outputs) or daemonset")
        mode = field_default("nodeTrust.mode")
    image = value.get("image")
    if image is not None and (not isinstance(image, str) or not image_ref_ok(image)):
        p.add("nodeTrust.image", image, "must be an image reference such as busybox:1.37 or host/repo@sha256:...")
        image = None
    elif mode == "daemonset" and image is None:
        p.add(
            "nodeTrust.image",
            None,
            "is required with nodeTrust.mode = daemonset: an image with a POSIX shell (e.g. busybox) that the nodes "
            "can already pull (not one from this registry: the nodes do not trust it yet)",
        )
    elif mode == "daemonset" and isinstance(image, str) and image_registry(image) == endpoint:
        p.add("nodeTrust.image", image, "is in this registry, which the nodes cannot pull from before they trust it")
    elif mode == "daemonset" and isinstance(image, str) and (why := node_trust.daemonset_image_problem(image)):
        p.add("nodeTrust.image", image, why)
    namespace = value.get("namespace", field_default("nodeTrust.namespace"))
    if not isinstance(namespace, str) or not dns_label_ok(namespace):
        p.add("nodeTrust.namespace", namespace, "must be an existing namespace (a DNS-1123 label)")
        namespace = field_default("nodeTrust.namespace")
    certs_dir = value.get("certsDir", CONTAINERD_CERTS_DIR)
    if not isinstance(certs_dir, str) or not certs_dir.startswith("/") or certs_dir.rstrip("/") == "":
        p.add("nodeTrust.certsDir", certs_dir, "must be an absolute path: containerd's registry config_path on the nodes")
        certs_dir = CONTAINERD_CERTS_DIR
    elif mode == "daemonset" and (why := node_trust.certs_dir_problem(certs_dir, value.get("allowAnyCertsDir"))):
        p.add("nodeTrust.certsDir", certs_dir, why)
    if value.get("allowAnyCertsDir") not in (None, True, False):
        p.add("nodeTrust.allowAnyCertsDir", value["allowAnyCertsDir"], "must be true or false")
    return NodeTrustSettings(mode=mode, image=image, namespace=namespace, certs_dir=certs_dir.rstrip("/"))


def cluster_section(
    raw: Mapping[str, Any],
    stack: str,
    users: Sequence[User],
    endpoint: str,
    target: Target,
    pull_port: int | None,
    p: Problems,
    warnings: list[str],
    provider: str | None = None,
) -> dict[str, Any]:
    """Section cluster: which cluster, and what the stack writes there (pull secrets, node trust)."""
    kubernetes = _kubernetes(raw, stack, p, provider)
    pull_secret = _pull_secret(raw, users, kubernetes.mode != "none", pull_port, p)
    if pull_secret.push_user_namespaces:
        # Every user can push without a read-only instance. Running stacks keep the namespaces they
        # hold with this warning; the target guard refuses any other (a new stack's included).
        warnings.append(
            f"{key('pullSecret.user')} = {pull_secret.user} can push (and delete, with deleteEnabled): whoever can read "
            f"the pull secret in {', '.join(pull_secret.push_user_namespaces)} can overwrite images every namespace "
            "runs. Set pullPort and add a user with access: pull, or say so with pullSecret.allowPushUser: true "
            "(docs/security.md)"
        )
    if kubernetes.mode == "render" and pull_secret.patch_default_service_account:
        p.add(
            "pullSecret.patchDefaultServiceAccount",
            True,
            "needs kubernetes.mode = cluster (a rendered ServiceAccount would overwrite the live one)",
        )
    node_trust = _node_trust(raw, endpoint, p)
    # Off unless asked for: its ConfigMaps have fixed names in kube-public, one stack per cluster.
    local_registry_hosting = read_boolean(raw, "localRegistryHosting", p)
    kube_target = target.kind == "kubernetes"
    _cluster_needed(kubernetes, pull_secret, node_trust, local_registry_hosting, kube_target, p)
    return {
        "kubernetes": kubernetes,
        "pull_secret": pull_secret,
        "node_trust": node_trust,
        "local_registry_hosting": local_registry_hosting,
    }
