"""Node trust: what a node needs so that its container runtime trusts the registry's CA.

A pull secret carries credentials, not trust: every node must also trust the CA, or each pull fails
with an x509 error. containerd reads `<config_path>/<endpoint>/hosts.toml` with the CA beside it as
`ca.crt`. Three ways, side by side (docs/targets.md "Using it from a cluster"):

1. the outputs `containerdHostsToml` and `caCertificate`, installed by node provisioning;
2. `nodeTrust.mode: daemonset`: a DaemonSet writes both onto every node from ConfigMaps and keeps
   them current (a CA change rolls it: the pod template carries the content's hash), for the
   registry's own folder and each mirror's upstream folder;
3. the KEP-1755 `local-registry-hosting` ConfigMap in `kube-public`, so that tools (Tilt, Skaffold,
   ctlptl) find the registry, with the CA in a ConfigMap beside it (the KEP carries no TLS data).

What the DaemonSet installs must also go away with it: a mirror's `hosts.toml` names the mirror as
the only host for its upstream, so a folder left behind after the mirror (or the stack) is gone
breaks every pull of that upstream on every node. Removal therefore follows ownership, recorded on
the node: each folder the installer creates carries a marker file (`.private-registry-trust`) whose
first line names this stack's owner id (`trust_owner`: project, stack and component, not the
namespace, so a namespace move keeps the folders) and whose other lines are the SHA-256 of each
file it wrote there. Removing a folder removes only the files whose content the marker lists
(`hosts.toml` first, so containerd never reads a `hosts.toml` whose CA is gone), the marker, then
the folder if nothing else is left in it. A folder of the same name that someone else made (an
administrator's own trust for that upstream) is moved aside to `.<name>.saved-<owner>` while ours is
installed and moved back when ours is removed; a folder of another stack's installer is left alone
(and not installed over: its log says so); an unmarked folder whose `hosts.toml` equals ours is the
work of the installer before markers (upgrades) and is taken over.

When removal happens:

- a mirror dropped (or the registry's folder renamed): the installer knows the folders the current
  config wants (`FOLDERS`, in the pod template, so the change rolls the pods) and on each loop
  removes this owner's folders that are not wanted. A rollout never removes anything the new
  config still wants, which is why removal cannot be done from a pod's shutdown (every rollout
  shuts pods down).
- the DaemonSet deleted (`nodeTrust.mode` back to `none`, or `pulumi destroy`): `NodeTrustCleanup`,
  a dynamic resource the DaemonSet depends on, so that Pulumi deletes it after the DaemonSet. Its
  delete waits until no installer pod of this stack mounts the folder any more, then runs the same
  script once on every node as a cleanup DaemonSet with nothing wanted (`MODE=remove`), waits until
  each node's pod reports done (readiness), and deletes the cleanup DaemonSet. It reaches the
  cluster through the Kubernetes API as the pull gate does (kube_api.py: the stack's context); a
  node where it cannot run fails the delete with the nodes named. A `certsDir` change replaces it:
  the old folder is cleaned after the DaemonSet has rolled to the new one. Render mode has no
  cluster to run it in: removal is the user's.

Hardening: the image by digest only (`daemonset_image_problem`), `certsDir` a `certs.d` folder
unless `nodeTrust.allowAnyCertsDir` (`certs_dir_problem`), only `certsDir` mounted from the host
(it must create and remove folders there) and only if it exists already, root (containerd's
folders are root's) without any capability (an owner needs none to write in its own folders),
no privilege escalation, a read-only root file system, the `RuntimeDefault` seccomp profile, no
service account token and CPU and memory limits.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from .kube_resources import ConfigMap, DaemonSet
from .names import app_labels, object_name, registry_slug

if TYPE_CHECKING:
    from pulumi_kubernetes import Provider

LOCAL_REGISTRY_HOSTING = "local-registry-hosting"  # KEP-1755: this name in kube-public
CA_CONFIG_MAP = "private-registry-ca"
TRUST_MOUNT, HOST_MOUNT, STATUS_MOUNT = "/trust", "/host-certs.d", "/status"
MARKER = ".private-registry-trust"
ALLOW_ANY_CERTS_DIR = "nodeTrust.allowAnyCertsDir"
_DIGEST_REF = re.compile(r"[a-z0-9][^@\s]*@sha256:[0-9a-f]{64}")

# One script for both jobs. MODE=install: every 30 s, each wanted folder (`FOLDERS`, the ConfigMap
# of the i-th mounted at /trust/i) gets the CA first, then hosts.toml, each by rename (containerd
# never reads a half-written file nor a hosts.toml whose CA is missing), the marker listing the new
# content before it is renamed into place; then this owner's folders not wanted are removed.
# MODE=remove: that removal with nothing wanted, once, then "done" for the readiness probe.
INSTALL_SCRIPT = f"""set -eu
trap 'exit 0' TERM INT
certs={HOST_MOUNT}
marker={MARKER}
said=
sum() {{ sha256sum "$1" | cut -d' ' -f1; }}
owner_of() {{ sed -n '1s/^owner //p' "$1/$marker" 2>/dev/null || true; }}
saved() {{ echo "$certs/.$1.saved-$OWNER"; }}
wanted() {{
  for w in $FOLDERS; do [ "$w" != "$1" ] || return 0; done
  return 1
}}
say_once() {{
  case " $said " in *" $1 "*) ;; *) said="$said $1"; echo "$2" >&2 ;; esac
}}
mark() {{
  dir=$1; shift
  {{ echo "owner $OWNER"; for line in "$@"; do [ -z "$line" ] || echo "$line"; done; }} > "$dir/.$marker.new"
  mv "$dir/.$marker.new" "$dir/$marker"
}}
claim() {{
  target=$certs/$1
  if [ ! -e "$target" ]; then return 0; fi
  owner=$(owner_of "$target")
  if [ "$owner" = "$OWNER" ]; then return 0; fi
  if [ -n "$owner" ]; then
    say_once "$1" "left $target alone: it belongs to another registry stack's node trust ($owner)"
    return 1
  fi
  if cmp -s "$2/hosts.toml" "$target/hosts.toml"; then
    ca=
    if [ -f "$target/ca.crt" ]; then ca="$(sum "$target/ca.crt") ca.crt"; fi
    mark "$target" "$(sum "$target/hosts.toml") hosts.toml" "$ca"
    echo "took over $target (installed before ownership markers)"
    return 0
  fi
  if [ -e "$(saved "$1")" ]; then
    say_once "$1" "left $target alone: $(saved "$1") is in the way"
    return 1
  fi
  mv "$target" "$(saved "$1")"
  echo "moved $target aside to $(saved "$1") until this stack's folder is removed"
}}
install() {{
  target=$certs/$1
  claim "$1" "$2" || return 0
  if [ ! -e "$target" ]; then
    rm -rf "$certs/.$1.new-$OWNER"
    mkdir "$certs/.$1.new-$OWNER"
    mark "$certs/.$1.new-$OWNER"
    mv "$certs/.$1.new-$OWNER" "$target"
  fi
  for f in ca.crt hosts.toml; do
    if ! cmp -s "$2/$f" "$target/$f"; then
      cp "$2/$f" "$target/.$f.new"
      mark "$target" "$(sed 1d "$target/$marker")" "$(sum "$target/.$f.new") $f"
      mv "$target/.$f.new" "$target/$f"
      echo "installed $target/$f"
    fi
  done
  exact="owner $OWNER
$(sum "$target/ca.crt") ca.crt
$(sum "$target/hosts.toml") hosts.toml"
  if [ "$(cat "$target/$marker")" != "$exact" ]; then
    mark "$target" "$(sum "$target/ca.crt") ca.crt" "$(sum "$target/hosts.toml") hosts.toml"
  fi
}}
remove() {{
  target=$certs/$1
  for f in hosts.toml ca.crt; do
    if [ -f "$target/$f" ] && grep -qx "$(sum "$target/$f") $f" "$target/$marker"; then rm -f "$target/$f"; fi
  done
  rm -f "$target/.hosts.toml.new" "$target/.ca.crt.new" "$target/.$marker.new" "$target/$marker"
  if rmdir "$target" 2>/dev/null; then
    echo "removed $target"
  else
    echo "kept $target: it holds files this stack did not write" >&2
  fi
}}
prune() {{
  # this owner's folders not wanted; then what it moved aside, once its folder is gone
  for dir in "$certs"/*; do
    if [ -d "$dir" ] && [ "$(owner_of "$dir")" = "$OWNER" ] && ! wanted "${{dir##*/}}"; then remove "${{dir##*/}}"; fi
  done
  for dir in "$certs"/.*.saved-"$OWNER"; do
    name=${{dir##*/.}}
    name=${{name%.saved-$OWNER}}
    if [ -d "$dir" ] && ! wanted "$name" && [ ! -e "$certs/$name" ]; then
      mv "$dir" "$certs/$name" && echo "restored $certs/$name"
    fi
  done
  for dir in "$certs"/.*.new-"$OWNER"; do
    if [ -d "$dir" ]; then rm -rf "$dir"; fi
  done
}}
if [ "$MODE" = remove ]; then
  FOLDERS=
  prune
  : > {STATUS_MOUNT}/done
  echo "removed what this stack installed in $certs"
  while true; do sleep 3600 & wait $!; done
fi
while true; do
  i=0
  for name in $FOLDERS; do
    install "$name" "{TRUST_MOUNT}/$i"
    i=$((i + 1))
  done
  prune
  sleep 30 & wait $!
done
"""


def daemonset_image_problem(image: str) -> str | None:
    """Why `image` cannot be the DaemonSet's, or None. It runs as root with a host folder on every
    node: a tag can be moved to other content, a digest cannot."""
    if _DIGEST_REF.fullmatch(image):
        return None
    return (
        "must name its image by digest (name@sha256:<64 hex digits>, e.g. busybox@sha256:...): the DaemonSet runs "
        "as root with containerd's certs.d writable on every node, and a tag can be moved to other content"
    )


def certs_dir_problem(certs_dir: str, allow_any: object) -> str | None:
    """Why `certs_dir` cannot be the folder the DaemonSet writes into, or None (after the absolute
    path check). It is mounted writable into root containers on every node."""
    if certs_dir.rstrip("/").rsplit("/", 1)[-1] == "certs.d" or allow_any is True:
        return None
    return (
        "must be containerd's registry config folder, whose last path element is certs.d (such as "
        "/etc/containerd/certs.d): the DaemonSet mounts it writable on every node, so a mistaken /etc or "
        f"/var/lib/kubelet would be exposed; set {ALLOW_ANY_CERTS_DIR} = true if containerd's config_path "
        "really is named otherwise"
    )


def trust_owner(project: str, stack: str, name: str) -> str:
    """This stack's owner id on the nodes: stable for the stack's life (not the namespace's), apart
    from every other stack's, and safe in a file name."""
    return hashlib.sha256(f"{project}\0{stack}\0{name}".encode()).hexdigest()[:20]


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


def node_script_container(image: str, env: Mapping[str, str], mounts: list[dict[str, object]]) -> dict[str, object]:
    """The container that runs INSTALL_SCRIPT: locked down to what writing in `certsDir` needs."""
    return {
        "name": "install",
        "image": image,
        "command": ["sh", "-c", INSTALL_SCRIPT],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "volumeMounts": [*mounts, {"name": "certs-d", "mountPath": HOST_MOUNT}],
        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}},
        # Root owns containerd's config folder, and an owner needs no capability in its own folders.
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def node_pod_spec(containers: list[dict[str, object]], volumes: list[dict[str, object]], certs_dir: str) -> dict[str, object]:
    """A pod on every node (control plane and tainted ones too) with `certs_dir`, which must exist."""
    return {
        "tolerations": [{"operator": "Exists"}],
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        "volumes": [*volumes, {"name": "certs-d", "hostPath": {"path": certs_dir, "type": "Directory"}}],
    }


def daemonset_spec(
    name: str,
    image: str,
    endpoint: str,
    certs_dir: str,
    content_hash: pulumi.Input[str],
    mirrors: Sequence[tuple[str, str]] = (),
    owner: str = "",
) -> dict[str, object]:
    """The DaemonSet that installs the ConfigMap `name` into `<certs_dir>/<endpoint>/` on every node,
    and each mirror's ConfigMap into its upstream's folder (`mirrors`: (upstream, ConfigMap) pairs).
    """
    folders = [(endpoint, name), *mirrors]
    volumes: list[dict[str, object]] = [{"name": f"trust-{i}", "configMap": {"name": cm}} for i, (_, cm) in enumerate(folders)]
    mounts: list[dict[str, object]] = [
        {"name": f"trust-{i}", "mountPath": f"{TRUST_MOUNT}/{i}", "readOnly": True} for i in range(len(folders))
    ]
    env = {"MODE": "install", "OWNER": owner, "FOLDERS": " ".join(folder for folder, _ in folders)}
    labels = app_labels(name)  # the pods' selector and template
    return {
        "selector": {"matchLabels": labels},
        # One node at a time, the old pod gone before the new one starts: never two configs on a node.
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "template": {
            "metadata": {"labels": labels, "annotations": {"private-registry/trust-sha256": content_hash}},
            "spec": node_pod_spec([node_script_container(image, env, mounts)], volumes, certs_dir),
        },
    }


def cleanup_daemonset(name: str, namespace: str, image: str, certs_dir: str, owner: str) -> dict[str, Any]:
    """The DaemonSet that removes what owner `owner` installed in `certs_dir` on every node, then is
    ready (the readiness probe reads the script's "done")."""
    container = node_script_container(image, {"MODE": "remove", "OWNER": owner, "FOLDERS": ""},
                                      [{"name": "status", "mountPath": STATUS_MOUNT}])  # fmt: skip
    container["readinessProbe"] = {"exec": {"command": ["sh", "-c", f"test -f {STATUS_MOUNT}/done"]}, "periodSeconds": 1}
    volumes: list[dict[str, object]] = [{"name": "status", "emptyDir": {"sizeLimit": "1Mi"}}]
    labels = app_labels(name)  # the pods' selector and template
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": node_pod_spec([container], volumes, certs_dir)},
        },
    }


def installers_left(pods: Mapping[str, Any], certs_dir: str) -> list[str]:
    """The pods of a `PodList` (`kubectl get pods -o json`) that mount `certs_dir` as their certs-d: an
    installer still there could write again after the cleanup."""
    left = []
    for pod in pods.get("items", []):
        for volume in pod.get("spec", {}).get("volumes", []):
            if volume.get("name") == "certs-d" and volume.get("hostPath", {}).get("path") == certs_dir:
                left.append(pod["metadata"]["name"])
    return sorted(left)


def cleanup_done(daemonset: Mapping[str, Any]) -> bool:
    """Whether the cleanup DaemonSet (`kubectl get daemonset -o json`) is ready on every node it
    should run on: its controller has seen it (before that, its counts are all 0) and each pod has
    reported done."""
    status, generation = daemonset.get("status", {}), daemonset.get("metadata", {}).get("generation", 1)
    if status.get("observedGeneration", 0) < generation:
        return False
    return int(status.get("numberReady", 0)) >= int(status.get("desiredNumberScheduled", 0))


def nodes_not_done(pods: Mapping[str, Any]) -> list[str]:
    """The nodes of the cleanup pods (`kubectl get pods -o json`) that are not ready yet."""
    late = set()
    for pod in pods.get("items", []):
        conditions = {c.get("type"): c.get("status") for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") != "True":
            late.add(pod.get("spec", {}).get("nodeName") or pod["metadata"]["name"])
    return sorted(late)


class CleanupError(RuntimeError):
    """The files could not be removed from every node."""


class Cluster(Protocol):
    """What the cleanup does on the cluster, in the cleanup's namespace."""

    def pods(self, selector: str) -> Mapping[str, Any]: ...
    def create_daemonset(self, manifest: Mapping[str, Any]) -> None: ...
    def daemonset(self, name: str) -> Mapping[str, Any] | None: ...
    def delete_daemonset(self, name: str) -> None: ...


@dataclass(frozen=True)
class ApiCluster:
    """The Kubernetes API as the stack's provider reaches the cluster (its context), in one namespace
    (components/kube_api.py); its errors become CleanupError."""

    namespace: str
    context: str | None

    @functools.cached_property
    def _api(self) -> Any:
        """One client for the whole cleanup: the kubeconfig is read (and a credential plugin run) once."""
        from .kube_api import KubeApi  # the client only when a cleanup runs

        return KubeApi(self.context)

    def _do(self, step: Callable[[Any], Any]) -> Any:
        from .kube_api import KubeApiError

        try:
            return step(self._api)
        except KubeApiError as err:
            raise CleanupError(f"removing the node trust's files from the nodes: {err}") from err

    def pods(self, selector: str) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self._do(lambda api: api.pods(self.namespace, selector)))

    def create_daemonset(self, manifest: Mapping[str, Any]) -> None:
        self._do(lambda api: api.create_daemonset(self.namespace, dict(manifest)))

    def daemonset(self, name: str) -> Mapping[str, Any] | None:
        return cast("Mapping[str, Any] | None", self._do(lambda api: api.daemonset(self.namespace, name)))

    def delete_daemonset(self, name: str) -> None:
        self._do(lambda api: api.delete_daemonset(self.namespace, name, wait_seconds=60))


def remove_from_nodes(
    props: Mapping[str, Any],
    cluster: Cluster,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """What `NodeTrustCleanup`'s delete does (see the module docstring); CleanupError when a node
    did not finish within `timeoutSeconds`."""
    timeout, certs_dir = float(props["timeoutSeconds"]), props["certsDir"]
    started = clock()
    while left := installers_left(cluster.pods(f"app.kubernetes.io/name={props['installer']}"), certs_dir):
        if clock() - started > timeout:
            raise CleanupError(f"installer pod(s) {', '.join(left)} still run after {timeout:.0f} s; nothing was removed")
        sleep(1.0)
    cluster.create_daemonset(cleanup_daemonset(props["name"], props["namespace"], props["image"], certs_dir, props["owner"]))
    try:
        while not cleanup_done(cluster.daemonset(props["name"]) or {}):
            if clock() - started > timeout:
                late = nodes_not_done(cluster.pods(f"app.kubernetes.io/name={props['name']}"))
                raise CleanupError(
                    f"the node trust's files were not removed from node(s) {', '.join(late) or '(none scheduled yet)'} "
                    f"within {timeout:.0f} s (cleanup DaemonSet {props['namespace']}/{props['name']}). On those nodes "
                    f"remove each folder of {certs_dir} whose {MARKER} starts with 'owner {props['owner']}', or bring "
                    "them back, then run the command again"
                )
            sleep(1.0)
    finally:
        # foreground: the DaemonSet goes only after its pods are gone, so nothing of the cleanup is
        # left running when the delete returns (background deletion left a terminating pod behind)
        cluster.delete_daemonset(props["name"])


class NodeTrustCleanupProvider(ResourceProvider):
    """Dynamic provider of `NodeTrustCleanup`: nothing on create and update, the cleanup on delete."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"node-trust-cleanup-{secrets.token_hex(8)}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("namespace", "name", "installer", "image", "certsDir", "owner", "context", "timeoutSeconds")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        # Another folder or owner: the old one is cleaned once the DaemonSet has moved on.
        replaces = [k for k in changed if k in ("certsDir", "owner")]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        remove_from_nodes(props, ApiCluster(props["namespace"], props.get("context")))


class NodeTrustCleanup(Resource, module="private-registry", name="NodeTrustCleanup"):
    """Removes what the node-trust DaemonSet installed, once it is gone (its delete)."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(NodeTrustCleanupProvider(), name, dict(props), opts)


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
    context: str | None = None  # the kubeconfig context the cleanup reaches the cluster by; None: render mode
    cleanup_seconds: int = 300


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
            self._daemonset(name, args, hosts_toml, ca, child)
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

    def _daemonset(
        self, name: str, args: NodeTrustArgs, hosts_toml: str, ca: pulumi.Output[str], child: pulumi.ResourceOptions
    ) -> None:
        """The ConfigMaps, the installer DaemonSet and (in cluster mode) its cleanup."""
        assert args.daemonset_image is not None
        object_ = object_name("registry-trust", args.stack)
        owner = trust_owner(pulumi.get_project(), pulumi.get_stack(), name)
        files = ConfigMap(
            f"{name}-files",
            metadata={"name": object_, "namespace": args.namespace},
            data={"hosts.toml": hosts_toml, "ca.crt": ca},
            opts=child,
        )
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
        if args.context is not None:
            # Deleted after the DaemonSet (which depends on it): its delete removes the files.
            props = {
                "namespace": args.namespace,
                "name": f"{object_[:55].rstrip('-')}-cleanup",
                "installer": object_,
                "image": args.daemonset_image,
                "certsDir": args.certs_dir,
                "owner": owner,
                "context": args.context,
                "timeoutSeconds": args.cleanup_seconds,
            }
            installed.append(NodeTrustCleanup(f"{name}-cleanup", props, pulumi.ResourceOptions(parent=self)))
        every_toml = "\0".join([hosts_toml, *(args.mirrors[u] for u, _ in mirrors)]) if mirrors else hosts_toml
        # Only the hash waits for the CA: a preview of a CA change then shows an update, not a replace.
        content_hash = ca.apply(lambda pem: trust_hash(every_toml, pem))
        spec = daemonset_spec(object_, args.daemonset_image, args.endpoint, args.certs_dir, content_hash, mirrors, owner)
        DaemonSet(
            f"{name}-daemonset",
            metadata={"name": object_, "namespace": args.namespace},
            spec=spec,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=installed)),
        )
