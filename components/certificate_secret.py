"""Setting `certificate.secretName`: the registry's certificate from a `kubernetes.io/tls` Secret kept by someone else.

cert-manager (or any other tool) writes `tls.crt`, `tls.key` and usually `ca.crt` into a Secret of
the registry's namespace and renews it there. Every `preview` and `up` reads that Secret with the
stack's provider, checks it as the PEM form is checked (`own_certificate.check_tls_secret`) and
passes on only what is public: the certificate, the CA nodes must trust, the expiry, and a keyed
hash that rolls the Pods when the certificate changes. The Pods mount the Secret itself: the stack
copies the key nowhere. The read keeps the whole Secret in the state, as every read does: `data`
and `metadata` (where a `kubectl apply` leaves a copy of the data) are marked secret, so the state
holds them encrypted.

The read waits for the namespace: its ID is known only once the namespace exists, so on the first
`up` of a stack the namespace is created first and the read then fails naming the Secret and its
namespace, where cert-manager's `Certificate` must put it (docs/certificates.md).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes import Provider
from pulumi_kubernetes import _utilities as k8s_sdk

from .generated_secret import GeneratedSecret
from .own_certificate import SecretCertificate, check_tls_secret, roll_hash

HASH_KEY_BYTES = 32


class ExistingSecret(pulumi.CustomResource):
    """A read of `kubernetes:core/v1:Secret` `<namespace>/<name>` (as `Secret.get` does it), the
    stack owning nothing of it; `data`, `stringData` and `metadata` secret in the state.
    """

    type: pulumi.Output[str]
    data: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, secret_id: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
        props: dict[str, Any] = {k: None for k in ("apiVersion", "data", "immutable", "kind", "metadata", "stringData", "type")}
        read = pulumi.ResourceOptions(id=secret_id, additional_secret_outputs=["data", "stringData", "metadata"])
        defaults = k8s_sdk.get_resource_opts_defaults()
        super().__init__(
            "kubernetes:core/v1:Secret",
            name,
            props,
            pulumi.ResourceOptions.merge(defaults, pulumi.ResourceOptions.merge(opts, read)),
        )


class CertificateSecretError(pulumi.RunError):
    """The named Secret is not a certificate the registry can serve at its endpoint."""


def checked(secret_type: Any, data: Any, where: str, endpoint_host: str) -> SecretCertificate:
    """The Secret's public part, or an error naming the Secret and every problem (no values)."""
    certificate, problems = check_tls_secret(secret_type, data, endpoint_host)
    if certificate is None:
        raise CertificateSecretError(
            f"private-registry:certificate.secretName: Secret {where} " + "; ".join(problems) + " (docs/certificates.md)"
        )
    if not certificate.has_ca:
        pulumi.log.warn(
            f"certificate.secretName: Secret {where} has no ca.crt: caCertificate (node trust, containerdHostsToml) is the "
            "last certificate of its tls.crt; with a publicly trusted issuer nodes and clients may trust their system CAs"
        )
    return certificate


class CertificateFromSecret(pulumi.ComponentResource):
    """The Secret `name` of `namespace`, read after `namespace_ready` resolves; public outputs only."""

    cert_pem: pulumi.Output[str]
    ca_cert_pem: pulumi.Output[str]
    expires_at: pulumi.Output[str]
    roll_hash: pulumi.Output[str]  # for the pod template: changes when the certificate does

    def __init__(
        self,
        name: str,
        secret: tuple[str, str],
        namespace_ready: pulumi.Output[Any],
        endpoint_host: str,
        provider: Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("private-registry:index:CertificateFromSecret", name, None, opts)
        namespace, secret_name = secret
        where = f"{namespace}/{secret_name}"
        read = ExistingSecret(
            f"{name}-secret",
            namespace_ready.apply(lambda _: where),
            pulumi.ResourceOptions(parent=self, provider=provider),
        )
        hash_key = GeneratedSecret(f"{name}-hash-key", HASH_KEY_BYTES, pulumi.ResourceOptions(parent=self))
        public = pulumi.Output.unsecret(
            pulumi.Output.all(read.type, read.data).apply(lambda td: checked(td[0], td[1], where, endpoint_host))
        )
        self.cert_pem = public.apply(lambda c: c.cert_pem)
        self.ca_cert_pem = public.apply(lambda c: c.ca_pem)
        self.expires_at = public.apply(lambda c: c.expires_at)
        self.roll_hash = pulumi.Output.unsecret(
            pulumi.Output.all(hash_key.value, public).apply(lambda kc: roll_hash(kc[0], kc[1].cert_pem, kc[1].ca_pem))
        )
        self.register_outputs({"caCertPem": self.ca_cert_pem, "expiresAt": self.expires_at})
