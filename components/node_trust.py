"""Node trust: what a node needs so that its container runtime trusts the registry's CA.

A pull secret carries credentials, not trust: every node must also trust the CA, or each pull fails
with an x509 error. containerd reads `<config_path>/<endpoint>/hosts.toml` with the CA beside it as
`ca.crt`. Three ways, side by side (README "Using it from a cluster"):

1. the outputs `containerdHostsToml` and `caCertificate`, installed by node provisioning;
2. `nodeTrust.mode: daemonset`: a DaemonSet writes both onto every node from a ConfigMap and keeps
   them current (a CA change rolls it: the pod template carries the content's hash);
3. the KEP-1755 `local-registry-hosting` ConfigMap in `kube-public`, so that tools (Tilt, Skaffold,
   ctlptl) find the registry, with the CA in a ConfigMap beside it (the KEP carries no TLS data).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_kubernetes import Provider

from .kube_resources import ConfigMap, DaemonSet
from .names import object_name, registry_slug

LOCAL_REGISTRY_HOSTING = "local-registry-hosting"  # KEP-1755: this name in kube-public
CA_CONFIG_MAP = "private-registry-ca"
TRUST_MOUNT, HOST_MOUNT = "/trust", "/host-certs.d"
# Written CA first, then hosts.toml, each by rename: containerd never reads a half-written file nor a
# hosts.toml whose CA is missing. Checked again every 30 s, so a deleted file comes back.
INSTALL_SCRIPT = f"""set -eu
trap 'exit 0' TERM INT
target="{HOST_MOUNT}/$ENDPOINT"
while true; do
  mkdir -p "$target"
  for f in ca.crt hosts.toml; do
    if ! cmp -s "{TRUST_MOUNT}/$f" "$target/$f"; then
      cp "{TRUST_MOUNT}/$f" "$target/.$f.new" && mv "$target/.$f.new" "$target/$f"
      echo "installed $target/$f"
    fi
  done
  sleep 30 & wait $!
done
"""


def containerd_hosts_toml(endpoint: str, pull_endpoint: str | None = None) -> str:
    """`<config_path>/<endpoint>/hosts.toml`; `ca.crt` beside it (containerd resolves the relative path
    against the file's own folder, so it holds wherever the node's `config_path` is).

    With a read-only instance (`pull_endpoint`), images keep the name CI pushes them by
    (`<endpoint>/...`) and containerd sends their pulls to the read-only instance alone: it is the
    `server` too, so a failed pull never falls back to the writer. The pull secret's credentials
    (keyed by `endpoint`, as the kubelet matches them to the image name) go with the request there
    (containerd 2.4.2 on the sandbox node, `tests/e2e/test_pull_endpoint.py`).
    """
    host = pull_endpoint or endpoint
    lines = [
        f'server = "https://{host}"',
        "",
        f'[host."https://{host}"]',
        '  capabilities = ["pull", "resolve"]',
        '  ca = "ca.crt"',
    ]
    return "\n".join(lines) + "\n"


def local_registry_hosting(endpoint: str) -> str:
    """The `localRegistryHosting.v1` document of KEP-1755."""
    return f'host: "{endpoint}"\nhostFromContainerRuntime: "{endpoint}"\n'


def trust_hash(hosts_toml: str, ca_pem: str) -> str:
    """A hash of the files the DaemonSet installs: in the pod template, a change rolls the pods."""
    return hashlib.sha256((hosts_toml + "\0" + ca_pem).encode()).hexdigest()


def install_container(name: str, image: str, folder: str, volume: str) -> dict[str, object]:
    """One installer: the files of the ConfigMap mounted as `volume` into `<certs_dir>/<folder>/`."""
    return {
        "name": name,
        "image": image,
        "command": ["sh", "-c", INSTALL_SCRIPT],
        "env": [{"name": "ENDPOINT", "value": folder}],
        "volumeMounts": [
            {"name": volume, "mountPath": TRUST_MOUNT, "readOnly": True},
            {"name": "certs-d", "mountPath": HOST_MOUNT},
        ],
        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "32Mi"}},
        # Root owns containerd's config folder; nothing else is needed.
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def daemonset_spec(
    name: str,
    image: str,
    endpoint: str,
    certs_dir: str,
    content_hash: pulumi.Input[str],
    mirrors: Sequence[tuple[str, str]] = (),
) -> dict[str, object]:
    """The DaemonSet that installs the ConfigMap `name` into `<certs_dir>/<endpoint>/` on every node,
    and each mirror's ConfigMap into its upstream's folder (`mirrors`: (upstream, ConfigMap) pairs).
    """
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "private-registry"}
    containers = [install_container("install", image, endpoint, "trust")]
    volumes: list[dict[str, object]] = [{"name": "trust", "configMap": {"name": name}}]
    for index, (upstream, config_map) in enumerate(mirrors):
        containers.append(install_container(f"install-mirror-{index}", image, upstream, f"mirror-{index}"))
        volumes.append({"name": f"mirror-{index}", "configMap": {"name": config_map}})
    volumes.append({"name": "certs-d", "hostPath": {"path": certs_dir, "type": "DirectoryOrCreate"}})
    return {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels, "annotations": {"private-registry/trust-sha256": content_hash}},
            "spec": {
                "tolerations": [{"operator": "Exists"}],  # every node, control plane and tainted ones too
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 5,
                "containers": containers,
                "volumes": volumes,
            },
        },
    }


@dataclass(frozen=True)
class NodeTrustArgs:
    """What nodes must trust and how it reaches them."""

    stack: str
    endpoint: str  # the registry's name in image references: the folder of hosts.toml
    pull_endpoint: str | None  # where nodes pull, when it is not `endpoint` (a read-only instance)
    ca_cert_pem: pulumi.Input[str]
    daemonset_image: str | None  # None: no DaemonSet (nodes are provisioned with the outputs)
    namespace: str
    certs_dir: str
    local_registry_hosting: bool
    provider: Provider | None
    mirrors: Mapping[str, str] = field(default_factory=dict)  # upstream -> its mirror's hosts.toml (DaemonSet)


class NodeTrust(pulumi.ComponentResource):
    """The node trust content (`hosts_toml`), and the DaemonSet and KEP-1755 ConfigMaps when asked."""

    hosts_toml: pulumi.Output[str]

    def __init__(self, name: str, args: NodeTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:NodeTrust", name, None, opts)
        hosts_toml = containerd_hosts_toml(args.endpoint, args.pull_endpoint)
        self.hosts_toml = pulumi.Output.from_input(hosts_toml)
        ca = pulumi.Output.from_input(args.ca_cert_pem)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        if args.daemonset_image is not None and args.provider is not None:
            object_ = object_name("registry-trust", args.stack)
            files = ConfigMap(
                f"{name}-files",
                metadata={"name": object_, "namespace": args.namespace},
                data={"hosts.toml": hosts_toml, "ca.crt": ca},
                opts=child,
            )
            image, endpoint, certs_dir = args.daemonset_image, args.endpoint, args.certs_dir
            installed: list[pulumi.Resource] = [files]
            mirrors = []
            for upstream, toml in sorted(args.mirrors.items()):
                config_map = f"{object_}-mirror-{registry_slug(upstream)}"[:63].rstrip("-")
                installed.append(
                    ConfigMap(
                        f"{name}-mirror-{registry_slug(upstream)}",
                        metadata={"name": config_map, "namespace": args.namespace},
                        data={"hosts.toml": toml, "ca.crt": ca},
                        opts=child,
                    )
                )
                mirrors.append((upstream, config_map))
            every_toml = "\0".join([hosts_toml, *(args.mirrors[u] for u, _ in mirrors)]) if mirrors else hosts_toml
            # Only the hash waits for the CA: a preview of a CA change then shows an update, not a replace.
            spec = daemonset_spec(object_, image, endpoint, certs_dir, ca.apply(lambda pem: trust_hash(every_toml, pem)), mirrors)
            DaemonSet(
                f"{name}-daemonset",
                metadata={"name": object_, "namespace": args.namespace},
                spec=spec,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=installed)),
            )
        if args.local_registry_hosting and args.provider is not None:
            ConfigMap(
                f"{name}-local-registry-hosting",
                metadata={"name": LOCAL_REGISTRY_HOSTING, "namespace": "kube-public"},
                data={"localRegistryHosting.v1": local_registry_hosting(args.endpoint)},
                opts=child,
            )
            ConfigMap(
                f"{name}-ca",
                metadata={"name": CA_CONFIG_MAP, "namespace": "kube-public"},
                data={"ca.crt": ca},
                opts=child,
            )
        self.register_outputs({"hostsToml": self.hosts_toml})
