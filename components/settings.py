"""Stack settings: read raw config values and validate them into one typed, immutable object.

Everything here is pure: `load_settings` takes plain values (as `pulumi.Config.get_object` returns
them) and returns `Settings` or raises `SettingsError` listing every problem at once, so the program
stops before it declares a single resource.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .images import DeclaredImage, SourceRegistry, parse_images, parse_source_registries
from .mirrors import MIRROR_USER, Mirror, parse_mirrors, plain_http_allowed
from .names import (
    ROTATED_SUFFIX,
    dns_label_ok,
    dns_name_ok,
    dns_subdomain_ok,
    docker_name_ok,
    image_ref_ok,
    image_registry,
    is_ip,
    join_endpoint,
    object_name,
    san_covers,
    split_endpoint,
)
from .network_policy import DEFAULT_PEERS, parse_allow_from
from .own_certificate import (
    CertificateSecret,
    OwnCertificate,
    certificate_given,
    parse_certificate,
    secret_form_problem,
)
from .pods import PodSettings, parse_pods
from .service import PUBLIC_REFUSED, ServiceSettings, parse_service, unsaid_public
from .setting_keys import BY_NAME, FIELDS, KEYS, NAMES, PROJECT, default, field_default, field_names

MAX_BCRYPT_PASSWORD_BYTES = 72
ECDSA_CURVES = ("P256", "P384")
KEY_ALGORITHMS = ("RSA", "ECDSA")
KUBERNETES_MODES = ("none", "cluster", "render")
NODE_TRUST_MODES = ("none", "daemonset")
TARGETS = ("docker", "kubernetes")
SERVICE_TYPES = ("NodePort", "LoadBalancer")
STORAGE_DRIVERS = ("filesystem", "s3")
ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod")
MIN_MASKED = 4  # a secret this long or longer is masked where a message quotes it; shorter ones by value only
NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range
DEFAULT_PORT, DEFAULT_NODE_PORT = 5000, 30500
FILESYSTEM_ONLY = ("size", "storageClass", "accessMode")
STORAGE_KEYS = {  # which keys of `storage` each driver takes (all of them are in the settings table)
    "filesystem": ("driver", *FILESYSTEM_ONLY),
    "s3": tuple(k for k in field_names("storage") if k not in FILESYSTEM_ONLY),
}
USER_KEYS = field_names("users")
PULL_SECRET_KEYS = field_names("pullSecret")
KUBERNETES_KEYS = field_names("kubernetes")
NODE_TRUST_KEYS = field_names("nodeTrust")
CONTAINERD_CERTS_DIR = field_default("nodeTrust.certsDir")  # containerd's usual registry `config_path`
SUBJECT_FIELDS = {
    "commonName": "common_name",
    "organization": "organization",
    "organizationalUnit": "organizational_unit",
    "locality": "locality",
    "province": "province",
    "country": "country",
}


@dataclass(frozen=True)
class User:
    """An htpasswd user; `password` is None when it is to be generated once and kept in state."""

    name: str
    password: str | None = field(default=None, repr=False)
    access: Literal["push", "pull"] = "push"


ACCESS_LEVELS = ("push", "pull")


@dataclass(frozen=True)
class Subject:
    """X.509 subject fields; empty strings are left out of the certificate."""

    common_name: str
    organization: str = ""
    organizational_unit: str = ""
    locality: str = ""
    province: str = ""
    country: str = ""


@dataclass(frozen=True)
class PullSecretSettings:
    """Where the Kubernetes image pull secrets go and whose credentials they carry."""

    name: str
    namespaces: tuple[str, ...]
    user: str
    patch_default_service_account: bool
    allow_push_user: bool = False  # `allowPushUser`: the stack says its pull secrets may carry a push user
    # Namespaces whose pull secret carries a push user the stack has not allowed: the target guard
    # refuses them where the stack did not hold them already (target_guard.py).
    push_user_namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class KubernetesSettings:
    """Whether and how the Kubernetes side is applied: not at all (no cluster named), to a named
    kubeconfig context, or rendered to a folder. `configured`: the stack sets `kubernetes` at all.
    `provider`: the name of the kubernetes.Provider a program handed the component (the package's
    `opts`; mode `cluster` without a context): that provider is the cluster.
    """

    mode: Literal["none", "cluster", "render"]
    context: str | None
    render_directory: str | None
    configured: bool = True
    provider: str | None = None


@dataclass(frozen=True)
class NodeTrustSettings:
    """How nodes come to trust the CA: by their own provisioning (`none`) or a DaemonSet."""

    mode: Literal["none", "daemonset"]
    image: str | None
    namespace: str
    certs_dir: str


@dataclass(frozen=True)
class MetricsSettings:
    """`metrics`: Prometheus metrics on the debug listener, and a ServiceMonitor for them."""

    enabled: bool = False
    service_monitor: bool = False
    # NetworkPolicy peers admitted to the metrics port (target kubernetes; network_policy.py)
    allow_from: tuple[dict[str, Any], ...] = DEFAULT_PEERS


@dataclass(frozen=True)
class StorageSettings:
    """Where target `kubernetes` keeps the image data: a PersistentVolumeClaim or an S3 bucket."""

    driver: Literal["filesystem", "s3"]
    size: str = field_default("storage.size")
    storage_class: str | None = None
    access_mode: str = field_default("storage.accessMode")
    bucket: str = ""
    region: str = field_default("storage.region")
    endpoint: str | None = None  # None: AWS S3 itself
    root_directory: str = ""
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)

    @property
    def secure(self) -> bool:
        """TLS to the S3 endpoint (always for AWS)."""
        return not (self.endpoint or "").startswith("http://")


@dataclass(frozen=True)
class ContainerLimits:
    """`container` (target docker): every registry container's memory and CPU limits and log rotation."""

    memory_mib: int = field_default("container.memoryMiB")
    cpus: float = field_default("container.cpus")  # 0: no CPU limit
    log_max_size: str = field_default("container.logMaxSize")
    log_max_files: int = field_default("container.logMaxFiles")


@dataclass(frozen=True)
class DockerTarget:
    """Target `docker`: one container on the Docker host, the image data in a named volume."""

    container_name: str
    data_volume: str
    limits: ContainerLimits = field(default_factory=lambda: ContainerLimits())
    kind: Literal["docker"] = "docker"


@dataclass(frozen=True)
class KubernetesTarget:
    """Target `kubernetes`: a Deployment of replicas in its own namespace, behind a Service."""

    namespace: str
    replicas: int = 1  # of the read-write Deployment (2 by default with shared storage)
    pull_replicas: int = 1  # of the read-only Deployment, when there is one (pullPort)
    service_type: Literal["NodePort", "LoadBalancer"] = "NodePort"
    service: ServiceSettings = field(default_factory=ServiceSettings)  # of every Service clients reach
    storage: StorageSettings = StorageSettings(driver="filesystem")
    pods: PodSettings = field(default_factory=PodSettings)
    kind: Literal["kubernetes"] = "kubernetes"


Target = DockerTarget | KubernetesTarget


@dataclass(frozen=True)
class Settings:
    """The validated settings of one registry; what only one target uses is in `target`."""

    stack: str
    users: tuple[User, ...]
    bcrypt_cost: int
    hostnames: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    subject: Subject
    key_algorithm: Literal["RSA", "ECDSA"]
    rsa_bits: int
    ecdsa_curve: str
    validity_days: int
    ca_validity_days: int
    early_renewal_days: int
    image: str
    pull_image: bool
    port: int
    retain_data: bool
    delete_enabled: bool
    health_timeout_seconds: int
    endpoint: str
    pull_secret: PullSecretSettings
    kubernetes: KubernetesSettings
    node_trust: NodeTrustSettings
    local_registry_hosting: bool
    target: Target
    pull_port: int | None = None  # a read-only instance on this port (pullPort), or none
    own_certificate: OwnCertificate | None = None  # `certificate`: yours instead of the stack's CA
    certificate_secret: str | None = None  # `certificate.secretName`: yours, from a kubernetes.io/tls Secret
    images: tuple[DeclaredImage, ...] = ()  # `images`: what `up` copies into the registry
    mirrors: tuple[Mirror, ...] = ()  # `mirrors`: a pull-through cache per upstream
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    source_registries: Mapping[str, SourceRegistry] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def endpoint_host(self) -> str:
        """The host part of `endpoint`, without IPv6 brackets."""
        return split_endpoint(self.endpoint)[0]

    @property
    def pull_endpoint(self) -> str:
        """Where clusters pull: the read-only instance (same host as `endpoint`), else `endpoint`."""
        return self.endpoint if self.pull_port is None else join_endpoint(self.endpoint_host, self.pull_port)


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` holds one message per bad value."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack configuration ({len(self.problems)} problem(s)):\n{listing}")


def key(name: str) -> str:
    """The fully qualified config key, as users type it in `pulumi config set`."""
    return f"{PROJECT}:{name}"


def top_level(name: str) -> str:
    """The setting a message is about: `users` for `users[0].password`, `pullSecret` for `pullSecret.user`."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def shape(value: Any) -> str:
    """What a value is, without any of its content: safe to print for a secret."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)" if value else "an empty list"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value))
        return f"an object with keys {keys}" if value else "an empty object"
    return "null" if value is None else type(value).__name__


def _leaves(value: Any) -> Iterator[Any]:
    """The scalars inside a config value (itself, when it is one)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def secret_values(raw: Mapping[str, Any], secret_keys: frozenset[str]) -> frozenset[Any]:
    """Every value of the stack that is, or may be, a secret: all of a key the engine holds
    encrypted (`pulumi config set --secret`) or that is no setting at all (a misspelt `usres`), and
    in a setting the table marks secret-bearing, all of a field marked `secret` (passwords, private
    key, S3 keys, every `pods.env` value) or of a field it does not know (a misspelt `pasword`).
    None and booleans carry nothing and are left out.
    """
    found: list[Any] = []
    for name, value in raw.items():
        spec = BY_NAME.get(name)
        if name in secret_keys or spec is None:
            found += _leaves(value)
            continue
        if not spec.secret_bearing:
            continue
        if spec.each == "list" and isinstance(value, list):
            entries = value
        elif spec.each == "map" and isinstance(value, dict):
            entries = list(value.values())
        else:
            entries = [value]
        secret_field = {f.name: f.secret for f in FIELDS[name]}
        for entry in entries:
            items = entry.items() if isinstance(entry, dict) else [("", entry)]
            found += (leaf for field_name, item in items if secret_field.get(field_name, True) for leaf in _leaves(item))
    return frozenset(v for v in found if v is not None and not isinstance(v, bool))


class _Problems:
    """Collects problems so every bad value is reported in one run, showing only what is safe.

    Settings errors reach terminals and CI logs, so one rule decides what is printed: a value that
    holds none of the stack's `secret_values` is shown as it is; one that does shows its shape
    instead (`<secret: an object with keys password>`), and so does everything of a key the engine
    holds encrypted and of an unknown key. A secret quoted in a message's own text is masked.
    """

    def __init__(self, secret_keys: frozenset[str] = frozenset(), raw: Mapping[str, Any] | None = None) -> None:
        self.items: list[str] = []
        self.secret_keys = secret_keys
        self.secrets = secret_values(raw or {}, secret_keys)
        self.texts = sorted((s for s in self.secrets if isinstance(s, str) and len(s) >= MIN_MASKED), key=len, reverse=True)

    def holds_secret(self, value: Any) -> bool:
        """Whether `value` is, holds or quotes one of the secrets."""
        for leaf in _leaves(value):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if leaf in self.secrets or (isinstance(leaf, str) and any(s in leaf for s in self.texts)):
                return True
        return False

    def show(self, name: str, value: Any) -> str:
        """`value` as it may appear in a message about setting `name`."""
        setting = top_level(name)
        if setting in self.secret_keys:
            return f"<secret: {shape(value)}>"
        if setting not in NAMES:
            return f"<{shape(value)}>"
        return f"<secret: {shape(value)}>" if self.holds_secret(value) else repr(value)

    def mask(self, text: str) -> str:
        """`text` with every secret quoted in it replaced."""
        for secret in self.texts:
            text = text.replace(secret, "<secret>")
        return text

    def add(self, name: str, value: Any, allowed: str) -> None:
        self.items.append(f"{key(name)} = {self.show(name, value)}: {self.mask(allowed)}")


def _integer(raw: Mapping[str, Any], name: str, p: _Problems, default_value: int | None = None) -> int:
    spec = BY_NAME[name]
    fallback = spec.default if default_value is None else default_value
    value = raw.get(name, fallback)
    assert spec.low is not None and spec.high is not None, name
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        p.add(name, value, f"must be an integer in {spec.bounds}")
        return int(fallback)
    return value


def _boolean(raw: Mapping[str, Any], name: str, p: _Problems, default_value: bool | None = None) -> bool:
    fallback = default(name) if default_value is None else default_value
    value = raw.get(name, fallback)
    if not isinstance(value, bool):
        p.add(name, value, "must be true or false")
        return bool(fallback)
    return value


def _string_list(raw: Mapping[str, Any], name: str, p: _Problems) -> tuple[str, ...]:
    value = raw.get(name, default(name))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(name, value, "must be a list of strings")
        return ()
    return tuple(value)


def _object(raw: Mapping[str, Any], name: str, allowed_keys: Sequence[str], p: _Problems) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        p.add(name, value, f"must be an object with keys {', '.join(allowed_keys)}")
        return {}
    unknown = sorted(set(value) - set(allowed_keys))
    if unknown:
        p.add(name, value, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed_keys)}")
    return value


def _users(raw: Mapping[str, Any], p: _Problems) -> tuple[User, ...]:
    value = raw.get("users", default("users"))
    if isinstance(value, dict):  # `--path 'users.password'`: the `[0]` was forgotten
        p.add("users", value, "must be a list of {name, password?} objects; with --path, index the entry: users[0].password")
        return ()
    if not isinstance(value, list) or not value:
        p.add("users", value, "must be a non-empty list of {name, password?} objects")
        return ()
    users: list[User] = []
    seen: dict[str, int] = {}  # name -> index of its first entry
    for i, item in enumerate(value):
        where = f"users[{i}]"
        if not isinstance(item, dict) or set(item) - set(USER_KEYS):
            p.add(where, item, "must be an object with keys name and optional password")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name or re.search(r"[:\s]", name) or not name.isprintable():
            p.add(f"{where}.name", name, "must be a non-empty name without ':', white space or control characters")
            continue
        if name.endswith(ROTATED_SUFFIX):
            p.add(
                f"{where}.name", name, f"must not end with {ROTATED_SUFFIX}: that name is the second name of a rotating pull user"
            )
            continue
        if name == MIRROR_USER:
            p.add(f"{where}.name", name, "is the name of the mirrors' own credential (the stack's): choose another")
            continue
        if name in seen:
            p.add(f"{where}.name", name, f"duplicate of users[{seen[name]}].name; each user may appear once")
            continue
        seen[name] = i
        access = item.get("access", field_default("users.access"))
        if access not in ACCESS_LEVELS:
            p.add(f"{where}.access", access, "must be push (push, pull and delete) or pull (pull only, through pullPort)")
            continue
        password = item.get("password")
        if password is not None:
            if not isinstance(password, str) or not password:
                p.add(f"{where}.password", password, "must be a non-empty string, or left out to generate one")
                continue
            if len(password.encode()) > MAX_BCRYPT_PASSWORD_BYTES:
                p.add(
                    f"{where}.password",
                    password,
                    f"is {len(password.encode())} bytes; bcrypt uses only the first "
                    f"{MAX_BCRYPT_PASSWORD_BYTES}, so at most {MAX_BCRYPT_PASSWORD_BYTES} bytes are allowed",
                )
                continue
        users.append(User(name=name, password=password, access="pull" if access == "pull" else "push"))
    return tuple(users)


def _hostnames(raw: Mapping[str, Any], p: _Problems) -> tuple[str, ...]:
    names = _string_list(raw, "hostnames", p)
    good = []
    for i, name in enumerate(names):
        if is_ip(name):
            p.add(f"hostnames[{i}]", name, "is an IP address; list it under ipAddresses")
        elif dns_name_ok(name, allow_wildcard=True):
            good.append(name.lower())
        else:
            p.add(f"hostnames[{i}]", name, "must be a DNS name (labels of a-z, 0-9 and '-', optionally '*.' first)")
    return tuple(good)


def _ip_addresses(raw: Mapping[str, Any], p: _Problems) -> tuple[str, ...]:
    ips = _string_list(raw, "ipAddresses", p)
    good = []
    for i, text in enumerate(ips):
        try:
            good.append(str(ipaddress.ip_address(text)))
        except ValueError:
            p.add(f"ipAddresses[{i}]", text, "must be an IPv4 or IPv6 address")
    return tuple(good)


def _subject(raw: Mapping[str, Any], default_cn: str, p: _Problems) -> Subject:
    value = _object(raw, "subject", list(SUBJECT_FIELDS), p)
    fields: dict[str, str] = {}
    for config_name, attr in SUBJECT_FIELDS.items():
        text = value.get(config_name, field_default(f"subject.{config_name}") or "")
        if not isinstance(text, str):
            p.add(f"subject.{config_name}", text, "must be a string")
            continue
        fields[attr] = text
    country = fields.get("country", "")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        p.add("subject.country", country, "must be a two-letter ISO 3166 code such as DE or US")
    fields["common_name"] = fields.get("common_name") or default_cn
    if len(fields["common_name"]) > 64:
        p.add("subject.commonName", fields["common_name"], "must be at most 64 characters")
    return Subject(**fields)


def _key(raw: Mapping[str, Any], p: _Problems) -> tuple[Literal["RSA", "ECDSA"], int, str]:
    algorithm = raw.get("keyAlgorithm", default("keyAlgorithm"))
    rsa_bits = _integer(raw, "rsaBits", p)
    curve = raw.get("ecdsaCurve", default("ecdsaCurve"))
    if curve not in ECDSA_CURVES:
        p.add("ecdsaCurve", curve, "must be P256 or P384 (Go TLS clients refuse P224 certificates)")
        curve = "P256"
    if algorithm not in KEY_ALGORITHMS:
        p.add("keyAlgorithm", algorithm, f"must be one of {', '.join(KEY_ALGORITHMS)}")
        algorithm = "RSA"
    return algorithm, rsa_bits, curve


def _name(raw: Mapping[str, Any], name: str, default: str, check: Callable[[str], bool], allowed: str, p: _Problems) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not check(value):
        p.add(name, value, allowed)
        return default
    return value


def _image(raw: Mapping[str, Any], p: _Problems, warnings: list[str]) -> str:
    image = raw.get("image", default("image"))
    if not isinstance(image, str) or not image_ref_ok(image):
        p.add("image", image, "must be an image reference such as registry:3.1.2 or host/repo@sha256:...")
        return str(default("image"))
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and (":" not in last or last.endswith(":latest")):
        warnings.append(
            f"{key('image')} = {p.show('image', image)} is a floating tag: once present on the Docker host it is never "
            "pulled again; pin an exact release or a digest"
        )
    return image


def _pull_secret(
    raw: Mapping[str, Any], users: Sequence[User], uses_cluster: bool, pull_port: int | None, p: _Problems
) -> PullSecretSettings:
    value = _object(raw, "pullSecret", PULL_SECRET_KEYS, p)
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


def _kubernetes(raw: Mapping[str, Any], stack: str, p: _Problems, provider: str | None = None) -> KubernetesSettings:
    value = _object(raw, "kubernetes", KUBERNETES_KEYS, p)
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
    p: _Problems,
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


def _node_trust(raw: Mapping[str, Any], endpoint: str, p: _Problems) -> NodeTrustSettings:
    from . import node_trust  # its pure rules; imported here, as it loads the Pulumi SDK

    value = _object(raw, "nodeTrust", NODE_TRUST_KEYS, p)
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


def _choice(raw: Mapping[str, Any], name: str, choices: Sequence[str], allowed: str, p: _Problems) -> str:
    value = raw.get(name, default(name))
    if value not in choices:
        p.add(name, value, allowed)
        return str(default(name))
    return str(value)


def _other_targets_settings(raw: Mapping[str, Any], target: str, p: _Problems) -> None:
    """Settings of the other target (the table's `only`) are refused, not ignored: a user who sets
    them expects them used. The default value itself is let through (Pulumi.yaml's declared
    defaults arrive as values).
    """
    for spec in KEYS:
        if spec.only not in (None, target) and spec.name in raw and raw[spec.name] != spec.default:
            p.add(spec.name, raw[spec.name], f"is only used with target = {spec.only}")


def _storage(raw: Mapping[str, Any], stack: str, pods: dict[str, int], p: _Problems) -> StorageSettings:
    """Section storage of target kubernetes; `pods` (setting -> its Pods) all mount a claim."""
    value = raw.get("storage", {})
    driver = value.get("driver", field_default("storage.driver")) if isinstance(value, dict) else None
    if driver not in STORAGE_DRIVERS:
        p.add("storage.driver", driver, "must be filesystem (a PersistentVolumeClaim) or s3 (an S3-compatible bucket)")
        return StorageSettings(driver="filesystem")
    value = _object(raw, "storage", STORAGE_KEYS[driver], p)

    def text(field_name: str, fallback: str | None) -> str | None:
        item = value.get(field_name, fallback)
        if item is not None and (not isinstance(item, str) or not item.strip()):
            p.add(f"storage.{field_name}", item, "must be a non-empty string")
            return fallback
        return item

    if driver == "filesystem":
        size = text("size", field_default("storage.size")) or field_default("storage.size")
        if not re.fullmatch(r"[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?", size):
            p.add("storage.size", size, "must be a Kubernetes quantity such as 10Gi or 500Mi")
        storage_class = text("storageClass", None)
        if storage_class is not None and not dns_subdomain_ok(storage_class):
            p.add("storage.storageClass", storage_class, "must be a StorageClass name (a DNS-1123 subdomain)")
        mode = value.get("accessMode", field_default("storage.accessMode"))
        if mode not in ACCESS_MODES:
            p.add("storage.accessMode", mode, f"must be one of {', '.join(ACCESS_MODES)}")
            mode = field_default("storage.accessMode")
        elif sum(pods.values()) > 1 and mode != "ReadWriteMany":
            counted = " + ".join(f"{setting} = {n}" for setting, n in pods.items())
            fewer = "set replicas = 1" if len(pods) == 1 else "drop pullPort and set replicas = 1"
            allowed = (
                "every Pod mounts the same volume, which needs ReadWriteMany (a storage class that offers it, e.g. NFS "
                f"or CephFS); or {fewer}, or use storage.driver = s3"
            )
            if "accessMode" in value:  # both said: the claim is the one to name
                p.add("storage.accessMode", mode, f"cannot serve {counted}: {allowed}")
            else:  # the default claim: name the count that asks for more
                asked = (k for k in ("replicas", "pullReplicas") if k in pods and pods[k] > 1 and k in raw)
                said = next(asked, "pullPort")
                p.add(said, raw.get(said), f"asks for {counted} on storage.accessMode = {mode} (the default): {allowed}")
        return StorageSettings(driver="filesystem", size=size, storage_class=storage_class, access_mode=str(mode))

    bucket = text("bucket", None)
    if bucket is None:
        p.add("storage.bucket", None, "is required with storage.driver = s3: an existing bucket")
    elif not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        p.add("storage.bucket", bucket, "must be an S3 bucket name (3..63 of a-z, 0-9, '.', '-')")
    region = text("region", field_default("storage.region")) or field_default("storage.region")
    endpoint = text("endpoint", None)
    if endpoint is not None and not re.fullmatch(r"https?://[^/\s]+/?", endpoint):
        p.add("storage.endpoint", endpoint, "must be the S3 API's base URL, http(s)://host[:port]")
    elif endpoint is not None:  # the S3 keys and every image over plain HTTP only when said (mirrors.py)
        plain_http_allowed(endpoint, "storage.endpoint", value, "storage", p.add)
    root = text("rootDirectory", f"/registry-{stack}") or ""
    if not root.startswith("/"):
        p.add("storage.rootDirectory", root, "must start with '/': the prefix of every object the registry writes")
    access_key, secret_key = text("accessKey", None), text("secretKey", None)
    if (access_key is None) != (secret_key is None):
        p.add(
            "storage.accessKey" if access_key is None else "storage.secretKey",
            None,
            "set storage.accessKey and storage.secretKey together, or neither (the node's own credentials)",
        )
    return StorageSettings(
        driver="s3",
        bucket=bucket or "",
        region=region,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        root_directory=root,
        access_key=access_key,
        secret_key=secret_key,
    )


def _unknown_keys(raw: Mapping[str, Any], p: _Problems) -> None:
    for name in sorted(set(raw) - set(NAMES)):
        close = difflib.get_close_matches(name, NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        p.add(name, raw[name], f"is not a setting of this project; {hint}known settings: {', '.join(NAMES)}")


def _auth(raw: Mapping[str, Any], p: _Problems, warnings: list[str]) -> dict[str, Any]:
    """Section `users` and `bcryptCost`."""
    users = _users(raw, p)
    cost = _integer(raw, "bcryptCost", p)
    shown_cost = p.show("bcryptCost", cost)
    if cost < 10 and "bcryptCost" in raw:
        warnings.append(f"{key('bcryptCost')} = {shown_cost} is below 10: the hashes are cheap to brute-force")
    if cost > 13:
        warnings.append(f"{key('bcryptCost')} = {shown_cost}: the registry verifies the hash on every request; expect slow pulls")
    return {"users": users, "bcrypt_cost": cost}


def _certificate(raw: Mapping[str, Any], p: _Problems) -> dict[str, Any]:
    """Section certificate: SANs, subject, key and lifetimes."""
    hostnames = _hostnames(raw, p)
    ips = _ip_addresses(raw, p)
    if not hostnames and not ips:
        p.add("hostnames", raw.get("hostnames"), "the certificate needs at least one valid DNS name or IP address")
    algorithm, rsa_bits, curve = _key(raw, p)
    validity = _integer(raw, "validityDays", p)
    shown_validity = p.show("validityDays", validity)
    ca_validity = _integer(raw, "caValidityDays", p)
    early = _integer(raw, "earlyRenewalDays", p)
    if early >= validity:
        p.add(
            "earlyRenewalDays",
            early,
            f"must be shorter than validityDays ({shown_validity}); otherwise every run replaces the certificate",
        )
    if ca_validity < validity:
        p.add(
            "caValidityDays",
            ca_validity,
            f"must be at least validityDays ({shown_validity}): the CA must outlive its certificates",
        )
    return {
        "hostnames": hostnames,
        "ip_addresses": ips,
        # The first SAN names the server: default subject CN and default endpoint host.
        "subject": _subject(raw, first_san(hostnames, ips), p),
        "key_algorithm": algorithm,
        "rsa_bits": rsa_bits,
        "ecdsa_curve": curve,
        "validity_days": validity,
        "ca_validity_days": ca_validity,
        "early_renewal_days": early,
    }


def first_san(hostnames: Sequence[str], ips: Sequence[str]) -> str:
    return hostnames[0] if hostnames else (ips[0] if ips else "localhost")


def _target(raw: Mapping[str, Any], stack: str, p: _Problems) -> tuple[Target, int]:
    """Section target: the target's own settings, and the port clients connect to."""
    kind = _choice(raw, "target", TARGETS, "must be docker (a container on the Docker host) or kubernetes", p)
    service_type = _choice(raw, "serviceType", SERVICE_TYPES, "must be NodePort or LoadBalancer", p)
    node_port = kind == "kubernetes" and service_type == "NodePort"
    port = _integer(raw, "port", p, default_value=DEFAULT_NODE_PORT if node_port else DEFAULT_PORT)
    if node_port and not NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]:
        p.add(
            "port",
            port,
            f"is the NodePort with target = kubernetes and serviceType = NodePort: it must be in "
            f"{NODE_PORT_RANGE[0]}..{NODE_PORT_RANGE[1]} (the API server's default --service-node-port-range)",
        )
    _other_targets_settings(raw, kind, p)
    if kind == "docker":
        allowed = "must start with a letter or digit, then letters, digits, '_', '.' or '-'"
        container_name = _name(raw, "containerName", f"registry-{stack}", docker_name_ok, allowed, p)
        data_volume = _name(raw, "dataVolume", f"registry-data-{stack}", docker_name_ok, allowed, p)
        return DockerTarget(container_name=container_name, data_volume=data_volume, limits=_limits(raw, p)), port
    # One Pod on a claim only one node mounts; two where every Pod shares the data.
    replicas_default = 2 if shared_storage(raw.get("storage")) else 1
    replicas = _integer(raw, "replicas", p, default_value=replicas_default)
    pull_replicas = _integer(raw, "pullReplicas", p, default_value=replicas_default)
    pods = {"replicas": replicas}
    if "pullPort" in raw:
        pods["pullReplicas"] = pull_replicas
    elif "pullReplicas" in raw:
        p.add("pullReplicas", pull_replicas, "is only used with pullPort (the read-only Deployment's Pods)")
    namespace = _name(raw, "namespace", object_name("registry", stack), dns_label_ok,
                      "must be a namespace name (a DNS-1123 label: a-z, 0-9, '-', at most 63)", p)  # fmt: skip
    storage = _storage(raw, stack, pods, p)
    if storage.driver == "s3" and raw.get("retainData") is False:
        p.add(
            "retainData",
            False,
            "is refused with storage.driver = s3: the program never deletes objects from the bucket; remove "
            "the prefix storage.rootDirectory with your S3 tools after `pulumi destroy`",
        )
    kube_service: Literal["NodePort", "LoadBalancer"] = "LoadBalancer" if service_type == "LoadBalancer" else "NodePort"
    service = _service(raw, kube_service, p)
    target = KubernetesTarget(
        namespace=namespace,
        replicas=replicas,
        pull_replicas=pull_replicas,
        service_type=kube_service,
        service=service,
        storage=storage,
        pods=_pods(raw, p),
    )
    return target, port


def shared_storage(storage: Any) -> bool:
    """Whether the `storage` setting gives every Pod the same data: driver s3, or a ReadWriteMany claim."""
    if not isinstance(storage, dict):
        return False
    driver = storage.get("driver", field_default("storage.driver"))
    return driver == "s3" or (driver == "filesystem" and storage.get("accessMode") == "ReadWriteMany")


def _service(raw: Mapping[str, Any], service_type: str, p: _Problems) -> ServiceSettings:
    """Section service (service.py): the reachable Services' settings; a public LoadBalancer must be said."""

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"service.{path}" if path else "service", value, message)

    service = parse_service(_object(raw, "service", field_names("service"), p), service_type, problem)
    if unsaid_public(service, service_type):
        p.add("serviceType", service_type, PUBLIC_REFUSED)
    return service


def _limits(raw: Mapping[str, Any], p: _Problems) -> ContainerLimits:
    """Section container (target docker): memory and CPU limits and log rotation of every registry container."""
    value = _object(raw, "container", field_names("container"), p)
    limits = ContainerLimits()
    memory = value.get("memoryMiB", limits.memory_mib)
    if isinstance(memory, bool) or not isinstance(memory, int) or not 64 <= memory <= 1048576:
        p.add("container.memoryMiB", memory, "must be an integer in 64..1048576 (MiB)")
        memory = limits.memory_mib
    cpus = value.get("cpus", limits.cpus)
    if not cpus_ok(cpus):
        p.add("container.cpus", cpus, "must be a number of CPUs in 0.1..1024 in steps of 0.1 (1, 1.5, 2), or 0: no limit")
        cpus = limits.cpus
    size = value.get("logMaxSize", limits.log_max_size)
    if not isinstance(size, str) or not re.fullmatch(r"[1-9][0-9]*[kmg]", size):
        p.add("container.logMaxSize", size, "must be a size such as 10m, 500k or 1g (json-file's max-size)")
        size = limits.log_max_size
    files = value.get("logMaxFiles", limits.log_max_files)
    if isinstance(files, bool) or not isinstance(files, int) or not 1 <= files <= 100:
        p.add("container.logMaxFiles", files, "must be an integer in 1..100 (json-file's max-file)")
        files = limits.log_max_files
    return ContainerLimits(memory_mib=memory, cpus=cpus, log_max_size=size, log_max_files=files)


def cpus_ok(cpus: Any) -> bool:
    """`container.cpus`: 0 (no limit), or tenths of a CPU below any host's size: the docker provider
    reads a limit back rounded to one decimal where its nine decimals hold nine zeros (0.05 as
    0.1), and such a value would replace the container on every `up`; tenths read back as given.
    """
    if isinstance(cpus, bool) or not isinstance(cpus, int | float):
        return False
    return cpus == 0 or (0.1 <= cpus <= 1024 and abs(cpus * 10 - round(cpus * 10)) < 1e-6)


def _pods(raw: Mapping[str, Any], p: _Problems) -> PodSettings:
    """Section pods (pods.py): placement and identity of the registry's Pods."""
    from .distribution import managed_variables  # distribution imports this module: imported when used

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"pods.{path}" if path else "pods", value, message)

    return parse_pods(raw.get("pods", {}), managed_variables(), problem)


def _pull_port(raw: Mapping[str, Any], target: Target, port: int, users: Sequence[User], p: _Problems) -> int | None:
    """Section pull endpoint: `pullPort` (a read-only instance), and pull users only with one."""
    pull_port = _integer(raw, "pullPort", p, default_value=port) if "pullPort" in raw else None
    pullers = [u.name for u in users if u.access == "pull"]
    if pull_port is None:
        for name in pullers:
            index = next(i for i, u in enumerate(users) if u.name == name)
            p.add(
                f"users[{index}].access",
                "pull",
                "needs pullPort: a pull-only user exists only beside a read-only instance (the read-write one would "
                "let it push); set pullPort, or make the user a push user",
            )
        return None
    if pull_port == port:
        p.add("pullPort", pull_port, f"must differ from port ({port}): the read-only instance has a port of its own")
    elif isinstance(target, KubernetesTarget) and target.service_type == "LoadBalancer":
        p.add(
            "pullPort",
            pull_port,
            "needs serviceType = NodePort: with LoadBalancer the read-only Service would get an address of its own, "
            "which the pull endpoint (the endpoint's host) does not name",
        )
    elif isinstance(target, KubernetesTarget) and not NODE_PORT_RANGE[0] <= pull_port <= NODE_PORT_RANGE[1]:
        p.add(
            "pullPort",
            pull_port,
            f"is the read-only Service's NodePort with target = kubernetes: it must be in "
            f"{NODE_PORT_RANGE[0]}..{NODE_PORT_RANGE[1]} (the API server's default --service-node-port-range)",
        )
    return pull_port


def _endpoint(raw: Mapping[str, Any], hostnames: Sequence[str], ips: Sequence[str], port: int, p: _Problems) -> str:
    """`endpoint`: given, or the first SAN with the port; its host must be covered by the SANs (of
    the generated certificate; `_own_certificate` checks your own).
    """
    endpoint = raw.get("endpoint", join_endpoint(first_san(hostnames, ips), port))
    try:
        if not isinstance(endpoint, str):
            raise ValueError(endpoint)
        host, _ = split_endpoint(endpoint)
        if not certificate_given(raw.get("certificate")) and not san_covers(host, hostnames, ips):
            p.add(
                "endpoint",
                endpoint,
                f"host {p.show('endpoint', host)} is not covered by the certificate's SANs "
                f"(hostnames {p.show('hostnames', list(hostnames))}, ipAddresses {p.show('ipAddresses', list(ips))}); "
                "add it to one of them",
            )
    except ValueError:
        p.add("endpoint", endpoint, "must be host:port (IPv6 as [addr]:port) with a port in 1..65535")
    return str(endpoint)


# What only the generated certificate uses: refused beside your own (`certificate`).
GENERATED_CERTIFICATE_KEYS = (
    "subject",
    "keyAlgorithm",
    "rsaBits",
    "ecdsaCurve",
    "validityDays",
    "caValidityDays",
    "earlyRenewalDays",
)


def _own_certificate(raw: Mapping[str, Any], endpoint: str, p: _Problems) -> OwnCertificate | CertificateSecret | None:
    """Section certificate (own_certificate.py): your own certificate, checked for the endpoint."""

    def problem(path: str, value: Any, message: str) -> None:
        p.add(f"certificate.{path}" if path else "certificate", value, message)

    try:
        host = split_endpoint(endpoint)[0]
    except ValueError:
        return None  # `_endpoint` said why
    own = parse_certificate(raw.get("certificate"), host, problem)
    if own is not None:
        for name in GENERATED_CERTIFICATE_KEYS:
            if name in raw and raw[name] != default(name):
                p.add(name, raw[name], "is not used with certificate: your own certificate sets it; remove the setting")
    return own


def _cluster(
    raw: Mapping[str, Any],
    stack: str,
    users: Sequence[User],
    endpoint: str,
    target: Target,
    pull_port: int | None,
    p: _Problems,
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
    local_registry_hosting = _boolean(raw, "localRegistryHosting", p)
    kube_target = target.kind == "kubernetes"
    _cluster_needed(kubernetes, pull_secret, node_trust, local_registry_hosting, kube_target, p)
    return {
        "kubernetes": kubernetes,
        "pull_secret": pull_secret,
        "node_trust": node_trust,
        "local_registry_hosting": local_registry_hosting,
    }


def _images(
    raw: Mapping[str, Any], users: Sequence[User], target: Target, kubernetes: KubernetesSettings, p: _Problems
) -> dict[str, Any]:
    """Section images (images.py): declared images and their source registries; bundle files are
    looked up relative to the program's directory (the project's, where `pulumi` runs it).
    """
    images = parse_images(raw.get("images"), Path.cwd(), p.add)
    sources = parse_source_registries(raw.get("sourceRegistries"), p.add)
    if images and target.kind == "kubernetes" and kubernetes.mode == "render":
        p.add(
            "images",
            f"{len(images)} image(s)",
            "needs a running registry: with kubernetes.mode = render nothing runs to copy into",
        )
    if images and users and not any(u.access == "push" for u in users):
        p.add("images", f"{len(images)} image(s)", "are copied in as a push user: add a user with access: push")
    return {"images": images, "source_registries": sources}


def _mirrors(raw: Mapping[str, Any], target: Target, endpoint: str, ports: Sequence[int], p: _Problems) -> tuple[Mirror, ...]:
    """Section mirrors (mirrors.py): a pull-through cache per upstream, beside the registry."""
    mirrors = parse_mirrors(raw.get("mirrors"), ports, endpoint, p.add)
    if isinstance(target, KubernetesTarget):
        low, high = NODE_PORT_RANGE
        for mirror in mirrors:
            if target.service_type != "NodePort":
                p.add(
                    f"mirrors.{mirror.upstream}",
                    mirror.upstream,
                    "needs serviceType = NodePort: a mirror is reached on the endpoint's host",
                )
            elif not low <= mirror.port <= high:
                p.add(
                    f"mirrors.{mirror.upstream}.port",
                    mirror.port,
                    f"is the mirror's NodePort with target = kubernetes: it must be in {low}..{high}",
                )
    return mirrors


def _metrics(raw: Mapping[str, Any], target: Target, p: _Problems) -> MetricsSettings:
    """Section metrics: Prometheus' endpoint on every instance, and a ServiceMonitor (target kubernetes)."""
    value = _object(raw, "metrics", field_names("metrics"), p)
    flags = {}
    for name in ("enabled", "serviceMonitor"):
        flag = value.get(name, field_default(f"metrics.{name}"))
        if not isinstance(flag, bool):
            p.add(f"metrics.{name}", flag, "must be true or false")
            flag = False
        flags[name] = flag
    if flags["serviceMonitor"] and not (flags["enabled"] and target.kind == "kubernetes"):
        p.add("metrics.serviceMonitor", True, "needs target = kubernetes and metrics.enabled = true")
    allowed = value.get("allowFrom")
    if allowed is not None and not (flags["enabled"] and target.kind == "kubernetes"):
        p.add("metrics.allowFrom", allowed, "needs target = kubernetes and metrics.enabled = true")
    allow_from = parse_allow_from(allowed, lambda path, v, what: p.add(f"metrics.{path}", v, what))
    return MetricsSettings(enabled=flags["enabled"], service_monitor=flags["serviceMonitor"], allow_from=allow_from)


def load_settings(
    raw: Mapping[str, Any], stack: str, secret_keys: frozenset[str] = frozenset(), kubernetes_provider: str | None = None
) -> Settings:
    """Validate raw config values (key without project prefix -> value) into `Settings`.

    Raises `SettingsError` naming every bad key, its value (unless it may hold a secret: see
    `_Problems`) and what is allowed. `secret_keys` are the keys the engine holds encrypted.
    `kubernetes_provider`: the name of the kubernetes.Provider a program hands the component, the
    cluster then (no `kubernetes` setting may name another).
    """
    p = _Problems(secret_keys, raw)
    warnings: list[str] = []
    _unknown_keys(raw, p)
    auth = _auth(raw, p, warnings)
    certificate = _certificate(raw, p)
    image = _image(raw, p, warnings)
    pull_image = _boolean(raw, "pullImage", p)
    target, port = _target(raw, stack, p)
    endpoint = _endpoint(raw, certificate["hostnames"], certificate["ip_addresses"], port, p)
    if target.kind == "kubernetes" and image_registry(image) == endpoint:
        p.add(
            "image",
            image,
            "is in this registry, which cannot serve its own image before it runs: the nodes must pull the "
            "registry image from elsewhere (Docker Hub, a mirror, or preloaded with pullImage = false)",
        )
    own_certificate = _own_certificate(raw, endpoint, p)
    pull_port = _pull_port(raw, target, port, auth["users"], p)
    cluster = _cluster(raw, stack, auth["users"], endpoint, target, pull_port, p, warnings, kubernetes_provider)
    if isinstance(own_certificate, CertificateSecret):
        refused = secret_form_problem(target.kind, cluster["kubernetes"].mode)
        if refused:
            p.add("certificate.secretName", own_certificate.name, refused)
    images = _images(raw, auth["users"], target, cluster["kubernetes"], p)
    metrics = _metrics(raw, target, p)
    mirrors = _mirrors(raw, target, endpoint, [port] + ([pull_port] if pull_port is not None else []), p)
    runtime: dict[str, Any] = {
        "retain_data": _boolean(raw, "retainData", p),
        "delete_enabled": _boolean(raw, "deleteEnabled", p),
        "health_timeout_seconds": _integer(raw, "healthTimeoutSeconds", p),
    }
    if p.items:
        raise SettingsError(p.items)
    return Settings(
        stack=stack,
        **auth,
        **certificate,
        image=image,
        pull_image=pull_image,
        port=port,
        endpoint=endpoint,
        target=target,
        pull_port=pull_port,
        own_certificate=own_certificate if isinstance(own_certificate, OwnCertificate) else None,
        certificate_secret=own_certificate.name if isinstance(own_certificate, CertificateSecret) else None,
        **runtime,
        **cluster,
        **images,
        mirrors=mirrors,
        metrics=metrics,
        warnings=tuple(warnings),
    )
