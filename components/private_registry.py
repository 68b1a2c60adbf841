"""The top component: one graph from settings to TLS, users, container and pull secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.generated_secret import GeneratedSecret
from components.htpasswd import Htpasswd, HtpasswdArgs
from components.pull_secret import PullSecrets, PullSecretsArgs, containerd_hosts_toml, docker_config_json
from components.registry import RegistryContainer, RegistryContainerArgs
from components.settings import Settings
from components.tls import RegistryTls, RegistryTlsArgs, ca_subject_for

HTTP_SECRET_BYTES = 32


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

        tls = RegistryTls(
            f"{name}-tls",
            RegistryTlsArgs(
                hostnames=s.hostnames,
                ip_addresses=s.ip_addresses,
                subject=s.subject,
                ca_subject=ca_subject_for(s.subject, s.stack),
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
        http_secret = GeneratedSecret(f"{name}-http-secret", HTTP_SECRET_BYTES, child)
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
                http_secret=http_secret.value,
                realm=f"private-registry {s.stack}",
            ),
            child,
        )
        pull_user = s.pull_secret.user
        # Only the pull user's password feeds the pull secrets: another user's change leaves them alone.
        self.docker_config_json: pulumi.Output[str] = pulumi.Output.secret(
            users.user_passwords[pull_user].apply(lambda pw: docker_config_json(s.endpoint, pull_user, pw))
        )
        PullSecrets(
            f"{name}-pull-secrets",
            PullSecretsArgs(
                name=s.pull_secret.name,
                namespaces=s.pull_secret.namespaces,
                docker_config_json=self.docker_config_json,
                patch_default_service_account=s.pull_secret.patch_default_service_account,
                kubernetes=s.kubernetes,
            ),
            child,
        )

        self.endpoint = pulumi.Output.from_input(s.endpoint)
        self.ca_certificate = tls.ca_cert_pem
        self.certificate_expires_at = tls.expires_at
        self.usernames = pulumi.Output.from_input([u.name for u in s.users])
        self.passwords = users.passwords
        self.containerd_hosts_toml = pulumi.Output.from_input(containerd_hosts_toml(s.endpoint))
        self.container_name = registry.container_name
        self.data_volume = registry.volume_name
        self.pull_secret_name = pulumi.Output.from_input(s.pull_secret.name)
        self.pull_secret_namespaces = pulumi.Output.from_input(list(s.pull_secret.namespaces))
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack outputs, named as the contract with cluster stacks says (DESIGN.md §5)."""
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
            "containerName": self.container_name,
            "dataVolume": self.data_volume,
        }
