"""Target `kubernetes`: the registry as a Deployment in its own namespace, behind a Service.

The same registry, configured by the same contract as the Docker target (`distribution.py`), with
what a cluster adds:

- TLS from a `kubernetes.io/tls` Secret, htpasswd from a Secret, both mounted as folders (never
  `subPath`, which the kubelet does not update). Distribution re-reads the htpasswd file when its
  modification time changes, so a password change reaches every replica without a restart, once
  the kubelet has refreshed the volume (its sync period, about a minute at most). TLS is loaded
  only at start: the pod template carries the certificate's hash, so a new certificate rolls the
  replicas one by one.
- One HTTP secret for every replica (an upload started on one replica continues on another).
- Storage every replica shares: an S3 bucket (how Distribution scales out), or a
  PersistentVolumeClaim (more than one replica needs ReadWriteMany; settings.py refuses the rest).
- Readiness on `/debug/health` (the storage driver's health included) over the debug listener on
  the Pod's loopback, as the Docker target's health check; liveness on the TLS port only, so an
  outage of the object store takes replicas out of the Service without restarting them all.
- With `pullPort`, a read-only Deployment `registry-pull` beside it on the same storage, with its
  own replicas, Service (NodePort), Secret of users (push and pull users) and PodDisruptionBudget;
  the writer's Secret then holds the push users only. Its Pods carry their own name label, so
  neither Service selects the other's Pods.
- A rollout that never goes below the ready replicas (surge one, none unavailable), a preStop
  pause so the Service stops sending new requests before the registry drains, a
  PodDisruptionBudget, requests and limits, a non-root, read-only security context.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from pulumi_kubernetes import Provider

from .certificate_secret import HASH_KEY_BYTES, CertificateFromSecret
from .distribution import (
    AUTH_DIR,
    CERTS_DIR,
    DRAIN_SECONDS,
    HTTP_SECRET_BYTES,
    METRICS_PATH,
    METRICS_PORT,
    PORT,
    RUN_AS,
    STORAGE_ROOT,
    UPSTREAM_CA_PATH,
    Instance,
    container_security,
    health_check_command,
    secret_variables,
)
from .generated_secret import GeneratedSecret
from .kube_resources import (
    Deployment,
    Namespace,
    NetworkPolicy,
    PersistentVolumeClaim,
    PodDisruptionBudget,
    Secret,
    Service,
    ServiceAccount,
    ServiceMonitor,
)
from .model import StorageSettings
from .names import PART_OF, app_labels
from .network_policy import DEFAULT_PEERS, policy_spec
from .own_certificate import roll_hash
from .pods import PodSettings
from .pull_secret import SECRET_TYPE, docker_config_json
from .service import ServiceSettings, service_fields

NAME = "registry"  # Deployment, Service, Secrets and PodDisruptionBudget, inside the stack's own namespace
IMAGE_PULL = f"{NAME}-image-pull"
# A mirror's upstream credentials: variable -> key in its Secret `<mirror>-upstream`.
UPSTREAM_SECRET_KEYS = {
    "REGISTRY_PROXY_USERNAME": "username",
    "REGISTRY_PROXY_PASSWORD": "password",
}  # the pull secret for the registry's own image, when its registry asks for one
PULL_NAME = "registry-pull"  # the read-only Deployment, Service, users Secret and PodDisruptionBudget


def mirror_workload(slug: str) -> str:
    """A mirror's Deployment (and Service, claim, Secrets' prefix)."""
    return f"{NAME}-mirror-{slug}"[:57].rstrip("-")  # room for `-auth`, `-data`


def selector(name: str) -> str:
    """The label selector of one Deployment's Pods, as kubectl takes it."""
    return f"app.kubernetes.io/name={name}"


LABELS = app_labels(NAME)
# The Service keeps sending new connections to a terminating Pod until kube-proxy has seen its
# endpoint go; the Pod goes on serving that long before the registry starts draining.
PRESTOP_SECONDS = 5


def content_hash(*parts: str) -> str:
    """A hash for the pod template of public parts only (the certificate): a change of what the
    registry reads only at start rolls the Pods. What covers a secret takes `roll_hash` (keyed).
    """
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Workload:
    """One Deployment of the registry: the instance it runs, its object names and Pod labels, its size."""

    instance: Instance
    name: str  # the Deployment's, Service's and PodDisruptionBudget's; its users Secret is `<name>-auth`
    replicas: int
    claim: str = f"{NAME}-data"  # the PersistentVolumeClaim of driver filesystem (a mirror has its own)
    tls_secret: str = f"{NAME}-tls"  # the kubernetes.io/tls Secret its Pods mount (certificate.secretName: yours)

    @property
    def labels(self) -> dict[str, str]:
        """The Pod labels (and selector): the Deployment's own name, so Services never mix them."""
        return app_labels(self.name)

    @property
    def upstream_secret(self) -> str:
        """A mirror's Secret with its upstream's credentials and CA."""
        return f"{self.name}-upstream"

    @property
    def read_only(self) -> bool:
        return self.instance.role == "read-only"


def pod_storage(workload: Workload, storage: StorageSettings) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The Pod's volume mounts and volumes: TLS and htpasswd folders, /tmp, and the claim if any
    (mounted read-only into a read-only instance).
    """
    mounts: list[dict[str, object]] = [
        {"name": "tls", "mountPath": CERTS_DIR, "readOnly": True},
        {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, object]] = [
        {"name": "tls", "secret": {"secretName": workload.tls_secret, "defaultMode": 0o440}},
        {"name": "auth", "secret": {"secretName": f"{workload.name}-auth", "defaultMode": 0o440}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if storage.driver == "filesystem":
        data: dict[str, object] = {"name": "data", "mountPath": STORAGE_ROOT}
        mounts.append({**data, "readOnly": True} if workload.read_only else data)
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": workload.claim}})
    mirror = workload.instance.mirror
    if mirror is not None and mirror.ca is not None:
        mounts.append({"name": "upstream", "mountPath": UPSTREAM_CA_PATH.rsplit("/", 1)[0], "readOnly": True})
        secret = {"secretName": workload.upstream_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}
        volumes.append({"name": "upstream", "secret": secret})
    return mounts, volumes


def env_secret_keys(storage: StorageSettings, pods: PodSettings) -> dict[str, str]:
    """Variable -> its key in the Secret `registry-env`: the secret variables and `pods.env`."""
    return {**secret_variables(storage), **{name: f"env.{name}" for name in pods.env}}


def registry_container(
    workload: Workload, storage: StorageSettings, mounts: list[dict[str, object]], pods: PodSettings
) -> dict[str, object]:
    """The registry container: the instance's variables (secret ones and `pods.env` from the Secret
    `registry-env`, a mirror's upstream credentials from its own), probes, resources.
    """
    instance = workload.instance
    plain = instance.variables(storage)
    upstream = {k: UPSTREAM_SECRET_KEYS[k] for k in UPSTREAM_SECRET_KEYS if plain.pop(k, None) is not None}
    env: list[dict[str, object]] = [{"name": k, "value": v} for k, v in plain.items()]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": f"{NAME}-env", "key": key}}}
        for k, key in env_secret_keys(storage, pods).items()
    ]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": workload.upstream_secret, "key": key}}} for k, key in upstream.items()
    ]
    return {
        "name": "registry",
        "image": instance.image,
        "imagePullPolicy": "IfNotPresent" if instance.pull_image else "Never",
        "ports": [{"name": "https", "containerPort": PORT}]
        + ([{"name": "metrics", "containerPort": METRICS_PORT}] if instance.metrics else []),
        "env": env,
        "volumeMounts": mounts,
        "readinessProbe": {
            "exec": {"command": health_check_command()[1:]},
            "periodSeconds": 2,
            "timeoutSeconds": 5,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "tcpSocket": {"port": PORT},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
        "resources": {part: dict(amounts) for part, amounts in pods.resources.items()},
        "securityContext": container_security(),
    }


def spreading(workload: Workload) -> dict[str, object]:
    """The default affinity: replicas on different nodes where there are several (preferred only)."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": workload.labels},
                    },
                }
            ]
        }
    }


def placement(workload: Workload, pods: PodSettings) -> dict[str, object]:
    """The Pod spec's placement and identity fields from `pods`; only those that are set."""
    spec: dict[str, object] = {"affinity": dict(pods.affinity) if pods.affinity is not None else spreading(workload)}
    optional: dict[str, object] = {
        "nodeSelector": dict(pods.node_selector),
        "tolerations": [dict(t) for t in pods.tolerations],
        "topologySpreadConstraints": [dict(t) for t in pods.topology_spread_constraints],
        "priorityClassName": pods.priority_class_name,
        "serviceAccountName": pods.service_account.account,
        "imagePullSecrets": [{"name": name} for name in pods.image_pull_secrets],
    }
    spec.update({k: v for k, v in optional.items() if v})
    return spec


def pod_template(
    workload: Workload,
    storage: StorageSettings,
    pods: PodSettings,
    hashes: tuple[pulumi.Input[str], pulumi.Input[str]],
) -> dict[str, object]:
    """The registry Pods: the container, volumes, security context, placement and the hashes (TLS,
    secret environment) that roll them (outputs that may be unknown in a preview: only they are, so
    a preview shows an update, not a replace).
    """
    tls_hash, env_hash = hashes
    mounts, volumes = pod_storage(workload, storage)
    container = registry_container(workload, storage, mounts, pods)
    ours = {"private-registry/tls-sha256": tls_hash, "private-registry/env-sha256": env_hash}
    if workload.instance.metrics:  # the annotations Prometheus' usual Kubernetes scrape config reads
        ours |= {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT), "prometheus.io/path": METRICS_PATH}
    return {
        "metadata": {
            "labels": {**pods.labels, **workload.labels},
            "annotations": {**pods.annotations, **ours},
        },
        "spec": {
            "containers": [container],
            "volumes": volumes,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": PRESTOP_SECONDS + DRAIN_SECONDS + 5,
            # The group that may read the mounted key and htpasswd (mode 0440) and write the volume.
            "securityContext": {"fsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
            # Replicas on different nodes where there are several (unless `pods.affinity` says otherwise).
            **placement(workload, pods),
        },
    }


def deployment_spec(workload: Workload, storage: StorageSettings, template: dict[str, object]) -> dict[str, object]:
    """Replicas, selector and rollout strategy around the pod template."""
    if storage.driver == "filesystem" and storage.access_mode != "ReadWriteMany":
        # One volume a single node mounts: the old Pod must let go of it before the new one starts.
        strategy: dict[str, object] = {"type": "Recreate"}
    else:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return {
        "replicas": workload.replicas,
        "selector": {"matchLabels": workload.labels},
        "strategy": strategy,
        "revisionHistoryLimit": 3,
        "template": template,
    }


def service_spec(workload: Workload, service_type: str, port: int, service: ServiceSettings) -> dict[str, object]:
    """One Deployment's Service: `port` is the NodePort, or the load balancer's port; `service`
    (the setting) adds what the stack says about traffic policy and the load balancer.
    """
    entry: dict[str, object] = {"name": "https", "port": port, "targetPort": "https", "protocol": "TCP"}
    if service_type == "NodePort":
        entry = {**entry, "port": PORT, "nodePort": port}
    return {"type": service_type, "selector": workload.labels, "ports": [entry], **service_fields(service, service_type)}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass(frozen=True)
class PullDeployment:
    """The read-only Deployment beside the registry: its instance (role read-only), Pods and NodePort."""

    instance: Instance
    replicas: int
    port: int


@dataclass(frozen=True)
class KubeMirror:
    """A mirror's Deployment: its instance (role mirror), its NodePort and the size of its own claim."""

    instance: Instance
    port: int
    size: str


@dataclass(frozen=True)
class ImagePull:
    """Credentials for the registry that holds the registry's own image (from `sourceRegistries`)."""

    registry: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RegistryDeploymentArgs:
    """The instance, and where it runs in the cluster: namespace, replicas, Service, storage."""

    instance: Instance
    namespace: str
    replicas: int
    service_type: str
    port: int
    storage: StorageSettings
    retain_data: bool
    provider: Provider
    pull: PullDeployment | None = None  # a read-only Deployment too (pullPort)
    pods: PodSettings = field(default_factory=PodSettings)
    image_pull: ImagePull | None = None  # the image's registry asks for credentials: a pull secret of the stack's own
    mirrors: Sequence[KubeMirror] = ()  # a pull-through cache per upstream (mirrors)
    service_monitor: bool = False  # a metrics Service and a ServiceMonitor for every Pod of the stack
    # With metrics: who may reach the debug listener (NetworkPolicy peers, network_policy.py)
    metrics_allow_from: Sequence[dict[str, Any]] = DEFAULT_PEERS
    service: ServiceSettings = field(default_factory=ServiceSettings)  # of every Service clients reach
    certificate_secret: str | None = None  # certificate.secretName: the Pods mount it; read for its hash and CA
    endpoint_host: str = ""  # what that Secret's certificate must cover


class RegistryDeployment(pulumi.ComponentResource):
    """The namespace, Secrets, storage claim, Deployment, Service and PodDisruptionBudget."""

    namespace: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    storage: pulumi.Output[str]

    def __init__(self, name: str, args: RegistryDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:RegistryDeployment", name, None, opts)
        storage = args.storage
        keep_volume = storage.driver == "filesystem" and args.retain_data
        # The namespace holds the claim: with the data kept on destroy, it stays too.
        namespace = Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": LABELS},
            spec=None,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, retain_on_delete=keep_volume),
        )
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        meta: dict[str, object] = {"namespace": args.namespace, "labels": LABELS}

        # The key of every roll trigger that covers a secret (own_certificate.roll_hash): a bare hash
        # in the pod template would let anyone with `get` on Deployments test guessed passwords.
        self._hash_key = GeneratedSecret(f"{name}-hash-key", HASH_KEY_BYTES, pulumi.ResourceOptions(parent=self)).value
        shared, env_hash = self._secrets(name, args, meta, inside)
        shared += self._claim(name, args, meta, inside)
        if args.image_pull is not None:
            pull = args.image_pull
            document = docker_config_json(pull.registry, pull.username, pull.password)
            shared.append(
                Secret(
                    f"{name}-image-pull", {**meta, "name": IMAGE_PULL}, SECRET_TYPE, {".dockerconfigjson": b64(document)}, inside
                )
            )
            args = replace(args, pods=replace(args.pods, image_pull_secrets=(*args.pods.image_pull_secrets, IMAGE_PULL)))
        account = args.pods.service_account
        if account.create:
            shared.append(
                ServiceAccount(
                    f"{name}-service-account",
                    {**meta, "name": account.account, "annotations": dict(account.annotations)},
                    inside,
                )
            )
        tls_hash = pulumi.Output.from_input(args.instance.cert_pem).apply(content_hash)
        self.certificate: CertificateFromSecret | None = None
        if args.certificate_secret is not None:  # read once the namespace exists (certificate_secret.py)
            secret = (args.namespace, args.certificate_secret)
            certificate = CertificateFromSecret(
                f"{name}-certificate", secret, namespace.id, args.endpoint_host, args.provider, inside
            )
            self.certificate, tls_hash = certificate, certificate.roll_hash
        writer = Workload(args.instance, NAME, args.replicas)
        self._workload(name, args, writer, args.port, (shared, tls_hash, env_hash), inside)
        self.pull_deployment_name: pulumi.Output[str] | None = None
        if args.pull is not None:
            reader = Workload(args.pull.instance, PULL_NAME, args.pull.replicas)
            self._workload(f"{name}-pull", args, reader, args.pull.port, (shared, tls_hash, env_hash), inside)
            self.pull_deployment_name = pulumi.Output.from_input(PULL_NAME)
        for mirror in args.mirrors:
            self._mirror(name, args, mirror, (shared, tls_hash, env_hash), inside)
        if args.service_monitor:
            self._service_monitor(name, args, inside)
        if args.instance.metrics:
            # The debug listener serves pprof and expvar beside /metrics: only the monitoring side reaches it.
            NetworkPolicy(
                f"{name}-metrics-policy",
                {"namespace": args.namespace, "labels": LABELS, "name": f"{NAME}-metrics"},
                policy_spec(args.metrics_allow_from, PORT, METRICS_PORT),
                inside,
            )

        self.namespace = pulumi.Output.from_input(args.namespace)
        self.deployment_name = pulumi.Output.from_input(NAME)
        where = (
            f"s3://{storage.bucket}{storage.root_directory}" if storage.driver == "s3" else f"persistentvolumeclaim/{NAME}-data"
        )
        self.storage = pulumi.Output.from_input(where)
        outputs = {"namespace": self.namespace, "deployment": self.deployment_name, "storage": self.storage}
        if self.pull_deployment_name is not None:
            outputs["pullDeployment"] = self.pull_deployment_name
        self.register_outputs(outputs)

    def _service_monitor(self, name: str, args: RegistryDeploymentArgs, inside: pulumi.ResourceOptions) -> None:
        """A ClusterIP Service over the metrics port of every Pod of the stack (registry, read-only,
        mirrors) and the ServiceMonitor that scrapes it.
        """
        metrics = f"{NAME}-metrics"
        selected = dict(PART_OF)  # every Deployment's Pods in this namespace
        meta: dict[str, object] = {"namespace": args.namespace, "labels": app_labels(metrics)}
        port = {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}
        service = Service(
            f"{name}-metrics", {**meta, "name": metrics}, {"type": "ClusterIP", "selector": selected, "ports": [port]}, inside
        )
        ServiceMonitor(
            f"{name}-service-monitor",
            {**meta, "name": metrics},
            {
                "selector": {"matchLabels": app_labels(metrics)},
                "endpoints": [{"port": "metrics", "path": METRICS_PATH, "interval": "30s"}],
            },
            pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=[service])),
        )

    def _mirror(
        self,
        name: str,
        args: RegistryDeploymentArgs,
        mirror: KubeMirror,
        pod_inputs: tuple[list[pulumi.Resource], pulumi.Output[str], pulumi.Output[str]],
        inside: pulumi.ResourceOptions,
    ) -> None:
        """A mirror: one Pod on a ReadWriteOnce claim of its own (a cache: not kept on destroy), its
        upstream's credentials and CA in a Secret of its own, its NodePort.
        """
        shared, tls_hash, env_hash = pod_inputs
        upstream = mirror.instance.mirror
        assert upstream is not None
        workload_name = mirror_workload(upstream.slug)
        workload = Workload(mirror.instance, workload_name, 1, claim=f"{workload_name}-data")
        meta: dict[str, object] = {"namespace": args.namespace, "labels": workload.labels}
        registry_class = args.storage.storage_class if args.storage.driver == "filesystem" else None
        storage_class = upstream.storage_class or registry_class
        storage = StorageSettings(driver="filesystem", size=mirror.size, storage_class=storage_class, access_mode="ReadWriteOnce")
        needs = list(shared)
        values = {"username": upstream.username, "password": upstream.password, "ca.crt": upstream.ca}
        given = {k: v for k, v in values.items() if v is not None}
        if given:
            needs.append(
                Secret(
                    f"{name}-mirror-{upstream.slug}-upstream",
                    {**meta, "name": workload.upstream_secret},
                    "Opaque",
                    {k: b64(v) for k, v in given.items()},
                    inside,
                )
            )
        claim_spec: dict[str, object] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": mirror.size}}}
        if storage.storage_class:
            claim_spec["storageClassName"] = storage.storage_class
        needs.append(
            PersistentVolumeClaim(f"{name}-mirror-{upstream.slug}-data", {**meta, "name": workload.claim}, claim_spec, inside)
        )
        # A changed upstream credential or CA rolls the mirror's Pod (only a hash enters the template).
        rolled = pulumi.Output.unsecret(
            pulumi.Output.all(self._hash_key, env_hash).apply(lambda kh: roll_hash(kh[0], kh[1], *given.values()))
        )
        self._workload(f"{name}-mirror-{upstream.slug}", args, workload, mirror.port, (needs, tls_hash, rolled), inside, storage)

    def _workload(
        self,
        name: str,
        args: RegistryDeploymentArgs,
        workload: Workload,
        port: int,
        pod_inputs: tuple[list[pulumi.Resource], pulumi.Output[str], pulumi.Output[str]],
        inside: pulumi.ResourceOptions,
        storage: StorageSettings | None = None,
    ) -> None:
        """One Deployment with its users Secret, Service and (more than one replica) PodDisruptionBudget.
        `pod_inputs`: what its Pods need first (shared Secrets, the claim) and the hashes that roll them;
        `storage`: its own (a mirror's claim), else the registry's.
        """
        shared, tls_hash, env_hash = pod_inputs
        storage = storage or args.storage
        if args.certificate_secret is not None:
            workload = replace(workload, tls_secret=args.certificate_secret)
        meta: dict[str, object] = {"namespace": args.namespace, "labels": workload.labels}
        users = Secret(
            f"{name}-auth",
            {**meta, "name": f"{workload.name}-auth"},
            "Opaque",
            pulumi.Output.from_input(workload.instance.htpasswd).apply(lambda h: {"htpasswd": b64(h)}),
            inside,
        )
        template = pod_template(workload, storage, args.pods, (tls_hash, env_hash))
        spec = deployment_spec(workload, storage, template)
        # The provider waits for the rollout: every replica ready, per replica at most the health timeout.
        timeout = f"{workload.instance.health_timeout_seconds * workload.replicas}s"
        Deployment(
            f"{name}-deployment",
            {**meta, "name": workload.name},
            spec,
            pulumi.ResourceOptions.merge(
                inside,
                pulumi.ResourceOptions(
                    depends_on=[*shared, users],  # and the namespace, as everything `inside`
                    custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
                ),
            ),
        )
        annotated = {**meta, "annotations": dict(args.service.annotations)} if args.service.annotations else meta
        reached = service_spec(workload, args.service_type, port, args.service)
        Service(f"{name}-service", {**annotated, "name": workload.name}, reached, inside)
        if workload.replicas > 1:
            PodDisruptionBudget(
                f"{name}-disruption-budget",
                {**meta, "name": workload.name},
                {"maxUnavailable": 1, "selector": {"matchLabels": workload.labels}},
                inside,
            )

    def _secrets(
        self, name: str, args: RegistryDeploymentArgs, meta: dict[str, object], inside: pulumi.ResourceOptions
    ) -> tuple[list[pulumi.Resource], pulumi.Output[str]]:
        """The TLS and environment Secrets every Deployment reads, and a hash of the secret variables."""
        storage = args.storage
        http_secret = GeneratedSecret(f"{name}-http-secret", HTTP_SECRET_BYTES, pulumi.ResourceOptions(parent=self))
        by_variable: dict[str, pulumi.Input[str] | None] = {
            "REGISTRY_HTTP_SECRET": http_secret.value,
            "REGISTRY_STORAGE_S3_ACCESSKEY": storage.access_key,
            "REGISTRY_STORAGE_S3_SECRETKEY": storage.secret_key,
            **args.pods.env,
        }
        keys = env_secret_keys(storage, args.pods)  # the variables the pod template takes from the Secret, and their keys
        values = pulumi.Output.all(*(by_variable[variable] for variable in keys))
        # Only a keyed hash of these values enters the pod template, so the template need not be secret.
        env_hash = pulumi.Output.unsecret(pulumi.Output.all(self._hash_key, values).apply(lambda kv: roll_hash(kv[0], *kv[1])))
        secrets: list[pulumi.Resource] = []
        if args.certificate_secret is None:  # certificate.secretName: the Pods mount that one instead
            secrets.append(
                Secret(
                    f"{name}-tls",
                    {**meta, "name": f"{NAME}-tls"},
                    "kubernetes.io/tls",
                    pulumi.Output.all(args.instance.cert_pem, args.instance.key_pem).apply(
                        lambda ck: {"tls.crt": b64(ck[0]), "tls.key": b64(ck[1])}
                    ),
                    inside,
                )
            )
        secrets += [
            Secret(
                f"{name}-env",
                {**meta, "name": f"{NAME}-env"},
                "Opaque",
                values.apply(lambda vs: {key: b64(v) for key, v in zip(keys.values(), vs, strict=True)}),
                inside,
            ),
        ]
        return secrets, env_hash

    def _claim(
        self, name: str, args: RegistryDeploymentArgs, meta: dict[str, object], inside: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """The PersistentVolumeClaim of driver `filesystem` (kept on destroy with `retainData`); none for S3."""
        storage = args.storage
        if storage.driver != "filesystem":
            return []
        claim_spec: dict[str, object] = {
            "accessModes": [storage.access_mode],
            "resources": {"requests": {"storage": storage.size}},
        }
        if storage.storage_class:
            claim_spec["storageClassName"] = storage.storage_class
        claim = PersistentVolumeClaim(
            f"{name}-data",
            {**meta, "name": f"{NAME}-data"},
            claim_spec,
            pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(retain_on_delete=args.retain_data)),
        )
        return [claim]
