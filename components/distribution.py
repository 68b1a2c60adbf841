"""The registry's contract: how one Distribution (registry v3) instance is configured for its role.

Both targets run the same registry the same way; they only deliver it differently (a container's
environment and uploads, or a Pod's environment, Secrets and volumes). What they share is here:
the `REGISTRY_*` variables, the storage section, the paths inside the instance, its ports and its
health check. Nothing in this module knows about Pulumi or a target.

Roles:
- `read-write`: pushes, pulls and (with `deleteEnabled`) deletes; purges abandoned uploads.
- `read-only`: the same storage, write handlers dropped (an authenticated write gets 405, an
  unauthenticated one 401), no blob descriptor cache (never stale after a collection). Upload
  purging is off: read-only mode does not stop it, and on shared storage it would delete the
  writer's uploads in progress. The maintenance section is set as one map: the single variable
  `REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED` makes registry 3.1.2 panic at start
  (`readonly config key must contain additional keys`, tried 2026-12-02).
- `mirror`: a pull-through cache of one upstream (setting `mirrors`) on storage of its own: proxy
  mode (no pushes; the proxy expires what it fetched after `ttl` and keeps its own schedule), the
  upstream's credentials, and the upstream's CA added to the system's (`SSL_CERT_DIR`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

# Types only: the dynamic providers' process imports this module for its paths (config_volume.py,
# pull_gate.py) on every preview, and the settings modules cost it tens of milliseconds there.
if TYPE_CHECKING:
    import pulumi

    from .mirrors import Mirror
    from .model import StorageSettings

Role = Literal["read-write", "read-only", "mirror"]
ROLES: tuple[Role, ...] = ("read-write", "read-only", "mirror")

PORT = 5000  # the TLS listener inside the instance; the published port is the target's
STORAGE_ROOT = "/var/lib/registry"
CERT_PATH = "/etc/distribution/certs/tls.crt"
KEY_PATH = "/etc/distribution/certs/tls.key"
HTPASSWD_PATH = "/etc/distribution/auth/htpasswd"
UPSTREAM_CA_PATH = "/etc/distribution/upstream/ca.crt"  # a mirror's upstream CA
CERTS_DIR, AUTH_DIR = CERT_PATH.rsplit("/", 1)[0], HTPASSWD_PATH.rsplit("/", 1)[0]
DRAIN_SECONDS = 5  # in-flight requests finish this long after a stop signal
RUN_AS = 1000  # the registry's user and group on both targets: any non-root id (the binary needs no user of its own)


def container_security() -> dict[str, object]:
    """The security context of a registry container on target `kubernetes` (its Pods and the gc Job):
    non-root, read-only root, no capability, no privilege escalation. A new object on each call."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


HTTP_SECRET_BYTES = 32
# The debug listener serves `/debug/health` (which includes the storage driver's health) over plain
# HTTP on the instance's own loopback: the health check needs no TLS client in the image (busybox
# `wget` cannot complete TLS with a Go 1.25+ server), and the port is never published.
DEBUG_ADDR = "127.0.0.1:5001"
# With metrics, the debug listener also serves Prometheus' `/metrics`, on every address of the
# instance (never a published or Service port: scraped from the Docker network or the Pod network).
METRICS_PORT = 5001
METRICS_PATH = "/metrics"


def storage_variables(storage: StorageSettings) -> dict[str, str]:
    """The storage driver's `REGISTRY_STORAGE_*` variables, credentials left out (`secret_variables`)."""
    if storage.driver == "filesystem":
        return {"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": STORAGE_ROOT}
    variables = {
        "REGISTRY_STORAGE": "s3",
        "REGISTRY_STORAGE_S3_BUCKET": storage.bucket,
        "REGISTRY_STORAGE_S3_REGION": storage.region,
        "REGISTRY_STORAGE_S3_ROOTDIRECTORY": storage.root_directory,
        # Clients get the blobs through the registry, not redirected to the bucket: nodes need to
        # reach (and trust) only the registry, and no presigned URL leaves it.
        "REGISTRY_STORAGE_REDIRECT_DISABLE": "true",
    }
    if storage.endpoint:
        variables.update(
            {
                "REGISTRY_STORAGE_S3_REGIONENDPOINT": storage.endpoint,
                "REGISTRY_STORAGE_S3_FORCEPATHSTYLE": "true",  # S3-compatible servers rarely serve bucket subdomains
                "REGISTRY_STORAGE_S3_SECURE": "true" if storage.secure else "false",
            }
        )
    return variables


def secret_variables(storage: StorageSettings) -> dict[str, str]:
    """The variables whose values are secrets -> a short key to keep each under (e.g. in a Secret)."""
    variables = {"REGISTRY_HTTP_SECRET": "http-secret"}
    if storage.driver == "s3" and storage.access_key is not None:
        variables.update({"REGISTRY_STORAGE_S3_ACCESSKEY": "s3-access-key", "REGISTRY_STORAGE_S3_SECRETKEY": "s3-secret-key"})
    return variables


def mirror_variables(mirror: Mirror) -> dict[str, str]:
    """A mirror's proxy section: its upstream, how long it keeps what it fetched, its credentials and CA."""
    variables = {"REGISTRY_PROXY_REMOTEURL": mirror.remote_url, "REGISTRY_PROXY_TTL": mirror.ttl}
    if mirror.username is not None and mirror.password is not None:
        variables |= {"REGISTRY_PROXY_USERNAME": mirror.username, "REGISTRY_PROXY_PASSWORD": mirror.password}
    if mirror.ca is not None:
        # Go reads every file of each folder; the image's own CAs stay trusted.
        variables["SSL_CERT_DIR"] = "/etc/ssl/certs:" + UPSTREAM_CA_PATH.rsplit("/", 1)[0]
    return variables


def instance_variables(instance: Instance, storage: StorageSettings, http_secret: str | None = None) -> dict[str, str]:
    """The `REGISTRY_*` variables of one instance: TLS, htpasswd auth, its storage, draining, the
    debug listener for the health check, deletes as asked (never on a read-only instance) and the
    role's maintenance. `http_secret` None: the target delivers it another way (`secret_variables`).
    Only the instance's plain settings are read (not its TLS and htpasswd material).
    """
    role, realm, mirror = instance.role, instance.realm, instance.mirror
    variables = {
        "REGISTRY_HTTP_ADDR": f"0.0.0.0:{PORT}",
        "REGISTRY_HTTP_TLS_CERTIFICATE": CERT_PATH,
        "REGISTRY_HTTP_TLS_KEY": KEY_PATH,
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": realm,
        "REGISTRY_AUTH_HTPASSWD_PATH": HTPASSWD_PATH,
        **storage_variables(storage),
    }
    if http_secret is not None:
        # Without a fixed secret an upload in progress fails after a restart.
        variables["REGISTRY_HTTP_SECRET"] = http_secret
    variables.update(
        {
            "REGISTRY_HTTP_DRAINTIMEOUT": f"{DRAIN_SECONDS}s",
            "REGISTRY_HTTP_DEBUG_ADDR": DEBUG_ADDR,
            "REGISTRY_HEALTH_STORAGEDRIVER_ENABLED": "true",
            # Always explicit: the official image's own config.yml turns deletes on.
            "REGISTRY_STORAGE_DELETE_ENABLED": "true" if instance.delete_enabled and role == "read-write" else "false",
        }
    )
    if role == "read-only":
        maintenance = {"uploadpurging": {"enabled": False}, "readonly": {"enabled": True}}
        variables["REGISTRY_STORAGE_MAINTENANCE"] = json.dumps(maintenance)
        # No blob descriptor cache: after a garbage collection by the writer it would still name
        # deleted blobs, and a restart to clear it would interrupt pulls. Every blob is looked up in
        # storage instead (registry 3.1.2 logs "unknown cache type ..., caching disabled").
        variables["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] = ""
    if role == "mirror":
        assert mirror is not None, "a mirror instance needs its upstream"
        variables |= mirror_variables(mirror)
    if instance.metrics:
        variables |= {
            "REGISTRY_HTTP_DEBUG_ADDR": f"0.0.0.0:{METRICS_PORT}",
            "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED": "true",
            "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH": METRICS_PATH,
        }
    return variables


@dataclass(frozen=True)
class Instance:
    """One registry instance as either target runs it. The TLS and htpasswd material are Pulumi
    inputs (outputs of the certificate and the users); the rest is plain.
    """

    image: str
    pull_image: bool
    realm: str
    delete_enabled: bool
    health_timeout_seconds: int
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]
    htpasswd: pulumi.Input[str]
    role: Role = "read-write"
    mirror: Mirror | None = None  # role `mirror`: its upstream
    metrics: bool = False  # Prometheus `/metrics` on the debug listener (setting `metrics`)

    def variables(self, storage: StorageSettings, http_secret: str | None = None) -> dict[str, str]:
        """This instance's `REGISTRY_*` variables on `storage` (`instance_variables`)."""
        return instance_variables(self, storage, http_secret)


def managed_variables() -> frozenset[str]:
    """Every variable the program may set on an instance (any role, either storage driver): extra
    environment (setting `pods.env`) may not change them behind the settings they come from.
    """
    from .mirrors import Mirror
    from .model import StorageSettings

    s3 = StorageSettings(driver="s3", bucket="b", endpoint="http://s3", access_key="a", secret_key="s")
    names: set[str] = {"REGISTRY_HTTP_SECRET", "OTEL_TRACES_EXPORTER"}
    every = Mirror("u.example.com", 1, "https://u.example.com", username="u", password="p", ca="-----BEGIN CERTIFICATE-----")
    for role in ROLES:
        instance = plain_instance(role, "r", delete_enabled=True, mirror=every, metrics=True)
        for storage in (StorageSettings(driver="filesystem"), s3):
            names |= set(instance_variables(instance, storage)) | set(secret_variables(storage))
    return frozenset(names)


def plain_instance(
    role: Role, realm: str, delete_enabled: bool = False, mirror: Mirror | None = None, metrics: bool = False
) -> Instance:
    """An instance of only the settings its variables read (no image, TLS or htpasswd material)."""
    return Instance(
        image="", pull_image=False, realm=realm, delete_enabled=delete_enabled, health_timeout_seconds=0,
        cert_pem="", key_pem="", htpasswd="", role=role, mirror=mirror, metrics=metrics,
    )  # fmt: skip


def health_check_command() -> list[str]:
    """`GET /debug/health` on the debug listener: 200 once the registry serves and its storage works."""
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://{DEBUG_ADDR}/debug/health"]
