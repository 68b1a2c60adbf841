"""Just enough of the OCI distribution API and the OCI image layout to copy images by digest.

Used by declared images (`seeded_images.py`, setting `images`) and by bundles (`scripts/images.py`).
Pure standard library, so the dynamic provider's own process imports nothing heavy, and no Pulumi.

- `parse_reference` reads image references the way Docker does (`busybox` is
  `docker.io/library/busybox:latest`; a first part with a dot, a colon or `localhost` is a host).
- `Registry` talks to one registry over TLS: Basic auth (Distribution's htpasswd) or a Bearer token
  from the registry's token service (Docker Hub, GHCR, Quay, Harbor), as its 401 asks; blob
  downloads follow redirects (to S3 or a CDN) without the credentials.
- Bundles (an OCI image layout in a tar) and images of a Docker host are in `oci_layout.py`.
- `copy_image` copies one image (an index with every platform's manifest, or a single manifest) to a
  registry: blobs the destination already has are skipped, and manifests are written as the bytes
  read, so every digest stays the source's.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Protocol

from .names import looks_like_host

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
IMAGE_NAME = "io.containerd.image.name"  # a bundle entry's full source reference
REF_NAME = "org.opencontainers.image.ref.name"  # its tag, as the image layout spec names it

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
CHUNK = 1 << 20
MANIFEST_LIMIT = 4 << 20  # the most of a manifest (or index.json) read into memory: what registries accept
RESPONSE_LIMIT = 1 << 20  # the most of any other body read into memory (a token, an error, a page of a list)
LIST_PAGE = 1000  # names asked for per page of a catalog or tag list (Distribution's default)
LIST_LIMIT = 100_000  # the most names of one list read: a registry paging on forever is refused, not followed
# Token services that belong to a registry on another host: a 401's realm gets the credentials only on
# the registry's own host or its pair here (GHCR, Quay, Harbor and GCR use their own host).
TOKEN_HOSTS = {DOCKER_HUB_API: frozenset({"auth.docker.io"}), "registry.gitlab.com": frozenset({"gitlab.com"})}


class RegistryError(Exception):
    """A registry or bundle could not give or take what was asked; the message says which and why."""


def checked_digest(value: Any, where: str) -> str:
    """`value` if it is a digest (`sha256:` and 64 lower-case hex digits), else RegistryError: a digest
    read from a registry or a bundle goes into URLs and tar member names, so it is checked as read.
    """
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise RegistryError(f"{where}: digest {str(value)[:80]!r} is not sha256:<64 lower-case hex digits>")
    return value


def checked_size(value: Any, where: str) -> int:
    """`value` if it is a byte count (an int, not a bool, >= 0), else RegistryError: a descriptor's size
    bounds what is read of its blob, so it is checked before any blob is.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RegistryError(f"{where}: no valid size ({str(value)[:40]!r})")
    return value


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """`data` as a JSON object, else RegistryError naming `what` (never a traceback on a bad document)."""
    try:
        document = json.loads(data)
    except ValueError as err:
        raise RegistryError(f"{what}: not JSON ({err})") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{what}: not a JSON object")
    return document


def read_limited(stream: Any, limit: int, what: str) -> bytes:
    """All of `stream` if it is at most `limit` bytes, else RegistryError (a body is never read whole unbounded)."""
    data: bytes = stream.read(limit + 1)
    if len(data) > limit:
        raise RegistryError(f"{what}: more than {limit} bytes, refused")
    return data


def hostname(netloc: str) -> str:
    """The host of `host[:port]`, lower-case: what decides where credentials may go (any port of it)."""
    return (urllib.parse.urlsplit(f"//{netloc}").hostname or netloc).lower()


@dataclass(frozen=True)
class Reference:
    """An image reference: registry (`host[:port]`, `docker.io` for Docker Hub), repository, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return (
            f"{self.registry}/{self.repository}"
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag."""
        return self.digest or self.tag or "latest"


def split_tag(name: str) -> tuple[str, str | None]:
    """`team/app:1` -> (`team/app`, `1`); a colon before the last slash is a port, not a tag."""
    colon = name.rfind(":")
    if colon > name.rfind("/") and not name.endswith("]"):
        return name[:colon], name[colon + 1 :]
    return name, None


def check_repository_and_tag(repository: str, tag: str | None, digest: str | None) -> None:
    if not REPOSITORY.fullmatch(repository) or len(repository) > 255:
        raise ValueError(f"repository {repository!r} is not a valid name (lower-case letters, digits, . _ - and / between parts)")
    if tag is not None and not TAG.fullmatch(tag):
        raise ValueError(f"tag {tag!r} is not valid (letters, digits, _ . -, at most 128, not starting with . or -)")
    if digest is not None and not DIGEST.fullmatch(digest):
        raise ValueError(f"digest {digest!r} is not sha256:<64 hex digits>")


def parse_reference(text: str) -> Reference:
    """An image reference as Docker reads it; no tag and no digest means `latest`. Raises ValueError."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise ValueError("must be an image reference such as registry.example.com/team/app:1.2")
    name, _, digest = text.partition("@")
    name, tag = split_tag(name)
    first, slash, rest = name.partition("/")
    if slash and looks_like_host(first):
        if not _HOST.fullmatch(first):
            raise ValueError(f"registry host {first!r} is not host[:port]")
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name if slash else f"library/{name}"
    check_repository_and_tag(repository, tag, digest or None)
    return Reference(registry, repository, tag if tag or digest else "latest", digest or None)


def parse_destination(text: str) -> tuple[str, str | None]:
    """A name inside this registry (`team/app:1`): (repository, tag or None). Raises ValueError."""
    if not isinstance(text, str) or not text:
        raise ValueError("must be a repository with a tag inside this registry, such as team/app:1.2")
    if "@" in text:
        raise ValueError("names a digest: give a tag (the digest is the source's)")
    name, tag = split_tag(text)
    first, slash, _ = name.partition("/")
    if slash and looks_like_host(first):
        raise ValueError(f"names another registry ({first}): give the repository inside this registry, without a host")
    check_repository_and_tag(name, tag, None)
    return name, tag


@dataclass(frozen=True)
class Descriptor:
    """What a manifest is: its digest and media type (and size, where known)."""

    digest: str
    media_type: str
    size: int = 0


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def media_type_of(data: bytes, fallback: str) -> str:
    """A manifest's own `mediaType`, else what its descriptor or Content-Type said."""
    try:
        own = json.loads(data).get("mediaType")
    except (ValueError, AttributeError):
        own = None
    if isinstance(own, str) and own:
        return own
    return fallback or (OCI_INDEX if b'"manifests"' in data else OCI_MANIFEST)


class Source(Protocol):
    """Where manifests and blobs are read from by digest: a registry repository or a bundle."""

    def manifest(self, digest: str) -> bytes: ...

    def blob(self, digest: str) -> Any: ...  # a context manager giving (stream, size)


class Registry:
    """One registry's API over TLS, as one user (or anonymously)."""

    def __init__(
        self, host: str, username: str | None = None, password: str | None = None, ca_pem: str | None = None, timeout: float = 120
    ) -> None:
        self.host = host
        self.api = DOCKER_HUB_API if host == DOCKER_HUB else host
        self.username, self.password, self.timeout = username, password, timeout
        self.context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
        self._auth: dict[str, str] = {}  # scope ("" for Basic, which covers every scope) -> Authorization
        self._own = hostname(self.api)

    def is_own(self, url: str) -> bool:
        """Whether `url` (a path, or an absolute URL such as an upload `Location`) is on this registry's
        host: only there do its credentials go.
        """
        netloc = urllib.parse.urlsplit(url).netloc
        return not netloc or hostname(netloc) == self._own

    def _connect(self, netloc: str) -> http.client.HTTPSConnection:
        parts = urllib.parse.urlsplit(f"//{netloc}")
        return http.client.HTTPSConnection(parts.hostname or netloc, parts.port, context=self.context, timeout=self.timeout)

    def _send(self, method: str, url: str, headers: dict[str, str], body: Any = None) -> http.client.HTTPResponse:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc or self.api
        if parts.scheme not in ("", "https"):
            raise RegistryError(f"{self.host}: refusing a {parts.scheme} URL ({url}); registries are reached over https only")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connect(netloc)
        try:
            conn.request(method, path, body=body, headers=headers)
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise RegistryError(f"{self.host}: {method} {path}: {err}") from err

    def request(
        self, method: str, path: str, scope: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> http.client.HTTPResponse:
        """A request with this user's credentials; answers one 401 challenge (Basic or Bearer) and retries.

        A streamed body cannot be sent twice: callers authorize its scope first (`POST` before `PUT`).
        An absolute URL on another host (an upload `Location`) gets no credentials, and its 401 is not answered.
        """
        own = self.is_own(path)
        for attempt in (1, 2):
            auth = (self._auth.get("") or self._auth.get(scope)) if own else None
            response = self._send(method, path, {**(headers or {}), **({"Authorization": auth} if auth else {})}, body)
            if response.status != 401 or not own or attempt == 2 or (body is not None and not isinstance(body, bytes)):
                return response
            challenge = response.getheader("WWW-Authenticate", "")
            response.close()
            self._authorize(challenge, scope)
        raise AssertionError("unreachable")

    def _basic(self) -> str:
        if self.username is None or self.password is None:
            raise RegistryError(f"{self.host} asks for credentials and none are set for it (sourceRegistries)")
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def _authorize(self, challenge: str, scope: str) -> None:
        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() == "basic":
            self._auth[""] = self._basic()
            return
        if scheme.lower() != "bearer":
            raise RegistryError(f"{self.host}: unsupported authentication {scheme or '(none)'!r}")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        realm = params.get("realm", "")
        query = urllib.parse.urlencode(
            {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope", scope))) if v}
        )
        realm_parts = urllib.parse.urlsplit(realm)
        if realm_parts.scheme != "https":
            raise RegistryError(f"{self.host}: token service {realm!r} is not https")
        # Whatever host a 401 names gets no credentials: only this registry's own host or its known pair.
        realm_host = hostname(realm_parts.netloc)
        trusted = realm_host == self._own or realm_host in TOKEN_HOSTS.get(self._own, ())
        headers = {"Authorization": self._basic()} if self.username is not None and trusted else {}
        response = self._send("GET", f"{realm}{'&' if realm_parts.query else '?'}{query}", headers)
        body = read_limited(response, RESPONSE_LIMIT, f"{self.host}: token service {realm_host}")
        if response.status != 200:
            hint = (
                "check sourceRegistries credentials"
                if trusted or self.username is None
                else f"the credentials were not sent: {realm_host} is not {self.host}'s own host"
            )
            raise RegistryError(f"{self.host}: token service answered HTTP {response.status} for {scope} ({hint})")
        try:
            document = json.loads(body)
        except ValueError:
            raise RegistryError(f"{self.host}: token service {realm_host} answered no JSON") from None
        token = document.get("token") or document.get("access_token")
        if not token:
            raise RegistryError(f"{self.host}: token service gave no token")
        self._auth[scope] = f"Bearer {token}"

    def _fail(self, response: http.client.HTTPResponse, what: str) -> RegistryError:
        body = response.read(300).decode(errors="replace")
        hint = " (check the credentials in sourceRegistries)" if response.status in (401, 403) else ""
        return RegistryError(f"{self.host}: {what}: HTTP {response.status}{hint} {body.strip()}")

    def resolve(self, repository: str, ref: str) -> Descriptor:
        """The digest and media type a tag (or digest) names now."""
        return self.fetch(repository, ref)[0]

    def fetch(self, repository: str, ref: str) -> tuple[Descriptor, bytes]:
        """The manifest a tag (or digest) names now: its descriptor (digest hashed from the bytes) and bytes."""
        response = self.request("GET", f"/v2/{repository}/manifests/{ref}", f"repository:{repository}:pull", {"Accept": ACCEPT})
        if response.status != 200:
            raise self._fail(response, f"manifest {repository}:{ref}")
        data = read_limited(response, MANIFEST_LIMIT, f"{self.host}: manifest {repository}:{ref}")
        digest = sha256(data)
        if DIGEST.fullmatch(ref) and digest != ref:
            raise RegistryError(f"{self.host}: manifest {repository}@{ref} has digest {digest}")
        return Descriptor(digest, media_type_of(data, response.getheader("Content-Type", OCI_MANIFEST)), len(data)), data

    def catalog(self) -> list[str]:
        """Every repository of the registry (`/v2/_catalog`, as a user it lets list)."""
        return self._listing("/v2/_catalog", "repositories", "registry:catalog:*", REPOSITORY)

    def tags(self, repository: str) -> list[str]:
        """Every tag of `repository`."""
        return self._listing(f"/v2/{repository}/tags/list", "tags", f"repository:{repository}:pull", TAG)

    def _listing(self, path: str, key: str, scope: str, name: re.Pattern[str]) -> list[str]:
        """All names of a paged list, following its `Link: <...>; rel="next"` on the same path of this
        registry only: pages of at most RESPONSE_LIMIT bytes, at most LIST_LIMIT names, none empty (a
        registry paging on forever is refused), each name checked as read (they go into URLs).
        """
        names: list[str] = []
        url: str | None = f"{path}?n={LIST_PAGE}"
        while url is not None:
            response = self.request("GET", url, scope)
            if response.status != 200:
                raise self._fail(response, f"GET {path}")
            body = read_limited(response, RESPONSE_LIMIT, f"{self.host}: GET {path}")
            link = response.getheader("Link", "")
            response.close()
            page = json_object(body, f"{self.host}: GET {path}").get(key) or []
            if not isinstance(page, list) or not all(isinstance(n, str) and name.fullmatch(n) and len(n) <= 255 for n in page):
                raise RegistryError(f"{self.host}: GET {path}: {key} is not a list of valid names")
            url = self._next_page(link, path)
            if url is not None and not page:
                raise RegistryError(f"{self.host}: GET {path}: an empty page that names a next one, refused")
            if len(names) + len(page) > LIST_LIMIT:
                raise RegistryError(f"{self.host}: GET {path}: more than {LIST_LIMIT} {key}, refused (listed no further)")
            names += page
        return names

    def _next_page(self, link: str, path: str) -> str | None:
        """The next page a `Link` header names (RFC 8288: `<url>; rel="next"`), None without one;
        RegistryError for one on another path or host.
        """
        found = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', link)
        if found is None:
            return None
        parts = urllib.parse.urlsplit(found.group(1))
        if parts.path != path or not self.is_own(found.group(1)) or parts.scheme not in ("", "https"):
            raise RegistryError(f"{self.host}: GET {path}: a next page elsewhere ({found.group(1)[:200]}), refused")
        return f"{path}?{parts.query}"

    def manifest(self, repository: str, digest: str) -> bytes:
        response = self.request(
            "GET", f"/v2/{repository}/manifests/{digest}", f"repository:{repository}:pull", {"Accept": ACCEPT}
        )
        if response.status != 200:
            raise self._fail(response, f"manifest {repository}@{digest}")
        data = read_limited(response, MANIFEST_LIMIT, f"{self.host}: manifest {repository}@{digest}")
        if sha256(data) != digest:
            raise RegistryError(f"{self.host}: manifest {repository}@{digest} has digest {sha256(data)}")
        return data

    def has_manifest(self, repository: str, ref: str) -> str | None:
        """The digest `ref` names in this registry, or None when it names nothing."""
        response = self.request("HEAD", f"/v2/{repository}/manifests/{ref}", f"repository:{repository}:pull", {"Accept": ACCEPT})
        if response.status not in (200, 404):
            raise self._fail(response, f"manifest {repository}:{ref}")
        response.close()  # a HEAD's answer has no body to drain (and none is read unbounded)
        if response.status == 404:
            return None
        found = response.getheader("Docker-Content-Digest")
        return None if found is None else checked_digest(found, f"{self.host}: manifest {repository}:{ref}")

    @contextmanager
    def blob(self, repository: str, digest: str) -> Iterator[tuple[IO[bytes], int | None]]:
        """A blob as a stream and its `Content-Length` (None without one: the manifest's size is what
        counts, `agreed_size`); a redirect (S3, CDN) is followed without the credentials.
        """
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", f"repository:{repository}:pull")
        for _ in range(5):
            if response.status not in (301, 302, 303, 307, 308):
                break
            location = response.getheader("Location", "")
            response.close()
            response = self._send("GET", location, {})
        if response.status != 200:
            raise self._fail(response, f"blob {repository}@{digest}")
        length = response.getheader("Content-Length")
        try:
            yield response, int(length) if length and length.isdigit() else None
        finally:
            response.close()

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self.request("HEAD", f"/v2/{repository}/blobs/{digest}", f"repository:{repository}:pull,push")
        if response.status not in (200, 404):
            raise self._fail(response, f"blob {repository}@{digest}")
        response.close()  # a HEAD's answer has no body to drain (and none is read unbounded)
        return response.status == 200

    def push_blob(self, repository: str, digest: str, size: int, stream: IO[bytes]) -> None:
        """A monolithic upload streamed from `stream`; the registry checks the digest of what it got."""
        scope = f"repository:{repository}:pull,push"
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/", scope, {"Content-Length": "0"}, b"")
        if response.status != 202:
            raise self._fail(response, f"start of an upload to {repository}")
        response.close()  # a connection per request: nothing to drain, and no body read unbounded
        location = response.getheader("Location", "")
        separator = "&" if "?" in location else "?"
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        query = urllib.parse.urlencode({"digest": digest})
        response = self.request("PUT", f"{location}{separator}{query}", scope, headers, stream)
        if response.status != 201:
            raise self._fail(response, f"upload of {digest} to {repository}")
        response.close()

    def put_manifest(self, repository: str, ref: str, data: bytes, media_type: str) -> None:
        scope = f"repository:{repository}:pull,push"
        response = self.request("PUT", f"/v2/{repository}/manifests/{ref}", scope, {"Content-Type": media_type}, data)
        if response.status != 201:
            raise self._fail(response, f"manifest {repository}:{ref}")
        response.close()


@dataclass
class RegistrySource:
    """One repository of a registry as a source."""

    registry: Registry
    repository: str

    def manifest(self, digest: str) -> bytes:
        return self.registry.manifest(self.repository, digest)

    def blob(self, digest: str) -> Any:
        return self.registry.blob(self.repository, digest)


@dataclass
class CopyStats:
    """What a copy did: manifests written, blobs sent and bytes sent, blobs the destination had."""

    manifests: int = 0
    blobs_sent: int = 0
    blobs_present: int = 0
    bytes_sent: int = 0


def children(data: bytes) -> list[dict[str, Any]]:
    """The descriptors an index (the platforms' manifests) or a manifest (config and layers) points at.

    Layers with `urls` (non-distributable, such as Windows base layers) are left where they are.
    Each has a valid digest and a size (RegistryError otherwise): both are used before any blob is read.
    """
    document = json_object(data, "a manifest")
    if "manifests" in document:
        found = document["manifests"]
    else:
        layers = document.get("layers") or []
        found = [*([document["config"]] if document.get("config") else []), *(layers if isinstance(layers, list) else [None])]
    if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
        raise RegistryError("a manifest: its manifests, config or layers are not descriptors (JSON objects)")
    found = [d for d in found if not d.get("urls") or "manifests" in document]
    for descriptor in found:
        digest = checked_digest(descriptor.get("digest"), "a manifest's descriptor")
        checked_size(descriptor.get("size"), f"a manifest's descriptor of {digest}")
    return found


def agreed_size(descriptor: Mapping[str, Any], got: int | None) -> int:
    """A blob's size as its manifest (hashed, so trusted) gives it; a source saying another (its
    `Content-Length`, its tar member's size) is refused, and no more than it is ever read.
    """
    size: int = descriptor["size"]
    if got is not None and got != size:
        raise RegistryError(f"blob {descriptor['digest']}: the source gives {got} bytes, its manifest {size}")
    return size


def is_index(data: bytes, media_type: str) -> bool:
    return media_type in INDEX_TYPES or "manifests" in json_object(data, "a manifest")


def copy_image(source: Source, top: Descriptor, dest: Registry, repository: str, tag: str) -> CopyStats:
    """Copy the image `top` from `source` to `dest` as `repository:tag`, every digest kept."""
    stats = CopyStats()
    _copy_manifest(source, top, dest, repository, tag, stats)
    return stats


def _copy_manifest(source: Source, descriptor: Descriptor, dest: Registry, repository: str, ref: str, stats: CopyStats) -> None:
    data = source.manifest(descriptor.digest)
    media_type = media_type_of(data, descriptor.media_type)
    if is_index(data, media_type):
        for child in children(data):
            child_descriptor = Descriptor(child["digest"], child.get("mediaType", OCI_MANIFEST))
            _copy_manifest(source, child_descriptor, dest, repository, child["digest"], stats)
    else:
        for blob in children(data):
            if dest.has_blob(repository, blob["digest"]):
                stats.blobs_present += 1
                continue
            with source.blob(blob["digest"]) as (stream, got):
                size = agreed_size(blob, got)
                dest.push_blob(repository, blob["digest"], size, _Hashing(stream, size, blob["digest"]))  # type: ignore[arg-type]
            stats.blobs_sent += 1
            stats.bytes_sent += size
    dest.put_manifest(repository, ref, data, media_type)
    stats.manifests += 1


class _Hashing(io.RawIOBase):
    """Reads through to `stream`, exactly `limit` bytes, hashing what passes (to check a blob written
    into a bundle; a blob sent on is checked by the registry that takes it). A stream that ends short
    is a RegistryError naming the blob, not a half-sent body or a tar error.
    """

    def __init__(self, stream: IO[bytes], limit: int, digest: str) -> None:
        self.stream, self.hash, self.count, self.limit, self.digest = stream, hashlib.sha256(), 0, limit, digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        wanted = self.limit - self.count if size < 0 else min(size, self.limit - self.count)
        data = b""
        while len(data) < wanted:  # all that is asked (tarfile takes a short read for the end)
            chunk = self.stream.read(wanted - len(data))
            if not chunk:
                raise RegistryError(
                    f"blob {self.digest}: the source ended after {self.count + len(data)} of its {self.limit} bytes"
                )
            data += chunk
        self.hash.update(data)
        self.count += len(data)
        return data
