"""Where the registry client's credentials go, and what it reads, with a stubbed transport.

`Registry._connect` is replaced by a fake that records every request (host, method, path, headers)
and answers from a script, so no socket is opened: what matters is which host saw which header.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.oci import MANIFEST_LIMIT, OCI_MANIFEST, Descriptor, Registry, RegistryError, RegistrySource, children, copy_image
from components.oci_layout import Bundle, blob_path

BASIC = "Basic " + base64.b64encode(b"ci:s3cret").decode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Sent:
    host: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeResponse:
    unbounded_reads = 0  # reads of a whole body, however large (`read()` without a size)

    def __init__(self, answer: Answer) -> None:
        self.status, self._headers, self._body = answer.status, answer.headers, io.BytesIO(answer.body)

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name, default)

    def read(self, amt: int | None = None) -> bytes:
        if amt is None and self._body.tell() < len(self._body.getbuffer()):
            FakeResponse.unbounded_reads += 1
        return self._body.read(amt)

    def close(self) -> None:
        pass


Handler = Callable[[Sent], Answer]


class FakeTransport:
    """Answers each request with the first handler of its host; records every request."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers, self.sent = handlers, []  # type: ignore[var-annotated]

    def connect(self, netloc: str) -> Any:
        transport = self

        class Connection:
            def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) or body is None else body.read()
                self.sent = Sent(netloc, method, path, dict(headers or {}), data or b"")
                transport.sent.append(self.sent)

            def getresponse(self) -> FakeResponse:
                return FakeResponse(transport.handlers[netloc](self.sent))

            def close(self) -> None:
                pass

        return Connection()

    def authorization(self, host: str, path: str = "/") -> list[str | None]:
        """The Authorization header of each request to `host` under `path`, in order (None: none)."""
        return [s.headers.get("Authorization") for s in self.sent if s.host == host and s.path.startswith(path)]


def registry(monkeypatch: pytest.MonkeyPatch, host: str, handlers: dict[str, Handler]) -> tuple[Registry, FakeTransport]:
    transport = FakeTransport(handlers)
    reg = Registry(host, "ci", "s3cret")
    monkeypatch.setattr(reg, "_connect", transport.connect)
    return reg, transport


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": None, "layers": []}).encode()


def bearer_registry(realm: str) -> Handler:
    """A registry that wants a Bearer token from `realm` and serves MANIFEST with it."""

    def handle(sent: Sent) -> Answer:
        if sent.headers.get("Authorization") != "Bearer t0ken":
            return Answer(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="registry"'})
        return Answer(200, {"Content-Type": OCI_MANIFEST}, MANIFEST)

    return handle


def token_service(sent: Sent) -> Answer:
    return Answer(200, body=json.dumps({"token": "t0ken"}).encode())


def test_a_token_realm_on_another_host_gets_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    reg, transport = registry(
        monkeypatch,
        "registry.example.com",
        {"registry.example.com": bearer_registry("https://collector.example.net/token"), "collector.example.net": token_service},
    )
    reg.resolve("team/app", "1")
    assert transport.authorization("collector.example.net") == [None]  # asked anonymously, as for a public image
    assert transport.authorization("registry.example.com") == [None, "Bearer t0ken"]


def test_a_refused_anonymous_token_says_why_the_credentials_were_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _ = registry(
        monkeypatch,
        "registry.example.com",
        {
            "registry.example.com": bearer_registry("https://collector.example.net/token"),
            "collector.example.net": lambda _: Answer(401),
        },
    )
    with pytest.raises(
        RegistryError, match=r"credentials were not sent: collector\.example\.net is not registry\.example\.com's own host"
    ):
        reg.resolve("team/app", "1")


@pytest.mark.parametrize(
    ("host", "api", "realm_host"),
    [
        ("ghcr.io", "ghcr.io", "ghcr.io"),  # GHCR, Quay, Harbor: the realm on the registry's own host
        ("quay.io", "quay.io", "quay.io"),
        ("registry.example.com:5000", "registry.example.com:5000", "registry.example.com"),  # another port of it
        ("docker.io", "registry-1.docker.io", "auth.docker.io"),  # Docker Hub's known pair
    ],
)
def test_the_registrys_own_token_service_gets_the_credentials(
    monkeypatch: pytest.MonkeyPatch, host: str, api: str, realm_host: str
) -> None:
    serve = bearer_registry(f"https://{realm_host}/token")
    reg, transport = registry(
        monkeypatch, host, {api: lambda sent: token_service(sent) if sent.path.startswith("/token") else serve(sent)}
    )
    transport.handlers.setdefault(realm_host, token_service)
    reg.resolve("library/busybox", "latest")
    assert transport.authorization(realm_host, "/token") == [BASIC]
    assert transport.authorization(api, "/v2/") == [None, "Bearer t0ken"]


def basic_registry(host: str, location: str, uploads: list[Sent]) -> Handler:
    """Distribution with htpasswd: Basic everywhere; a blob upload starts at `location`."""

    def handle(sent: Sent) -> Answer:
        if sent.headers.get("Authorization") != BASIC:
            return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
        if sent.method == "POST":
            return Answer(202, {"Location": location})
        uploads.append(sent)
        return Answer(201)

    return handle


DIGEST = "sha256:" + hashlib.sha256(b"layer").hexdigest()


@pytest.mark.parametrize(
    ("location", "upload_host", "credentials"),
    [
        ("/v2/team/app/blobs/uploads/u1?_state=s", "registry.example.com", BASIC),
        ("https://registry.example.com/v2/team/app/blobs/uploads/u1", "registry.example.com", BASIC),
        ("https://uploads.example.net/u1?_state=s", "uploads.example.net", None),
        ("//uploads.example.net/u1", "uploads.example.net", None),
    ],
)
def test_an_upload_location_on_another_host_gets_no_credentials(
    monkeypatch: pytest.MonkeyPatch, location: str, upload_host: str, credentials: str | None
) -> None:
    uploads: list[Sent] = []
    handler = basic_registry("registry.example.com", location, uploads)
    reg, transport = registry(
        monkeypatch, "registry.example.com", {"registry.example.com": handler, "uploads.example.net": handler}
    )
    if credentials is None:  # the other host wants credentials, and is not given them: the upload fails
        with pytest.raises(RegistryError, match="HTTP 401"):
            reg.push_blob("team/app", DIGEST, 5, io.BytesIO(b"layer"))
    else:
        reg.push_blob("team/app", DIGEST, 5, io.BytesIO(b"layer"))
        assert uploads[0].body == b"layer" and f"digest={DIGEST.replace(':', '%3A')}" in uploads[0].path
    assert transport.authorization(upload_host)[-1] == credentials
    assert all(s.headers.get("Authorization") is None for s in transport.sent if s.host == "uploads.example.net")


def test_a_blob_redirect_gets_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    def origin(sent: Sent) -> Answer:
        if sent.headers.get("Authorization") != BASIC:
            return Answer(401, {"WWW-Authenticate": 'Basic realm="registry"'})
        return Answer(307, {"Location": "https://cdn.example.net/blob?sig=x"})

    reg, transport = registry(
        monkeypatch,
        "registry.example.com",
        {"registry.example.com": origin, "cdn.example.net": lambda _: Answer(200, {"Content-Length": "5"}, b"layer")},
    )
    with reg.blob("team/app", DIGEST) as (stream, size):
        assert (stream.read(), size) == (b"layer", 5)
    assert transport.authorization("cdn.example.net") == [None]


BAD_DIGESTS = ["sha256:../../../etc/passwd", "sha256:" + "A" * 64, "sha512:" + "a" * 128, "sha256:" + "a" * 63, 7]


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_digests_are_checked_as_they_are_read(bad: Any) -> None:
    manifest = {"schemaVersion": 2, "config": {"digest": DIGEST, "size": 5}, "layers": [{"digest": bad, "size": 1}]}
    with pytest.raises(RegistryError, match="is not sha256:<64 lower-case hex digits>"):
        children(json.dumps(manifest).encode())
    with pytest.raises(RegistryError, match="is not sha256"):
        blob_path(bad)


def test_a_digest_header_and_a_bundle_index_are_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg, _ = registry(
        monkeypatch,
        "registry.example.com",
        {"registry.example.com": lambda _: Answer(200, {"Docker-Content-Digest": "sha256:../../v2/other"})},
    )
    with pytest.raises(RegistryError, match="manifest team/app:1: digest"):
        reg.has_manifest("team/app", "1")
    index = json.dumps({"manifests": [{"digest": "sha256:../../x", "annotations": {"io.containerd.image.name": "a/b:1"}}]})
    with tarfile.open(tmp_path / "b.tar", "w:") as tar:
        info = tarfile.TarInfo("index.json")
        info.size = len(index)
        tar.addfile(info, io.BytesIO(index.encode()))
    with pytest.raises(RegistryError, match=r"index\.json entry a/b:1: digest"):
        Bundle(tmp_path / "b.tar")


def test_a_descriptor_needs_a_size() -> None:
    with pytest.raises(RegistryError, match="no valid size"):
        children(json.dumps({"layers": [{"digest": DIGEST}]}).encode())
    with pytest.raises(RegistryError, match="no valid size"):
        children(json.dumps({"manifests": [{"digest": DIGEST, "size": "5"}]}).encode())


def test_a_manifest_over_4_mib_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    big = b" " * MANIFEST_LIMIT + b"{}"
    reg, _ = registry(monkeypatch, "registry.example.com", {"registry.example.com": lambda _: Answer(200, {}, big)})
    with pytest.raises(RegistryError, match=f"more than {MANIFEST_LIMIT} bytes"):
        reg.resolve("team/app", "1")
    with pytest.raises(RegistryError, match=f"more than {MANIFEST_LIMIT} bytes"):
        reg.manifest("team/app", DIGEST)


def test_a_token_answer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    realm = bearer_registry("https://registry.example.com/token")
    huge = json.dumps({"token": "t" * (2 << 20)}).encode()
    reg, _ = registry(
        monkeypatch,
        "registry.example.com",
        {"registry.example.com": lambda sent: Answer(200, {}, huge) if sent.path.startswith("/token") else realm(sent)},
    )
    with pytest.raises(RegistryError, match=r"token service registry\.example\.com: more than"):
        reg.resolve("team/app", "1")


class Held:
    """A source of one manifest and one blob whose stream may be longer than its manifest says."""

    def __init__(self, blob: bytes, declared: int, said: int | None) -> None:
        self.content, self.said = blob, said
        layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": DIGEST, "size": declared}
        self.data = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [layer]}).encode()
        self.top = Descriptor("sha256:" + hashlib.sha256(self.data).hexdigest(), OCI_MANIFEST, len(self.data))

    def manifest(self, digest: str) -> bytes:
        return self.data

    def blob(self, digest: str) -> Any:
        return nullcontext((io.BytesIO(self.content), self.said))


def test_a_blob_is_sent_as_its_manifest_sizes_it_not_as_the_source_says(monkeypatch: pytest.MonkeyPatch) -> None:
    uploads: list[Sent] = []
    handler = basic_registry("registry.example.com", "/v2/team/app/blobs/uploads/u1", uploads)

    def dest_handler(sent: Sent) -> Answer:
        if sent.method == "HEAD":
            return Answer(404)
        return handler(sent)

    dest, _ = registry(monkeypatch, "registry.example.com", {"registry.example.com": dest_handler})
    with pytest.raises(RegistryError, match="the source gives 9 bytes, its manifest 5"):
        copy_image(Held(b"layer", 5, 9), Held(b"layer", 5, 9).top, dest, "team/app", "1")
    held = Held(b"layer and then some more", 5, None)  # no Content-Length: only the manifest's 5 bytes go on
    copy_image(held, held.top, dest, "team/app", "1")
    assert uploads[0].body == b"layer" and uploads[0].headers["Content-Length"] == "5"


def test_a_registry_source_yields_no_size_without_a_content_length(monkeypatch: pytest.MonkeyPatch) -> None:
    reg, _ = registry(monkeypatch, "registry.example.com", {"registry.example.com": lambda _: Answer(200, {}, b"layer")})
    with RegistrySource(reg, "team/app").blob(DIGEST) as (_, size):
        assert size is None


def test_no_answer_of_a_push_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers with an 8 MiB body each: an upload, a manifest and their errors read none of it whole."""
    uploads: list[Sent] = []
    handler = basic_registry("registry.example.com", "/v2/team/app/blobs/uploads/u1", uploads)
    flood = b"x" * (8 << 20)

    def flooding(sent: Sent) -> Answer:
        answer = handler(sent)
        return Answer(answer.status, answer.headers, flood)

    reg, _ = registry(monkeypatch, "registry.example.com", {"registry.example.com": flooding})
    monkeypatch.setattr(FakeResponse, "unbounded_reads", 0)
    reg.push_blob("team/app", DIGEST, 5, io.BytesIO(b"layer"))
    reg.put_manifest("team/app", "1", MANIFEST, OCI_MANIFEST)
    refused, _ = registry(monkeypatch, "registry.example.com", {"registry.example.com": lambda _: Answer(500, {}, flood)})
    with pytest.raises(RegistryError, match=r"HTTP 500 x{300}$"):
        refused.push_blob("team/app", DIGEST, 5, io.BytesIO(b"layer"))
    assert FakeResponse.unbounded_reads == 0


def test_no_answer_of_a_head_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A HEAD's answer is only its status and headers, whatever body a registry sends with it."""
    flood = b"x" * (8 << 20)
    reg, _ = registry(
        monkeypatch,
        "registry.example.com",
        {"registry.example.com": lambda _: Answer(200, {"Docker-Content-Digest": DIGEST}, flood)},
    )
    monkeypatch.setattr(FakeResponse, "unbounded_reads", 0)
    assert reg.has_manifest("team/app", "1") == DIGEST
    assert reg.has_blob("team/app", DIGEST)
    assert FakeResponse.unbounded_reads == 0
