"""Node trust: what a node needs so that its container runtime trusts the registry's CA.

A pull secret carries credentials, not trust: every node must also trust the CA, or each pull fails
with an x509 error. containerd reads `certs.d/<endpoint>/hosts.toml` with the CA beside it as
`ca.crt` (its `config_path` layout); a node provisioning step installs both from the outputs.
"""

from __future__ import annotations

CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d"


def containerd_hosts_toml(endpoint: str) -> str:
    """`certs.d/<endpoint>/hosts.toml` for containerd nodes; the CA goes beside it as `ca.crt`."""
    return (
        f'server = "https://{endpoint}"\n'
        "\n"
        f'[host."https://{endpoint}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
        f'  ca = "{CONTAINERD_CERTS_DIR}/{endpoint}/ca.crt"\n'
    )
