"""The top component: one graph from settings to TLS, users, container and pull secrets."""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi_kubernetes import Provider

from .args import RegistrySettings
from .certificate_secret import CertificateFromSecret
from .claims import claims, conflicts
from .distribution import Instance
from .docker_engine import DockerSettingError, stack_connection
from .htpasswd import Htpasswd, HtpasswdArgs, only_users
from .kube_provider import handed_in_provider, kubernetes_provider
from .mirrors import MIRROR_USER, Mirror
from .model import DockerTarget, KubernetesTarget, ReadOnlyInstance, Settings, SettingsError, User
from .names import image_registry
from .node_trust import NodeTrust, NodeTrustArgs, containerd_hosts_toml
from .pull_gate import PullGate, PullGateArgs
from .pull_secret import PullSecrets, PullSecretsArgs
from .registry_host import HostMirror, RegistryHost, RegistryHostArgs
from .registry_kube import (
    NAME,
    PULL_NAME,
    ImagePull,
    KubeMirror,
    PullDeployment,
    RegistryDeployment,
    RegistryDeploymentArgs,
    mirror_workload,
    selector,
)
from .seeded_images import SeededImages, SeededImagesArgs
from .settings import load_settings
from .target_guard import UNSET, StackTarget
from .tls import RegistryTls, RegistryTlsArgs


@dataclass(frozen=True)
class PrivateRegistryArgs:
    """The settings of one registry (plain values), checked by `of`.

    Which cluster they go to is known only to `PrivateRegistry`: the one the settings name
    (`kubernetes.context`, render mode), or a kubernetes.Provider the program hands in (`opts`).
    """

    raw: Mapping[str, Any]
    instance: str
    secret_keys: frozenset[str] = frozenset()

    @property
    def settings(self) -> Settings:
        """The validated settings for the cluster they name (or none); raises `SettingsError`."""
        return self.validated(None)

    def validated(self, kubernetes_provider: str | None) -> Settings:
        """The validated settings, with the cluster a handed-in provider of that name (or the one they name)."""
        return load_settings(self.raw, self.instance, self.secret_keys, kubernetes_provider=kubernetes_provider)

    @classmethod
    def of(cls, settings: RegistrySettings, instance: str, secret_keys: frozenset[str] | None = None) -> PrivateRegistryArgs:
        """Validate `settings` (keys and meaning as the stack settings) for the registry `instance`.

        `instance` names what the registry creates by default (container `registry-<instance>`,
        volume `registry-data-<instance>`, namespace `registry-<instance>`, the CA's name): give
        each registry of a program its own, e.g. `f"{pulumi.get_stack()}-cache"`. Raises
        `SettingsError` naming every bad setting, never showing a secret: nothing of `secret_keys`
        (the stack's encrypted config keys), nor what the settings table marks secret (passwords, the
        private key, S3 keys, `pods.env`; see `settings.secret_values`).

        Raised here is what is wrong whatever the cluster; what depends on it (a setting that needs
        a cluster while they name none, or one that names a cluster beside a handed-in provider)
        is raised by `PrivateRegistry`, which knows whether the program hands it a kubernetes.Provider.
        """
        args = cls(plain_settings(settings), instance, secret_keys or frozenset())
        try:
            args.validated(None)
        except SettingsError as own:
            try:
                args.validated("<handed in>")
            except SettingsError as handed:
                either_way = [problem for problem in own.problems if problem in handed.problems]
                if either_way:
                    raise SettingsError(either_way) from None
        return args


def plain_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as the stack config would hold them (tuples as lists); Outputs are refused.

    The checks need the values themselves (a password's length, a port's range), so every value
    must be known when the program runs, not an `Output` of another resource.
    """
    problems = []
    plain: dict[str, Any] = {}
    for key, value in settings.items():
        try:
            plain[key] = json.loads(json.dumps(value, default=_refuse))
        except TypeError as error:
            problems.append(f"{key}: {error}")
    if problems:
        raise SettingsError(problems)
    return plain


def _refuse(value: object) -> object:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    kind = "a pulumi.Output" if isinstance(value, pulumi.Output) else f"of type {type(value).__name__}"
    raise TypeError(f"is {kind}; settings take plain values (str, int, bool, lists and dicts of them)")


def image_pull(s: Settings) -> ImagePull | None:
    """Credentials for the registry image's own registry, when `sourceRegistries` has them (target
    `kubernetes`: the nodes pull it with a pull secret of the stack's namespace).
    """
    registry = image_registry(s.image)
    found = s.source_registries.get(registry) if registry else None
    if found is None or found.username is None or found.password is None:
        return None
    return ImagePull(registry or "", found.username, found.password)


def tls_args(s: Settings) -> RegistryTlsArgs:
    """The certificate's settings, lifetimes in hours as pulumi-tls takes them."""
    return RegistryTlsArgs(
        hostnames=s.hostnames,
        ip_addresses=s.ip_addresses,
        subject=s.subject,
        stack=s.stack,
        key_algorithm=s.key_algorithm,
        rsa_bits=s.rsa_bits,
        ecdsa_curve=s.ecdsa_curve,
        validity_hours=s.validity_days * 24,
        ca_validity_hours=s.ca_validity_days * 24,
        early_renewal_hours=s.early_renewal_days * 24,
        own=s.own_certificate,
    )


@dataclass(frozen=True)
class Roles:
    """The instances a registry runs, for its target's component: the writer, the read-only one
    beside it (with its `pullPort`) or none, and a mirror's per upstream.
    """

    writer: Instance
    reader: tuple[Instance, ReadOnlyInstance] | None
    mirrors: list[tuple[Instance, Mirror]]


class RegistryConflictError(ValueError):
    """Two registries of one program want the same name, port or object."""


# Per program run, told apart by its resource monitor (one per `pulumi up`/`preview`; under mocks,
# one per `set_mocks` call): what each registry created so far holds (claim -> (registry, setting)).
_TAKEN: weakref.WeakKeyDictionary[object, dict[str, tuple[str, str]]] = weakref.WeakKeyDictionary()


def _claim(name: str, s: Settings) -> None:
    run = runtime_settings.SETTINGS.monitor
    if run is None:  # not inside a Pulumi program run: nothing to share names with
        return
    taken = _TAKEN.setdefault(run, {})
    problems = conflicts(name, s, taken)
    if problems:
        hint = " (under mocks: call pulumi.runtime.set_mocks once per program run)" if isinstance(run, MockMonitor) else ""
        raise RegistryConflictError("; ".join(problems) + hint)
    taken.update({claim: (name, setting) for claim, setting in claims(s).items()})


class PrivateRegistry(pulumi.ComponentResource):
    """A TLS + htpasswd registry (a container or a Deployment) and the pull secrets and node trust to use it."""

    _serving: list[pulumi.Resource]  # the registry's container or Deployment, once declared
    _certificate: RegistryTls | CertificateFromSecret  # what the registry serves (set with the registry)
    _pull_servers: list[pulumi.Resource]  # target docker: the containers serving pulls (with their files)
    _mirror_users: pulumi.Output[str]  # with mirrors: their htpasswd, every user and the mirrors' own credential

    def __init__(self, name: str, args: PrivateRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # A kubernetes.Provider in `opts` (or the parent's) is the cluster: no provider of the component's own.
        self._handed_in = handed_in_provider(opts)
        s = args.validated(self._handed_in._name if self._handed_in else None)
        _claim(name, s)  # before anything of this registry is registered
        super().__init__("private-registry:index:PrivateRegistry", name, None, opts)
        for warning in s.warnings:  # on every preview and up, for this program and any other user of the package
            pulumi.log.warn(warning, resource=self)
        child = pulumi.ResourceOptions(parent=self)
        # First of all: a changed target stops the run before any other resource is looked at.
        kubernetes = s.kubernetes.mode if s.kubernetes.configured else UNSET
        StackTarget(f"{name}-target", s.target.kind, kubernetes, child, s.pull_secret.push_user_namespaces)
        # Nothing issued with certificate.secretName: the Deployment's component reads that Secret.
        tls = RegistryTls(f"{name}-tls", tls_args(s), child) if s.certificate_secret is None else None
        # The stack switches pull secrets itself: a change of their credential rotates (htpasswd.py).
        # Target kubernetes rotates through the gate, which reaches the replicas by a kubeconfig context
        # (pull_gate.py): not with a handed-in provider.
        gateless = s.kubernetes.provider is not None and s.target.kind == "kubernetes"
        rotates = bool(s.pull_secret.namespaces) and s.kubernetes.mode == "cluster" and not gateless
        pull_user = s.pull_secret.user
        users = Htpasswd(
            f"{name}-users", HtpasswdArgs(users=s.users, cost=s.bcrypt_cost, pull_user=pull_user if rotates else None), child
        )
        provider = self._kubernetes_provider(name, s)
        # The mirrors' own credential, the one the pull secrets carry for the upstreams' names (mirrors.py).
        mirror_password: pulumi.Input[str] = ""
        if s.mirrors:
            login = Htpasswd(f"{name}-mirror-login", HtpasswdArgs(users=[User(MIRROR_USER)], cost=s.bcrypt_cost), child)
            mirror_password = login.user_passwords[MIRROR_USER]
            both = pulumi.Output.all(users.content, login.content)
            self._mirror_users = pulumi.Output.secret(both.apply(lambda contents: str(contents[0]) + str(contents[1])))
        self.target_outputs = self._registry(name, s, tls, users, provider) | self._mirror_outputs(s)
        certificate = self._certificate  # the stack's or yours: what nodes and clients trust
        if s.images:
            self.target_outputs["images"] = self._seed(name, s, users)
        # Only the pull user's password: another user's change leaves the pull secrets alone.
        username, password = self._pull_credential(name, s, users) if rotates else (pull_user, users.user_passwords[pull_user])
        pull_secrets = PullSecrets(
            f"{name}-pull-secrets",
            PullSecretsArgs(
                name=s.pull_secret.name,
                namespaces=s.pull_secret.namespaces,
                endpoint=s.endpoint,  # as the kubelet matches it: the registry in the image's name
                username=username,
                password=password,
                patch_default_service_account=s.pull_secret.patch_default_service_account,
                provider=provider,
                mirrored=[m.upstream for m in s.mirrors],
                mirror_password=mirror_password,
                after=self._pull_servers,
            ),
            child,
        )
        node_trust = self._node_trust(name, s, provider)
        self.endpoint = pulumi.Output.from_input(s.endpoint)
        self.ca_certificate = certificate.ca_cert_pem
        self.certificate_expires_at = certificate.expires_at
        # The names the registry accepts now, and their passwords (a rotation's `<user>~rotated` too).
        self.usernames = users.usernames
        self.passwords = users.passwords
        self.docker_config_json = pull_secrets.docker_config_json
        self.containerd_hosts_toml = node_trust.hosts_toml
        self.target = pulumi.Output.from_input(s.target.kind)
        self.pull_secret_name = pulumi.Output.from_input(s.pull_secret.name)
        self.pull_secret_namespaces = pulumi.Output.from_input(list(s.pull_secret.namespaces))
        self.register_outputs(self.outputs())

    def _seed(self, name: str, s: Settings, users: Htpasswd) -> pulumi.Output[dict[str, str]]:
        """The declared images, copied in as the first push user once the registry runs; their digests."""
        pusher = next(u.name for u in s.users if u.access == "push")  # settings refuse a stack without one
        args = SeededImagesArgs(
            images=s.images,
            sources=s.source_registries,
            endpoint=s.endpoint,
            username=pusher,
            password=users.login_password(pusher),  # the old password while a rotation keeps it
            ca_cert_pem=self._certificate.ca_cert_pem,
            registry=self._serving,
        )
        return SeededImages(f"{name}-images", args, pulumi.ResourceOptions(parent=self)).digests

    def _node_trust(self, name: str, s: Settings, provider: Provider | None) -> NodeTrust:
        """What makes the nodes trust the registry: hosts.toml, and the DaemonSet that installs it when asked."""
        daemonset = s.node_trust.mode == "daemonset"
        args = NodeTrustArgs(
            stack=s.stack,
            endpoint=s.endpoint,
            pull_endpoint=s.pull_endpoint if s.read_only is not None else None,  # nodes only pull
            ca_cert_pem=self._certificate.ca_cert_pem,
            daemonset_image=s.node_trust.image if daemonset else None,
            namespace=s.node_trust.namespace,
            certs_dir=s.node_trust.certs_dir,
            context=s.kubernetes.context if s.kubernetes.mode == "cluster" else None,  # cleanup: not in render
            local_registry_hosting=s.local_registry_hosting,
            provider=provider,
            mirrors={m.upstream: containerd_hosts_toml(m.upstream, m.endpoint(s.endpoint_host)) for m in s.mirrors},
        )
        return NodeTrust(f"{name}-node-trust", args, pulumi.ResourceOptions(parent=self))

    def _pull_credential(self, name: str, s: Settings, users: Htpasswd) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """What the pull secrets carry. Target `kubernetes`: through the gate that waits until every
        replica serving pulls accepts it (pull_gate.py). Target `docker`: the pull secrets wait for the
        containers serving pulls and their files (a new htpasswd file is read at the next request).
        """
        target = s.target
        if not isinstance(target, KubernetesTarget):
            return users.pull_username, users.pull_password
        serving = [PULL_NAME if s.read_only is not None else NAME, *(mirror_workload(m.slug) for m in s.mirrors)]
        gate = PullGate(
            f"{name}-pull-gate",
            PullGateArgs(
                username=users.pull_username,
                password=users.pull_password,
                namespace=target.namespace,
                selectors=[selector(workload) for workload in serving],
                context=s.kubernetes.context,
                after=self._serving,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        return gate.username, gate.password

    def _kubernetes_provider(self, name: str, s: Settings) -> Provider | None:
        """One Kubernetes provider for every Kubernetes resource, only when there is one: a Docker
        stack without pull secrets and node trust needs no cluster access at all.
        """
        daemonset = s.node_trust.mode == "daemonset"
        if not (s.pull_secret.namespaces or daemonset or s.local_registry_hosting or s.target.kind == "kubernetes"):
            return None
        if self._handed_in is not None:
            return self._handed_in
        # Until 2026-12 the provider was a child of PullSecrets, named after it.
        old = pulumi.Alias(
            name=f"{name}-pull-secrets-k8s",
            parent=pulumi.create_urn(f"{name}-pull-secrets", "private-registry:index:PullSecrets", parent=self),
        )
        return kubernetes_provider(f"{name}-k8s", s.kubernetes, pulumi.ResourceOptions(parent=self, aliases=[old]))

    def _registry(
        self, name: str, s: Settings, tls: RegistryTls | None, users: Htpasswd, provider: Provider | None
    ) -> dict[str, pulumi.Output]:
        """The registry on its target; returns the target's own outputs."""
        if tls is not None:
            self._certificate = tls
        instance = Instance(
            image=s.image,
            pull_image=s.pull_image,
            realm=f"private-registry {s.stack}",
            delete_enabled=s.delete_enabled,
            health_timeout_seconds=s.health_timeout_seconds,
            cert_pem=tls.cert_pem if tls else "",  # none with certificate.secretName: the Pods mount that Secret
            key_pem=tls.private_key_pem if tls else "",
            htpasswd=users.content,
            metrics=s.metrics.enabled,
        )
        # With a read-only instance the writer accepts push users only; everyone reads beside it.
        pushers = {u.name for u in s.users if u.access == "push"}
        writer = (
            instance if s.read_only is None else replace(instance, htpasswd=users.content.apply(lambda c: only_users(c, pushers)))
        )
        reader = None if s.read_only is None else (replace(instance, role="read-only"), s.read_only)
        roles = Roles(writer, reader, [(self._mirror_instance(instance, m), m) for m in s.mirrors])
        target = s.target
        if isinstance(target, KubernetesTarget):
            assert provider is not None  # a Kubernetes target always has its provider
            outputs = self._on_cluster(name, s, target, roles, provider)
        else:
            outputs = self._on_host(name, s, target, roles)
        if s.read_only is not None:
            outputs["pullEndpoint"] = pulumi.Output.from_input(s.pull_endpoint)
        return outputs

    def _on_cluster(
        self, name: str, s: Settings, target: KubernetesTarget, roles: Roles, provider: Provider
    ) -> dict[str, pulumi.Output]:
        """Target kubernetes: the registry's Deployments (registry_kube.py)."""
        where = RegistryDeploymentArgs(
            instance=roles.writer,
            namespace=target.namespace,
            replicas=target.replicas,
            service_type=target.service_type,
            service=target.service,
            certificate_secret=s.certificate_secret,
            endpoint_host=s.endpoint_host,
            port=s.port,
            storage=target.storage,
            retain_data=s.retain_data,
            provider=provider,
            pull=None if roles.reader is None else PullDeployment(roles.reader[0], target.pull_replicas, roles.reader[1].port),
            pods=target.pods,
            image_pull=image_pull(s),
            service_monitor=s.metrics.service_monitor,
            metrics_allow_from=s.metrics.allow_from,
            mirrors=[KubeMirror(instance, m.port, m.size) for instance, m in roles.mirrors],
        )
        deployment = RegistryDeployment(f"{name}-deployment", where, pulumi.ResourceOptions(parent=self))
        if deployment.certificate is not None:
            self._certificate = deployment.certificate
        self._serving, self._pull_servers = [deployment], []
        outputs = {
            "registryNamespace": deployment.namespace,
            "registryDeployment": deployment.deployment_name,
            "registryStorage": deployment.storage,
        }
        if deployment.pull_deployment_name is not None:
            outputs["pullDeployment"] = deployment.pull_deployment_name
        return outputs

    def _on_host(self, name: str, s: Settings, target: DockerTarget, roles: Roles) -> dict[str, pulumi.Output]:
        """Target docker: the registry's containers on the Docker host (registry_host.py)."""
        try:  # the Docker host the docker provider reaches: the program's own steps go there too
            docker_host = stack_connection()
        except DockerSettingError as err:  # the setting, not a traceback: nothing has been created
            raise pulumi.RunError(str(err)) from None
        args = RegistryHostArgs(
            writer=roles.writer,
            target=target,
            port=s.port,
            retain_data=s.retain_data,
            docker_host=docker_host,
            read_only=roles.reader,
            mirrors=[HostMirror(instance, m) for instance, m in roles.mirrors],
            moved_from=self,
            # Until 2026-12 the HTTP secret was a child of this component, named after it.
            http_secret_aliases=[pulumi.Alias(name=f"{name}-http-secret", parent=self)],
        )
        host = RegistryHost(name, args, pulumi.ResourceOptions(parent=self))
        self._serving, self._pull_servers = [host.writer], list(host.pull_servers)
        return dict(host.outputs)

    def _mirror_instance(self, instance: Instance, mirror: Mirror) -> Instance:
        """A mirror's instance: every user, and the mirrors' own credential, which only mirrors accept."""
        return replace(instance, role="mirror", mirror=mirror, htpasswd=self._mirror_users)

    def _mirror_outputs(self, s: Settings) -> dict[str, pulumi.Output]:
        """Where each mirror is, and the `hosts.toml` that sends the nodes' pulls of its upstream there."""
        if not s.mirrors:
            return {}
        host = s.endpoint_host
        return {
            "mirrors": pulumi.Output.from_input({m.upstream: m.endpoint(host) for m in s.mirrors}),
            "mirrorHostsToml": pulumi.Output.from_input(
                {m.upstream: containerd_hosts_toml(m.upstream, m.endpoint(host)) for m in s.mirrors}
            ),
        }

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack outputs, named as the contract with cluster stacks says (README "Stack outputs")."""
        return {
            "endpoint": self.endpoint,
            "caCertificate": self.ca_certificate,
            "certificateExpiresAt": self.certificate_expires_at,
            "usernames": self.usernames,
            "passwords": self.passwords,
            "dockerConfigJson": self.docker_config_json,
            "containerdHostsToml": self.containerd_hosts_toml,
            "pullSecretName": self.pull_secret_name,
            "pullSecretNamespaces": self.pull_secret_namespaces,
            "target": self.target,
            **self.target_outputs,
        }
