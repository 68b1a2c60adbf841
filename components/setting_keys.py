"""The one table of settings: name, kind, default, bounds and meaning of every `private-registry:*` key.

Everything else is derived from it: the config reader (which keys are plain strings), the
known-key check and the defaults in `settings.py`, the typed `config:` block of `Pulumi.yaml` and
the full settings table of docs/settings.md and the README's one line per setting
(`python -m components.setting_keys --write` regenerates all three; a unit test fails when they
drift). Adding a setting is one entry here plus its use.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

PROJECT = "private-registry"
Kind = Literal["string", "integer", "boolean", "list", "object"]


@dataclass(frozen=True)
class Key:
    """One setting. `default` None means computed from other settings (`shown_default` says how)."""

    name: str
    kind: Kind
    default: Any
    meaning: str
    low: int | None = None
    high: int | None = None
    shown_default: str | None = None
    only: Literal["docker", "kubernetes"] | None = None  # used by that target only; refused with the other
    each: Literal["list", "map"] | None = None  # its FIELDS are per entry: of a list, or of a map by name
    summary: str = ""  # a short phrase: the README's one line

    @property
    def secret_bearing(self) -> bool:
        """Whether some of its values are secrets (a field marked `secret`): see `secret_values`."""
        return any(f.secret for f in FIELDS.get(self.name, ()))

    @property
    def typed(self) -> bool:
        """Declared with its type and default in Pulumi.yaml (which cannot type objects, nor
        declare a computed default: a declared key without a default is required).
        """
        return self.kind != "object" and self.default is not None

    @property
    def bounds(self) -> str:
        return f"{self.low}..{self.high}" if self.low is not None else ""


SHARED_DEFAULT = "`1`; `2` with storage every Pod shares (driver `s3`, or accessMode `ReadWriteMany`)"

KEYS: tuple[Key, ...] = (
    Key("users", "object", [{"name": "admin"}],
        "htpasswd users `[{name, password?, access?}]`; `password` from a config secret (`pulumi config set --secret "
        "--path 'users[0].password' ...`), else generated once and kept in state as a secret. Names: no `:` or white "
        "space, not ending in `~rotated` (a rotating pull user's second name); passwords at most 72 bytes "
        "(bcrypt ignores the rest). `access`: `push` (push, pull and, with "
        "`deleteEnabled`, delete) or `pull` (pull only: accepted by the read-only instance of `pullPort` alone)",
        each="list", summary="htpasswd users, their passwords (config secrets or generated) and access (push or pull)"),
    Key("bcryptCost", "integer", 10, "bcrypt cost of the hashes of configured passwords; warns below 10. The registry "
        "checks the hash on every request (about 75 ms each at 10 here). Generated passwords (192 random bits) are "
        "hashed at cost 4: no cost makes them easier or harder to guess", 4, 31,
        summary="bcrypt cost of configured passwords' hashes"),
    Key("hostnames", "list", ["localhost"], "DNS SANs of the server certificate (`*.example.com` allowed)",
        summary="DNS names of the server certificate"),
    Key("ipAddresses", "list", ["127.0.0.1"], "IP SANs of the server certificate",
        summary="IP addresses of the server certificate"),
    Key("subject", "object", {}, "`{commonName, organization, organizationalUnit, locality, province, country}`; "
        "the CA gets CN `private-registry <stack> CA`", summary="subject fields of the server certificate"),
    Key("keyAlgorithm", "string", "RSA", "`RSA` (with `rsaBits`) or `ECDSA` (with `ecdsaCurve`)",
        summary="key type of the CA and server certificate: RSA or ECDSA"),
    Key("rsaBits", "integer", 4096, "RSA key size", 2048, 16384, summary="RSA key size"),
    Key("ecdsaCurve", "string", "P256", "ECDSA curve, `P256` or `P384` (Go TLS clients refuse P224)",
        summary="ECDSA curve: P256 or P384"),
    Key("validityDays", "integer", 365, "server certificate lifetime in days", 1, 3650, summary="server certificate lifetime"),
    Key("caValidityDays", "integer", 3650, "CA certificate lifetime in days (at least `validityDays`)", 1, 36500,
        summary="CA certificate lifetime"),
    Key("earlyRenewalDays", "integer", 30, "a plain `pulumi up` this many days before expiry issues a new server "
        "certificate (shorter than `validityDays`)", 0, 3650,
        summary="days before expiry when `up` issues a new server certificate"),
    Key("certificate", "object", {}, "your own TLS certificate instead of the stack's CA: `{cert, key, ca}`, PEM text "
        "each, as config secrets; checked before anything is created (key matches, valid now, covers `endpoint`, "
        "serverAuth, chains to `ca`); then `caCertificate` is `ca`, and the generated-certificate settings are refused "
        "(README \"Your own certificate\"); or `{secretName}`, a `kubernetes.io/tls` Secret of the registry's namespace "
        "that cert-manager keeps, read by every `up` and mounted by the Pods, which roll when it changes "
        "(docs/certificates.md)", summary="your own certificate, key and CA instead of the stack's CA"),
    Key("image", "string", "registry:3.1.2", "registry image; pin an exact release (a floating tag is never pulled "
        "again once present)", summary="the registry image (pin an exact release)"),
    Key("pullImage", "boolean", True, "`false`: use an image already on the Docker host, by name",
        summary="`false`: use an image already on the Docker host"),
    Key("port", "integer", None, "the port clients connect to: the Docker host's port (target `docker`), the NodePort "
        "(target `kubernetes`, 30000..32767, the API server's default range) or the LoadBalancer's port", 1, 65535,
        shown_default="`5000`; `30500` with target `kubernetes` and serviceType `NodePort`",
        summary="the port clients connect to"),
    Key("pullPort", "integer", None, "a read-only instance beside the registry on the same storage (target `docker`: "
        "a second container on this host port, the volume mounted read-only; target `kubernetes`: a second Deployment "
        "`registry-pull` with `pullReplicas` Pods behind its own NodePort, serviceType `NodePort` only): users with "
        "`access: pull` are accepted there only, push users on both; the pull secrets hold a pull user and the nodes' "
        "hosts.toml sends pulls of `<endpoint>/...` there (output `pullEndpoint`)", 1, 65535,
        shown_default="none: one read-write instance", summary="a read-only instance for cluster pulls, on its own port"),
    Key("containerName", "string", None, "Docker container name (target `docker`)", shown_default="`registry-<stack>`",
        only="docker", summary="Docker container name (target `docker`)"),
    Key("container", "object", {}, "limits of every registry container (target `docker`): `{memoryMiB, cpus, "
        "logMaxSize, logMaxFiles}`: a memory limit, a CPU limit (`cpus`, Docker's `--cpus`, in tenths; `0`: none), and json-file "
        "logs rotated at `logMaxSize`, `logMaxFiles` kept. Every container "
        "also runs as user 1000 with a read-only root file system, all capabilities dropped and "
        "`no-new-privileges`, its files in a config volume (the key and htpasswd mode 0400)", only="docker",
        summary="memory and CPU limits and log rotation of the containers (target `docker`)"),
    Key("dataVolume", "string", None, "Docker volume with the image data (target `docker`). Renaming it switches "
        "the registry to a new, empty volume (the old one is kept)", shown_default="`registry-data-<stack>`", only="docker",
        summary="Docker volume of the image data (target `docker`)"),
    Key("retainData", "boolean", True, "keep the image data on `pulumi destroy`: the data volume (target `docker`) or "
        "the PersistentVolumeClaim (target `kubernetes`, driver `filesystem`). With driver `s3` the bucket's data is "
        "always kept: `false` is refused there", summary="keep the image data on `pulumi destroy`"),
    Key("deleteEnabled", "boolean", False, "allow deleting manifests and blobs through the API (needed before "
        "`scripts/gc.sh` can free space). Set explicitly either way (the official image's own config turns it on). "
        "With htpasswd auth every user, the pull user too, gains the right to delete",
        summary="allow deleting manifests and blobs through the API"),
    Key("healthTimeoutSeconds", "integer", 60, "how long `pulumi up` waits for the registry's health check "
        "(`/debug/health` on the registry's debug listener, container loopback only) before it fails: the container's "
        "(target `docker`) or every replica's readiness during a rollout (target `kubernetes`)", 5, 3600,
        summary="how long `up` waits for the registry to be healthy"),
    Key("target", "string", "docker", "where the registry runs: `docker` (one container on the Docker host) or "
        "`kubernetes` (a Deployment in the cluster of the `kubernetes` setting; README \"When to use which target\"). "
        "Fixed per stack: a change is refused before anything is touched",
        summary="where the registry runs: `docker` or `kubernetes`"),
    Key("replicas", "integer", None, "registry Pods (target `kubernetes`); more than one needs storage every replica "
        "shares (driver `s3`, or `filesystem` with accessMode `ReadWriteMany`)", 1, 50,
        shown_default=SHARED_DEFAULT, only="kubernetes", summary="registry Pods (target `kubernetes`)"),
    Key("pullReplicas", "integer", None, "Pods of the read-only Deployment (target `kubernetes` with `pullPort`, which "
        "needs shared storage); the writer's `replicas` may be fewer", 1, 50, shown_default=SHARED_DEFAULT,
        only="kubernetes", summary="Pods of the read-only instance (target `kubernetes`)"),
    Key("namespace", "string", None, "the registry's own namespace (target `kubernetes`), created by the stack",
        shown_default="`registry-<stack>`", only="kubernetes", summary="the registry's namespace (target `kubernetes`)"),
    Key("serviceType", "string", "NodePort", "how nodes and clients reach the registry (target `kubernetes`): "
        "`NodePort` (`port` on every node's address) or `LoadBalancer` (the cluster's load balancer; put its address "
        "in the SANs)", only="kubernetes", summary="`NodePort` or `LoadBalancer` (target `kubernetes`)"),
    Key("service", "object", {}, "the Services clients reach (target `kubernetes`: the registry's, the read-only "
        "one's, the mirrors'), as the community chart's `service.*`: `{annotations, loadBalancerSourceRanges, "
        "loadBalancerClass, externalTrafficPolicy, public}`. A `LoadBalancer` needs `loadBalancerSourceRanges` or an "
        "internal-load-balancer annotation, or `public: true` (docs/kubernetes.md)", only="kubernetes",
        summary="annotations, source ranges, class and traffic policy of the Services; `public`"),
    Key("storage", "object", {}, "image data of target `kubernetes`: `{driver: filesystem, size, storageClass, "
        "accessMode}` (a PersistentVolumeClaim; default 10Gi, the cluster's default class, ReadWriteOnce) or `{driver: "
        "s3, bucket, region, endpoint, rootDirectory, accessKey, secretKey, insecure}` (S3 or S3-compatible; an `http://` "
        "endpoint only with `insecure: true`; set the keys as secrets with `pulumi config set --secret --path "
        "storage.secretKey`, or leave both out for the node's own credentials)", only="kubernetes",
        summary="image data of target `kubernetes`: a claim or an S3 bucket"),
    Key("pods", "object", {}, "placement and identity of the registry's Pods (target `kubernetes`, both Deployments): "
        "`{resources, nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName, annotations, "
        "labels, serviceAccount: {create, name, annotations}, imagePullSecrets, env}`, as in a Pod spec; `affinity` "
        "replaces the default spreading over nodes; `env` values reach the Pods through the Secret `registry-env` "
        "(README \"Placement and identity\")", only="kubernetes",
        summary="placement, resources, identity and environment of the Pods"),
    Key("endpoint", "string", None, "`host:port` clients and nodes use; its host must be covered by the SANs",
        shown_default="first hostname and `port`", summary="`host:port` that clients and nodes use"),
    Key("pullSecret", "object", {}, "`{name, namespaces, user, patchDefaultServiceAccount, allowPushUser}`: one "
        "Secret per namespace (with a cluster named by `kubernetes`); optionally added to each namespace's `default` "
        "ServiceAccount. Without `pullPort` every user can push: a namespace the stack does not hold yet (every one "
        "of a new stack) is refused unless `allowPushUser: true`; namespaces a running stack holds keep working, "
        "with a warning (docs/upgrading.md)", summary="name, namespaces and user of the image pull secrets"),
    Key("kubernetes", "object", {}, "`{mode, context, renderDirectory}`: which cluster the stack writes into. "
        "`none` (the default without `context`): none at all, so no pull secrets, node trust or KEP-1755 ConfigMap; "
        "`cluster` (the default with `context`): apply to the kubeconfig context `context`, required (the current "
        "context is never taken by default); `render`: write manifests to `renderDirectory` (default "
        "`rendered/<stack>`, created owner-only; the Secrets in it are plaintext). Fixed per stack: switching "
        "replaces every Kubernetes resource",
        summary="which cluster the stack writes into (a kubeconfig context), or render to files"),
    Key("nodeTrust", "object", {}, "`{mode, image, namespace, certsDir, allowAnyCertsDir}`: how nodes trust the CA. `none`: node "
        "provisioning installs the outputs `containerdHostsToml` and `caCertificate`; `daemonset`: a DaemonSet in "
        "`namespace` (default `kube-system`, must exist) writes both into `certsDir` (default "
        "`/etc/containerd/certs.d`, containerd's `config_path`) on every node and keeps them current; `image` (required "
        "then) must have a POSIX shell, be pullable by the nodes already (not from this registry) and be named by "
        "digest; what the DaemonSet installed is removed with it (or with a mirror)",
        summary="how nodes trust the CA: their own provisioning or a DaemonSet"),
    Key("localRegistryHosting", "boolean", False, "the KEP-1755 `local-registry-hosting` ConfigMap in `kube-public` "
        "(read by Tilt, Skaffold, ctlptl) and the CA beside it in ConfigMap `private-registry-ca`; their names are "
        "fixed, so one stack per cluster may own them: off unless set",
        summary="the KEP-1755 `local-registry-hosting` ConfigMap"),
    Key("metrics", "object", {}, "`{enabled, serviceMonitor, allowFrom}`: Prometheus metrics on each instance's debug "
        "listener (port 5001, path `/metrics`), never on a published or Service port: target `docker`, scraped from the "
        "Docker network; target `kubernetes`, a `metrics` port on the Pods with the `prometheus.io/*` annotations, with "
        "`serviceMonitor` a ClusterIP Service `registry-metrics` and a ServiceMonitor (needs the Prometheus Operator's "
        "CRDs), and a NetworkPolicy `registry-metrics` that admits port 5001 (which also serves pprof and expvar) only "
        "from `allowFrom`: namespace names or NetworkPolicy peers (`{namespaceSelector, podSelector}`, `{ipBlock}`) "
        "(docs/operations.md \"Metrics\")",
        summary="Prometheus metrics, a ServiceMonitor, and who may reach the debug port (`allowFrom`)"),
    Key("images", "object", [], "images the registry must hold, copied by `up` with their digests (every platform of "
        "a multi-arch index): `[{source, name?, bundle?}]`; a tag that moves at the source is a change in the preview; "
        "a removed entry leaves the image in the registry (README \"Declared images\"). The machine running `up` must "
        "reach the sources and `endpoint`", each="list", summary="images `up` copies into the registry"),
    Key("mirrors", "object", {}, "a pull-through cache per upstream registry: upstream as images name it "
        "(`docker.io`, `quay.io`, `host:port`) -> `{port, remoteUrl, username, password, ca, ttl, size, storageClass, "
        "insecure}` (an `http://` remoteUrl only with `insecure: true`); "
        "a Distribution instance in proxy mode on storage of its own at `port` of the endpoint's host (target `docker`: "
        "a container and volume; target `kubernetes`: a Deployment, a claim of `size` and `storageClass`, the NodePort "
        "`port`); nodes get "
        "`mirrorHostsToml` for the upstream's name and the pull secrets the mirrors' own credential for it (docs/images.md "
        "\"Mirrors\")",
        each="map", summary="a pull-through cache per upstream registry"),
    Key("sourceRegistries", "object", {}, "per source registry of `images` (`host[:port]`, `docker.io` for Docker "
        "Hub): `{username, password, ca}`, credentials as config secrets and the CA its certificate chains to (PEM; "
        "default the system's). With target `kubernetes`, the registry of `image` too: its credentials go into a pull "
        "secret `registry-image-pull` of the stack's namespace (README \"A cluster that can pull nothing\")",
        each="map", summary="credentials and CA per source registry of `images`"),
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One key of an object setting (`pullSecret.name`). `default` None: computed, required or left
    out, and `shown_default` says which.
    """

    name: str
    default: Any
    shown_default: str | None = None
    secret: bool = False  # holds a secret (a password, a private key, every value of a map): never printed

    @property
    def shown(self) -> str:
        return self.shown_default or f"`{_yaml_scalar(self.default)}`"


# The keys of each object setting with their defaults: what settings.py applies and the README shows.
FIELDS: dict[str, tuple[Field, ...]] = {
    "users": (
        Field("name", None, "required"),
        Field("password", None, "generated once, kept in state as a secret", secret=True),
        Field("access", "push"),
    ),
    "subject": (
        Field("commonName", None, "the first hostname"),
        *(Field(name, "", "none") for name in ("organization", "organizationalUnit", "locality", "province", "country")),
    ),
    "certificate": (
        Field("cert", None, "required: the server certificate, then its intermediates"),
        Field("key", None, "required: its unencrypted private key", secret=True),
        Field("ca", None, "required: the CA certificate(s) nodes trust"),
        Field(
            "secretName",
            None,
            "instead of `cert`, `key` and `ca` (target `kubernetes`): an existing "
            "`kubernetes.io/tls` Secret of the registry's namespace, as cert-manager writes it",
        ),
    ),
    "storage": (
        Field("driver", "filesystem"),
        Field("size", "10Gi"),
        Field("storageClass", None, "the cluster's default class"),
        Field("accessMode", "ReadWriteOnce"),
        Field("bucket", None, "required with driver `s3`"),
        Field("region", "us-east-1"),
        Field("endpoint", None, "AWS S3 itself"),
        Field("rootDirectory", None, "`/registry-<stack>`"),
        Field("accessKey", None, "the node's own credentials", secret=True),
        Field("secretKey", None, "the node's own credentials", secret=True),
        Field("insecure", None, "false (an `http://` endpoint is refused)"),
    ),
    "pullSecret": (
        Field("name", "registry-pull-secret"),
        Field("namespaces", None, "`[default]` with a cluster, else `[]`"),
        Field("user", None, "the first user"),
        Field("patchDefaultServiceAccount", False),
        Field("allowPushUser", False),
    ),
    "kubernetes": (
        Field("mode", None, "`cluster` with `context`, else `none`"),
        Field("context", None, "none (required with mode `cluster`)"),
        Field("renderDirectory", None, "`rendered/<stack>`"),
    ),
    "pods": (
        Field("resources", None, "requests 50m CPU / 64Mi memory, limits 1 CPU / 512Mi memory"),
        Field("nodeSelector", None, "none"),
        Field("tolerations", None, "none"),
        Field("affinity", None, "replicas spread over nodes where there are several (preferred)"),
        Field("topologySpreadConstraints", None, "none"),
        Field("priorityClassName", None, "none"),
        Field("annotations", None, "none"),
        Field("labels", None, "none"),
        Field("serviceAccount", None, "the namespace's `default` (no token mounted)"),
        Field("imagePullSecrets", None, "none"),
        Field("env", None, "none", secret=True),
    ),
    "service": (
        Field("annotations", None, "none"),
        Field("loadBalancerSourceRanges", None, "none (every address)"),
        Field("loadBalancerClass", None, "the cluster's default load balancer"),
        Field("externalTrafficPolicy", None, "Kubernetes' own (`Cluster`)"),
        Field("public", False),
    ),
    "container": (
        Field("memoryMiB", 512),
        Field("cpus", 1),
        Field("logMaxSize", "10m"),
        Field("logMaxFiles", 3),
    ),
    "metrics": (
        Field("enabled", False),
        Field("serviceMonitor", False),
        Field(
            "allowFrom",
            None,
            "the registry's namespace and Prometheus servers (Pods labelled "
            "`app.kubernetes.io/name: prometheus`) of any namespace",
        ),
    ),
    "images": (
        Field("source", None, "required (or `dockerImage`): an image reference (`host/repo:tag`, `...@sha256:...`)"),
        Field("dockerImage", None, "instead of `source`: an image the Docker host holds (`docker:host`), copied as it is"),
        Field("name", None, "the source's (or the Docker image's) repository and tag"),
        Field("bundle", None, "none: read from the source registry"),
    ),
    "mirrors": (
        Field("port", None, "required: the mirror's port"),
        Field("remoteUrl", None, "`https://<upstream>` (`https://registry-1.docker.io` for docker.io)"),
        Field("username", None, "none (anonymous)"),
        Field("password", None, "none", secret=True),
        Field("ca", None, "the system's CAs"),
        Field("ttl", "168h"),
        Field("size", "10Gi"),
        Field("storageClass", None, "`storage.storageClass`, else the cluster's default"),
        Field("insecure", None, "false (an `http://` remoteUrl is refused)"),
    ),
    "sourceRegistries": (
        Field("username", None, "none (anonymous)"),
        Field("password", None, "none", secret=True),
        Field("ca", None, "the system's CAs"),
    ),
    "nodeTrust": (
        Field("mode", "none"),
        Field("image", None, "none (required with mode `daemonset`)"),
        Field("namespace", "kube-system"),
        Field("certsDir", "/etc/containerd/certs.d"),
        Field("allowAnyCertsDir", None, "false (`certsDir` must end in `certs.d`)"),
    ),
}


def field_names(setting: str) -> tuple[str, ...]:
    """The keys an object setting takes."""
    return tuple(f.name for f in FIELDS[setting])


def field_default(path: str) -> Any:
    """The default of an object setting's key, by its path (`nodeTrust.namespace`)."""
    setting, _, name = path.partition(".")
    return next(f.default for f in FIELDS[setting] if f.name == name)


BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
STRING_KEYS: tuple[str, ...] = tuple(k.name for k in KEYS if k.kind == "string")


def default(name: str) -> Any:
    """The default of a setting (a fresh copy for lists and objects)."""
    return json.loads(json.dumps(BY_NAME[name].default))


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    return str(value)


def pulumi_yaml_config() -> str:
    """The `config:` block of Pulumi.yaml: every typed setting with its type, default and meaning."""
    lines = [
        "# Generated from components/setting_keys.py (python -m components.setting_keys --write).",
        "# Object settings (users, subject, pullSecret, kubernetes) cannot be typed here, nor settings",
        "# whose default is computed per stack; they are validated by components/settings.py.",
        "config:",
    ]
    types = {"string": "string", "integer": "integer", "boolean": "boolean", "list": "array"}
    for key in KEYS:
        if not key.typed:
            continue
        lines.append(f"  {PROJECT}:{key.name}:")
        lines.append(f"    type: {types[key.kind]}")
        if key.kind == "list":
            lines += ["    items:", "      type: string"]
        lines.append(f"    default: {_yaml_scalar(key.default)}")
        description = re.sub(r"`", "", key.meaning.split(". ")[0]).replace('"', "'")
        if key.bounds:
            description += f"; {key.bounds}"
        lines.append(f'    description: "{description}"')
    return "\n".join(lines) + "\n"


def _shown_default(key: Key) -> str:
    """A setting's default as the docs show it: computed ones say how."""
    return key.shown_default or f"`{_yaml_scalar(key.default) if key.kind != 'object' else json.dumps(key.default)}`"


ENTRY = {"users": "per user", "images": "per image", "mirrors": "per registry", "sourceRegistries": "per registry"}


def markdown_table() -> str:
    """docs/settings.md's table: every setting with its bounds, meaning and each key's default."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in KEYS:
        shown = _shown_default(key)
        if key.kind == "object":
            fields = "; ".join(f"`{f.name}`: {f.shown}" for f in FIELDS[key.name])
            shown = f"{shown}; {ENTRY[key.name]} {fields}" if key.each else fields
        meaning = f"{key.bounds}; {key.meaning}" if key.bounds else key.meaning
        rows.append(f"| `{key.name}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


SETTINGS_DOC_HEAD = (
    "# Settings\n\n"
    "<!-- Generated from components/setting_keys.py by `python -m components.setting_keys --write`: edit the table "
    "there, not this file (tests/test_setting_keys.py fails when they drift). -->\n\n"
    "Every `private-registry:*` setting of a stack (`pulumi config set private-registry:<key> <value>`, objects with "
    "`--path`, secrets with `--secret`), and every key of `RegistrySettings` for a program that imports the component "
    "(docs/component.md). Object settings list each of their keys with its default.\n\n"
)


def settings_doc() -> str:
    """docs/settings.md: the full table, generated."""
    return SETTINGS_DOC_HEAD + markdown_table()


SUMMARY_LIMIT = 200  # characters of a generated README line


def summary_lines() -> str:
    """The README's settings: one line per setting (key, default, a short phrase), details in docs/settings.md."""
    lines = ["Each in full, with every key of the object settings: [docs/settings.md](docs/settings.md).", ""]
    for key in KEYS:
        default_shown = "none" if key.kind == "object" and not key.default else _shown_default(key)
        lines.append(f"- `{key.name}` ({default_shown}): {key.summary}")
    too_long = [line for line in lines if len(line) > SUMMARY_LIMIT]
    assert not too_long, f"README lines over {SUMMARY_LIMIT} characters: {too_long}"
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- settings table: generated from components/setting_keys.py -->\n"
README_END = "<!-- end of settings table -->\n"


def with_generated_parts(pulumi_yaml: str, readme: str) -> tuple[str, str]:
    """Pulumi.yaml and README.md texts with their generated parts replaced by the table's."""
    head = pulumi_yaml.split("# Generated from components/setting_keys.py", 1)[0]
    start, end = readme.index(README_BEGIN) + len(README_BEGIN), readme.index(README_END)
    return head + pulumi_yaml_config(), readme[:start] + summary_lines() + readme[end:]


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    pulumi_yaml, readme, doc = root / "Pulumi.yaml", root / "README.md", root / "docs" / "settings.md"
    new_yaml, new_readme = with_generated_parts(pulumi_yaml.read_text(), readme.read_text())
    wanted = ((pulumi_yaml, new_yaml), (readme, new_readme), (doc, settings_doc()))
    if argv[1:] == ["--write"]:
        for path, text in wanted:
            path.write_text(text)
        return 0
    stale = [p.name for p, new in wanted if not p.exists() or p.read_text() != new]
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m components.setting_keys --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
