"""What one registry holds that no other registry of the same program may hold.

Two `PrivateRegistry` components in one program get apart by their instance names (container,
volume, namespace and DaemonSet names are derived from it), but some names and addresses are set
by hand or fixed: a host port, a NodePort, the pull secret's name, the endpoint, the KEP-1755
ConfigMaps. Each registry lists its claims; a second registry with one of them is refused before
any of its resources is registered, with both registries and the setting that decides named.
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import DockerTarget, Settings
from .names import object_name


def cluster(s: Settings) -> str | None:
    """Which cluster the registry's Kubernetes objects go to, or None when it writes none."""
    if s.kubernetes.provider is not None:  # one provider, one cluster (two providers of one cluster: not seen)
        return f"the cluster of kubernetes provider {s.kubernetes.provider!r}"
    if s.kubernetes.mode == "cluster":
        return f"kubeconfig context {s.kubernetes.context!r}"
    if s.kubernetes.mode == "render":
        return f"render directory {s.kubernetes.render_directory!r}"
    return None


def claims(s: Settings) -> dict[str, str]:
    """Claim (a thing only one registry may have) -> the setting that decides it."""
    held = {f"endpoint {s.endpoint}": "endpoint"}
    if s.read_only is not None:
        held[f"endpoint {s.pull_endpoint}"] = "pullPort"
    target = s.target
    if isinstance(target, DockerTarget):
        held[f"Docker container {target.container_name}"] = "containerName"
        held[f"Docker volume {target.data_volume}"] = "dataVolume"
        held[f"port {s.port} of the Docker host"] = "port"
        if s.read_only is not None:
            held[f"Docker container {target.container_name}-pull"] = "containerName"
            held[f"port {s.read_only.port} of the Docker host"] = "pullPort"
        for mirror in s.mirrors:
            held[f"Docker container {target.container_name}-mirror-{mirror.slug}"] = f"mirrors.{mirror.upstream}"
            held[f"port {mirror.port} of the Docker host"] = f"mirrors.{mirror.upstream}.port"
    where = cluster(s)
    if where is None:
        return held
    if not isinstance(target, DockerTarget):
        held[f"namespace {target.namespace} in {where}"] = "namespace"
        if target.service_type == "NodePort":
            held[f"NodePort {s.port} in {where}"] = "port"
            if s.read_only is not None:
                held[f"NodePort {s.read_only.port} in {where}"] = "pullPort"
            for mirror in s.mirrors:
                held[f"NodePort {mirror.port} in {where}"] = f"mirrors.{mirror.upstream}.port"
    for namespace in s.pull_secret.namespaces:
        held[f"Secret {namespace}/{s.pull_secret.name} in {where}"] = "pullSecret.name"
    if s.node_trust.mode == "daemonset":
        held[f"DaemonSet {s.node_trust.namespace}/{object_name('registry-trust', s.stack)} in {where}"] = "instance name"
    if s.local_registry_hosting:
        held[f"ConfigMaps kube-public/local-registry-hosting and private-registry-ca in {where}"] = "localRegistryHosting"
    return held


def conflicts(name: str, s: Settings, taken: Mapping[str, tuple[str, str]]) -> list[str]:
    """One message per claim of registry `name` that `taken` (claim -> (registry, setting)) already holds."""
    found = []
    for claim, setting in claims(s).items():
        if claim in taken:
            other, other_setting = taken[claim]
            found.append(
                f"registries {other!r} and {name!r} both want the {claim}: change {setting} of {name!r}"
                + (f" or {other_setting} of {other!r}" if other_setting != setting else f" or of {other!r}")
            )
    return found
