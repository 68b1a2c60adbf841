"""The settings' types: what `load_settings` (settings.py) returns, frozen and free of checks.

Every component, the composition root and the package's callers read these; the rules that build
them from raw config values are in `settings.py`. Nothing here touches Pulumi or the config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .images import DeclaredImage, SourceRegistry
from .mirrors import Mirror
from .names import join_endpoint, split_endpoint
from .network_policy import DEFAULT_PEERS
from .own_certificate import OwnCertificate
from .pods import PodSettings
from .service import ServiceSettings
from .setting_keys import field_default


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
class ReadOnlyInstance:
    """`pullPort`: a read-only instance beside the writer (the same storage, write handlers dropped).
    Pull users and clusters use it; the writer then takes push users only. Both targets run it: a
    container on the Docker host, or a Deployment of `pullReplicas` behind a NodePort.
    """

    port: int


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
    read_only: ReadOnlyInstance | None = None  # `pullPort`: a read-only instance, or none
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
        return self.endpoint if self.read_only is None else join_endpoint(self.endpoint_host, self.read_only.port)


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` holds one message per bad value."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack configuration ({len(self.problems)} problem(s)):\n{listing}")
