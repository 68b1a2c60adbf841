"""The top component: one graph from settings to TLS, users, container and pull secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.htpasswd import Htpasswd, HtpasswdArgs
from components.kube_provider import kubernetes_provider
from components.node_trust import NodeTrust, NodeTrustArgs
from components.pull_secret import PullSecrets, PullSecretsArgs
from components.registry import RegistryContainer, RegistryContainerArgs
from components.registry_kube import PodSettings, RegistryDeployment, RegistryDeploymentArgs
from components.settings import Settings
from components.target_guard import UNSET, StackTarget
from components.tls import RegistryTls, RegistryTlsArgs


@dataclass(frozen=True)
class PrivateRegistryArgs:
    """The validated settings of the stack."""

    settings: Settings


class PrivateRegistry(pulumi.ComponentResource):
    """A TLS + htpasswd registry container and the pull secrets and node trust to use it."""

    def __init__(self, name: str, args: PrivateRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:PrivateRegistry", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        # First of all: a changed target stops the run before any other resource is looked at.
        StackTarget(f"{name}-target", s.target, s.kubernetes.mode if s.kubernetes.configured else UNSET, child)

        tls = RegistryTls(
            f"{name}-tls",
            RegistryTlsArgs(
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
            ),
            child,
        )
        users = Htpasswd(f"{name}-users", HtpasswdArgs(users=s.users, cost=s.bcrypt_cost), child)
        # One Kubernetes provider for every Kubernetes resource, only when there is one: a Docker
        # stack without pull secrets and node trust needs no cluster access at all.
        daemonset = s.node_trust.mode == "daemonset"
        kube_target = s.target == "kubernetes"
        provider = None
        if s.pull_secret.namespaces or daemonset or s.local_registry_hosting or kube_target:
            # Until 2026-12 the provider was a child of PullSecrets, named after it.
            old = pulumi.Alias(
                name=f"{name}-pull-secrets-k8s",
                parent=pulumi.create_urn(f"{name}-pull-secrets", "private-registry:index:PullSecrets", parent=self),
            )
            provider = kubernetes_provider(f"{name}-k8s", s.kubernetes, pulumi.ResourceOptions(parent=self, aliases=[old]))
        realm = f"private-registry {s.stack}"
        self.target_outputs: dict[str, pulumi.Output] = {}
        if kube_target and provider is not None:
            deployment = RegistryDeployment(
                f"{name}-deployment",
                RegistryDeploymentArgs(
                    namespace=s.namespace,
                    replicas=s.replicas,
                    service_type=s.service_type,
                    port=s.port,
                    pod=PodSettings(s.image, s.pull_image, realm, s.delete_enabled, s.storage),
                    retain_data=s.retain_data,
                    health_timeout_seconds=s.health_timeout_seconds,
                    cert_pem=tls.cert_pem,
                    key_pem=tls.private_key_pem,
                    htpasswd=users.content,
                    provider=provider,
                ),
                child,
            )
            self.target_outputs = {
                "registryNamespace": deployment.namespace,
                "registryDeployment": deployment.deployment_name,
                "registryStorage": deployment.storage,
            }
        else:
            registry = RegistryContainer(
                f"{name}-registry",
                RegistryContainerArgs(
                    image=s.image,
                    pull_image=s.pull_image,
                    container_name=s.container_name,
                    data_volume=s.data_volume,
                    retain_data=s.retain_data,
                    delete_enabled=s.delete_enabled,
                    health_timeout_seconds=s.health_timeout_seconds,
                    port=s.port,
                    cert_pem=tls.cert_pem,
                    key_pem=tls.private_key_pem,
                    htpasswd=users.content,
                    realm=realm,
                    # Until 2026-12 the HTTP secret was a child of this component, named after it.
                    http_secret_aliases=[pulumi.Alias(name=f"{name}-http-secret", parent=self)],
                ),
                child,
            )
            self.target_outputs = {"containerName": registry.container_name, "dataVolume": registry.volume_name}
        pull_user = s.pull_secret.user
        pull_secrets = PullSecrets(
            f"{name}-pull-secrets",
            PullSecretsArgs(
                name=s.pull_secret.name,
                namespaces=s.pull_secret.namespaces,
                endpoint=s.endpoint,
                username=pull_user,
                # Only the pull user's password: another user's change leaves the pull secrets alone.
                password=users.user_passwords[pull_user],
                patch_default_service_account=s.pull_secret.patch_default_service_account,
                provider=provider,
            ),
            child,
        )
        node_trust = NodeTrust(
            f"{name}-node-trust",
            NodeTrustArgs(
                stack=s.stack,
                endpoint=s.endpoint,
                ca_cert_pem=tls.ca_cert_pem,
                daemonset_image=s.node_trust.image if daemonset else None,
                namespace=s.node_trust.namespace,
                certs_dir=s.node_trust.certs_dir,
                local_registry_hosting=s.local_registry_hosting,
                provider=provider,
            ),
            child,
        )

        self.endpoint = pulumi.Output.from_input(s.endpoint)
        self.ca_certificate = tls.ca_cert_pem
        self.certificate_expires_at = tls.expires_at
        self.usernames = pulumi.Output.from_input([u.name for u in s.users])
        self.passwords = users.passwords
        self.docker_config_json = pull_secrets.docker_config_json
        self.containerd_hosts_toml = node_trust.hosts_toml
        self.target = pulumi.Output.from_input(s.target)
        self.pull_secret_name = pulumi.Output.from_input(s.pull_secret.name)
        self.pull_secret_namespaces = pulumi.Output.from_input(list(s.pull_secret.namespaces))
        self.register_outputs(self.outputs())

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
