"""Setting `mirrors`: a pull-through cache per upstream registry, for nodes that cannot reach it.

`mirrors` maps an upstream registry as images name it (`docker.io`, `quay.io`, `harbor.corp:8443`)
to `{port, remoteUrl, username, password, ca, ttl, size, storageClass, insecure}` (an `http://` remoteUrl
only with `insecure: true`). Each becomes a Distribution instance in
proxy mode beside the registry on storage of its own (the proxy keeps its own cleanup state, never
the primary's): target `docker`, a container with a volume of its own on the host port `port`;
target `kubernetes`, a Deployment of one Pod on a claim of `size` behind the NodePort `port`. The
nodes get `hosts.toml` for the upstream's name that sends its pulls there (`mirrorHostsToml`).
Pure: validated here; run by `registry.py` and `registry_kube.py`.

Facts it rests on: a proxy-mode instance accepts no pushes and mirrors one upstream; containerd
adds `?ns=<upstream>` to mirror requests (Distribution ignores it); the kubelet's pull-secret
credentials for the upstream's name go to the mirror host. So the pull secrets carry a credential
for each upstream's name too, and the mirror asks for it: the mirrors' own (`MIRROR_USER`, a
password generated once), which only the mirrors' htpasswd holds. A node that pulls before its
`hosts.toml` is in place sends it to the real upstream, where it opens nothing, and to no other
instance of the stack or any other stack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .images import registry_access
from .names import join_endpoint, registry_slug, size_ok
from .oci import DOCKER_HUB, DOCKER_HUB_API, parse_reference
from .problems import Problem
from .setting_keys import field_default, field_names

KEYS = field_names("mirrors")
DEFAULT_TTL = str(field_default("mirrors.ttl"))
# The mirrors' own credential's name (its password is generated once): the `~` keeps it apart from the
# configured users' names, and settings refuse it as one.
MIRROR_USER = "~mirrors"
_DURATION = re.compile(r"([0-9]+(h|m|s))+")
_URL = re.compile(r"https?://[^/\s?#]+/?")


@dataclass(frozen=True)
class Mirror:
    """One validated mirror: the upstream's name, where the mirror listens, and how it reaches the upstream."""

    upstream: str
    port: int
    remote_url: str
    ttl: str = DEFAULT_TTL
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = None
    size: str = str(field_default("mirrors.size"))  # target kubernetes: its claim's size
    storage_class: str | None = None  # target kubernetes: its claim's class (None: the registry's, else the default)

    @property
    def slug(self) -> str:
        """The upstream as a part of object names (`docker-io`, `harbor-corp-8443`)."""
        return registry_slug(self.upstream)

    def endpoint(self, host: str) -> str:
        return join_endpoint(host, self.port)


def default_remote_url(upstream: str) -> str:
    """Where an upstream name is served: Docker Hub's API host for `docker.io`, else itself over HTTPS."""
    return f"https://{DOCKER_HUB_API if upstream == DOCKER_HUB else upstream}"


def plain_http_allowed(url: str, url_path: str, owner: Mapping[str, Any], owner_path: str, problem: Problem) -> bool:
    """Whether `url` may be used: an `http://` one only where its object says `insecure: true`, since
    whatever travels there (upstream or S3 credentials, every image) is readable and changeable on the
    way. Reports the problem (naming both keys) and returns False otherwise.
    """
    insecure = owner.get("insecure", False)
    if not isinstance(insecure, bool):
        problem(f"{owner_path}.insecure", insecure, "must be true or false")
        return False
    if url.startswith("http://") and not insecure:
        problem(
            url_path,
            url,
            f"is plain http://: credentials and data would travel unencrypted; use https://, or set {owner_path}.insecure "
            "= true to accept that",
        )
        return False
    return True


def parse_mirrors(value: Any, taken_ports: Sequence[int], endpoint: str, problem: Problem) -> tuple[Mirror, ...]:
    """The validated `mirrors`; `taken_ports` are the registry's own (port, pullPort)."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, Mapping):
        problem("mirrors", value, "must be an object: upstream registry -> {port, remoteUrl?, username?, password?, ca?, ttl?}")
        return ()
    found: list[Mirror] = []
    used = {port: "port/pullPort" for port in taken_ports}
    for upstream, raw in value.items():
        path = f"mirrors.{upstream}"
        try:
            if parse_reference(f"{upstream}/x").registry != upstream:
                raise ValueError(upstream)
        except ValueError:
            problem(
                path, upstream, "the key must be the upstream registry as images name it: host[:port] (docker.io for Docker Hub)"
            )
            continue
        if upstream == endpoint:
            problem(path, upstream, "is this registry's own endpoint: a mirror is for another registry")
            continue
        if not isinstance(raw, Mapping) or set(raw) - set(KEYS):
            problem(path, raw, f"must be an object with keys among {', '.join(KEYS)}")
            continue
        port = raw.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problem(f"{path}.port", port, "is required: the mirror's port on the endpoint's host, an integer in 1..65535")
            continue
        if port in used:
            problem(f"{path}.port", port, f"is already taken by {used[port]}: each mirror needs a port of its own")
            continue
        used[port] = path
        remote = raw.get("remoteUrl", default_remote_url(upstream))
        if not isinstance(remote, str) or not _URL.fullmatch(remote):
            problem(f"{path}.remoteUrl", remote, "must be http(s)://host[:port] of the upstream registry's API")
            continue
        if not plain_http_allowed(remote, f"{path}.remoteUrl", raw, path, problem):
            continue
        ttl = raw.get("ttl", DEFAULT_TTL)
        if not isinstance(ttl, str) or not _DURATION.fullmatch(ttl):
            problem(f"{path}.ttl", ttl, "must be a duration such as 168h, 24h or 90m: how long the mirror keeps what it fetched")
            continue
        texts = registry_access(raw, path, ("username", "password", "ca", "storageClass"), problem)
        if texts is None:
            continue
        size = raw.get("size", field_default("mirrors.size"))
        if not size_ok(size):
            problem(f"{path}.size", size, "must be a Kubernetes quantity of bytes above 0, such as 10Gi or 500Mi")
            continue
        found.append(
            Mirror(
                upstream,
                port,
                remote.rstrip("/"),
                ttl,
                texts["username"],
                texts["password"],
                texts["ca"],
                size,
                texts["storageClass"],
            )
        )
    return tuple(found)
