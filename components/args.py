"""Typed settings for programs that create `PrivateRegistry` themselves (the installed package).

Each key is the stack setting of the same name (README "Settings" lists meaning and default), so
one vocabulary serves the stack config of this project and the Python of another. Every key is
optional; `PrivateRegistryArgs.of` validates them with the same checks as `pulumi config` values
and raises `SettingsError` naming each bad one. A type checker (mypy, pyright) catches misspelt
keys and wrong types before that. `tests/test_args.py` keeps these in step with the settings table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict


class UserSetting(TypedDict, total=False):
    """An htpasswd user; without `password` one is generated once and kept in state as a secret."""

    name: Required[str]
    password: str
    access: Literal["push", "pull"]


class SubjectSetting(TypedDict, total=False):
    commonName: str
    organization: str
    organizationalUnit: str
    locality: str
    province: str
    country: str


class StorageSetting(TypedDict, total=False):
    """Driver `filesystem` takes size/storageClass/accessMode; driver `s3` the bucket keys."""

    driver: Literal["filesystem", "s3"]
    size: str
    storageClass: str
    accessMode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"]
    bucket: str
    region: str
    endpoint: str
    rootDirectory: str
    accessKey: str
    secretKey: str
    insecure: bool


class PullSecretSetting(TypedDict, total=False):
    name: str
    namespaces: Sequence[str]
    user: str
    patchDefaultServiceAccount: bool
    allowPushUser: bool


class KubernetesSetting(TypedDict, total=False):
    mode: Literal["none", "cluster", "render"]
    context: str
    renderDirectory: str


class NodeTrustSetting(TypedDict, total=False):
    mode: Literal["none", "daemonset"]
    image: str
    namespace: str
    certsDir: str
    allowAnyCertsDir: bool


class CertificateSetting(TypedDict, total=False):
    cert: str
    key: str
    ca: str
    secretName: str


class ServiceAccountSetting(TypedDict, total=False):
    create: bool
    name: str
    annotations: Mapping[str, str]


class PodsSetting(TypedDict, total=False):
    resources: Mapping[str, Mapping[str, str]]
    nodeSelector: Mapping[str, str]
    tolerations: Sequence[Mapping[str, Any]]
    affinity: Mapping[str, Any]
    topologySpreadConstraints: Sequence[Mapping[str, Any]]
    priorityClassName: str
    annotations: Mapping[str, str]
    labels: Mapping[str, str]
    serviceAccount: ServiceAccountSetting
    imagePullSecrets: Sequence[str]
    env: Mapping[str, str]


class ServiceSetting(TypedDict, total=False):
    """The Services clients reach; a LoadBalancer needs source ranges, an internal annotation or `public`."""

    annotations: Mapping[str, str]
    loadBalancerSourceRanges: Sequence[str]
    loadBalancerClass: str
    externalTrafficPolicy: Literal["Cluster", "Local"]
    public: bool


class ContainerSetting(TypedDict, total=False):
    memoryMiB: int
    cpus: float
    logMaxSize: str
    logMaxFiles: int


class MetricsSetting(TypedDict, total=False):
    enabled: bool
    serviceMonitor: bool
    allowFrom: Sequence[str | Mapping[str, Any]]  # namespace names or NetworkPolicy peers


class ImageSetting(TypedDict, total=False):
    source: str
    dockerImage: str
    name: str
    bundle: str


class MirrorSetting(TypedDict, total=False):
    port: int
    remoteUrl: str
    username: str
    password: str
    ca: str
    ttl: str
    size: str
    storageClass: str
    insecure: bool


class SourceRegistrySetting(TypedDict, total=False):
    username: str
    password: str
    ca: str


class RegistrySettings(TypedDict, total=False):
    """The settings of one registry, keyed as in the stack config (`private-registry:<key>`)."""

    users: Sequence[UserSetting]
    bcryptCost: int
    hostnames: Sequence[str]
    ipAddresses: Sequence[str]
    subject: SubjectSetting
    keyAlgorithm: Literal["RSA", "ECDSA"]
    rsaBits: int
    ecdsaCurve: Literal["P256", "P384"]
    validityDays: int
    caValidityDays: int
    earlyRenewalDays: int
    certificate: CertificateSetting
    image: str
    pullImage: bool
    port: int
    pullPort: int
    containerName: str
    container: ContainerSetting
    dataVolume: str
    retainData: bool
    deleteEnabled: bool
    healthTimeoutSeconds: int
    target: Literal["docker", "kubernetes"]
    replicas: int
    pullReplicas: int
    namespace: str
    serviceType: Literal["NodePort", "LoadBalancer"]
    service: ServiceSetting
    storage: StorageSetting
    pods: PodsSetting
    endpoint: str
    pullSecret: PullSecretSetting
    kubernetes: KubernetesSetting
    nodeTrust: NodeTrustSetting
    localRegistryHosting: bool
    metrics: MetricsSetting
    images: Sequence[ImageSetting]
    mirrors: Mapping[str, MirrorSetting]
    sourceRegistries: Mapping[str, SourceRegistrySetting]
