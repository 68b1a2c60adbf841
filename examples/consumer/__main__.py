"""A cluster stack's side of the contract: read the registry's outputs and derive what nodes need.

Run in the same backend as the registry stack (and with its passphrase, to read secret outputs).
"""

import pulumi

registry = pulumi.StackReference(pulumi.Config().require("registryStack"))
endpoint = registry.require_output("endpoint")

# What a node provisioning step writes: containerd's hosts.toml and the CA beside it.
pulumi.export("registryEndpoint", endpoint)
pulumi.export("caPath", endpoint.apply(lambda e: f"/etc/containerd/certs.d/{e}/ca.crt"))
pulumi.export("caCertificate", registry.require_output("caCertificate"))
pulumi.export("hostsToml", registry.require_output("containerdHostsToml"))
pulumi.export("pullSecretName", registry.require_output("pullSecretName"))
# Secret outputs stay secret through the reference.
pulumi.export("dockerConfigJson", registry.require_output("dockerConfigJson"))
