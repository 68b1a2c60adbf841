"""Declared images without a registry: references, the `images` and `sourceRegistries` settings, bundles."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from components.docker_engine import Connection
from components.images import parse_images, parse_source_registries
from components.model import SettingsError
from components.oci import Descriptor, Reference, RegistryError, children, media_type_of, parse_destination, parse_reference
from components.oci_layout import Bundle, DockerArchive, write_bundle
from components.seeded_images import SeededImageProvider, source_auth
from components.settings import load_settings

# Written out, not imported: a wrong constant in components/oci.py must fail these tests.
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_NAME = "io.containerd.image.name"  # what `ctr import` reads as the image's name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", Reference("docker.io", "library/busybox", "latest")),
        ("busybox:1.37", Reference("docker.io", "library/busybox", "1.37")),
        ("team/app:2", Reference("docker.io", "team/app", "2")),
        ("localhost:5000/team/app", Reference("localhost:5000", "team/app", "latest")),
        ("registry.example.com/a/b/c:v1.2-rc", Reference("registry.example.com", "a/b/c", "v1.2-rc")),
        ("172.31.250.1:23569/e2e/hello:1", Reference("172.31.250.1:23569", "e2e/hello", "1")),
        ("[fd00::1]:5000/app:1", Reference("[fd00::1]:5000", "app", "1")),
        (f"quay.io/app@sha256:{'a' * 64}", Reference("quay.io", "app", None, f"sha256:{'a' * 64}")),
        (f"quay.io/app:1@sha256:{'b' * 64}", Reference("quay.io", "app", "1", f"sha256:{'b' * 64}")),
    ],
)
def test_references_are_read_as_docker_reads_them(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "image reference"),
        (" busybox", "image reference"),
        ("Team/App:1", "repository 'Team/App'"),
        ("host.example.com/app:bad tag", "tag 'bad tag'"),
        ("host.example.com/app@sha256:123", "digest"),
        ("host..com/app:1", "registry host"),
    ],
)
def test_bad_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_reference(text)


def test_a_name_inside_the_registry_has_no_host_and_no_digest() -> None:
    assert parse_destination("team/app:1") == ("team/app", "1")
    assert parse_destination("app") == ("app", None)
    with pytest.raises(ValueError, match="names another registry"):
        parse_destination("registry.example.com/team/app:1")
    with pytest.raises(ValueError, match="digest"):
        parse_destination(f"team/app@sha256:{'a' * 64}")


def problems_of(value: Any, base: Path = Path("/nonexistent")) -> tuple[list[tuple[str, str]], tuple[Any, ...]]:
    found: list[tuple[str, str]] = []
    images = parse_images(value, base, lambda path, _value, message: found.append((path, message)))
    return found, images


def test_entries_default_to_the_sources_repository_and_tag() -> None:
    problems, images = problems_of(
        [{"source": "registry.example.com/team/app:1"}, {"source": "busybox:1.37", "name": "base/busybox:1.37"}]
    )
    assert problems == []
    assert [(i.name, str(i.source)) for i in images] == [
        ("team/app:1", "registry.example.com/team/app:1"),
        ("base/busybox:1.37", "docker.io/library/busybox:1.37"),
    ]


def test_bad_entries_are_named_by_their_path() -> None:
    digest_only = f"registry.example.com/app@sha256:{'c' * 64}"
    problems, images = problems_of(
        [
            "busybox",
            {"source": "busybox", "tag": "1"},
            {"source": "Bad/Name"},
            {"source": "busybox", "name": "other.example.com/busybox:1"},
            {"source": digest_only},
            {"source": "busybox:1", "name": "lib/busybox:1"},
            {"source": "busybox:2", "name": "lib/busybox:1"},
            {"source": "busybox:1", "bundle": "missing.tar"},
        ]
    )
    paths = [path for path, _ in problems]
    assert paths == [
        "images[0]",
        "images[1]",
        "images[2].source",
        "images[3].name",
        "images[4].name",
        "images[6].name",
        "images[7].bundle",
    ], problems
    assert "unknown key(s) tag" in problems[1][1]
    assert "names another registry" in problems[3][1]
    assert "already declared by images[5]" in problems[5][1]
    assert [i.name for i in images] == ["lib/busybox:1"]


def test_source_registries_need_a_host_key_and_both_credentials() -> None:
    found: list[str] = []
    sources = parse_source_registries(
        {
            "registry.example.com": {"username": "ci", "password": "s3cret"},
            "docker.io": {},
            "not a host": {},
            "quay.io": {"username": "ci"},
            "ghcr.io": {"ca": "not pem"},
        },
        lambda path, _value, message: found.append(f"{path}: {message}"),
    )
    assert set(sources) == {"registry.example.com", "docker.io"}
    assert sources["registry.example.com"].password == "s3cret"
    assert "s3cret" not in repr(sources)
    assert found == [
        "sourceRegistries.not a host: the key must be a registry host[:port] (docker.io for Docker Hub)",
        "sourceRegistries.quay.io: needs both username and password (a config secret), or neither",
        "sourceRegistries.ghcr.io.ca: must be PEM text (-----BEGIN CERTIFICATE-----)",
    ]


def test_settings_refuse_bad_entries_before_anything_and_never_print_a_source_password() -> None:
    raw = {
        "images": [{"source": "busybox", "name": "x.example.com/busybox:1"}],
        "sourceRegistries": {"quay.io": {"username": "ci", "password": 7}},
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev", secret_keys=frozenset({"sourceRegistries"}))
    text = str(caught.value)
    assert "private-registry:images[0].name = " in text and "names another registry (x.example.com)" in text
    assert "private-registry:sourceRegistries.quay.io.password = <secret: a number>: must be a non-empty string" in text


def test_images_need_a_registry_that_runs_and_a_push_user() -> None:
    render = {"target": "kubernetes", "kubernetes": {"mode": "render"}, "images": [{"source": "busybox:1"}]}
    with pytest.raises(SettingsError, match="needs a running registry"):
        load_settings(render, "dev")
    settings = load_settings({"images": [{"source": "busybox:1"}]}, "dev")
    assert [i.name for i in settings.images] == ["library/busybox:1"]


# An image source in memory: manifests and blobs by digest.
class MemorySource:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> Descriptor:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return Descriptor(digest, media_type_of(data, ""), len(data))

    def manifest(self, digest: str) -> bytes:
        return self.blobs[digest]

    @contextmanager
    def blob(self, digest: str) -> Iterator[tuple[IO[bytes], int]]:
        yield io.BytesIO(self.blobs[digest]), len(self.blobs[digest])


def platform_image(source: MemorySource, arch: str, layer: bytes) -> Descriptor:
    config, blob = source.put(json.dumps({"architecture": arch, "os": "linux"}).encode()), source.put(layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob.digest, "size": blob.size}],
    }
    return source.put(json.dumps(manifest).encode())


def test_a_bundle_holds_every_platform_with_the_sources_digests(tmp_path: Path) -> None:
    source = MemorySource()
    amd64, arm64 = platform_image(source, "amd64", b"layer-a" * 100), platform_image(source, "arm64", b"layer-b" * 100)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d.digest, "size": d.size, "platform": {"os": "linux", "architecture": a}}
            for d, a in ((amd64, "amd64"), (arm64, "arm64"))
        ],
    }
    top = source.put(json.dumps(index).encode())
    single = platform_image(source, "386", b"layer-a" * 100)  # its own config, amd64's layer
    multi_ref, single_ref = parse_reference("src.example.com/team/multi:1"), parse_reference("src.example.com/team/single:1")
    stats = write_bundle(tmp_path / "images.tar", [(multi_ref, source, top), (single_ref, source, single)], log=lambda _: None)
    assert (stats.manifests, stats.blobs_sent) == (4, 5)  # index, 2 platforms, single; 3 configs, 2 layers (1 shared)
    assert not (tmp_path / "images.tar.partial").exists()
    bundle = Bundle(tmp_path / "images.tar")
    try:
        assert set(bundle.entries) == {str(multi_ref), str(single_ref)}
        found = bundle.find(multi_ref)
        assert (found.digest, found.media_type) == (top.digest, OCI_INDEX)
        assert bundle.manifest(top.digest) == source.manifest(top.digest)
        for child in children(bundle.manifest(amd64.digest)):
            with bundle.blob(child["digest"]) as (stream, size):
                assert stream.read() == source.blobs[child["digest"]] and size == child["size"]
        with pytest.raises(RegistryError, match=r"holds no src\.example\.com/team/other:1"):
            bundle.find(parse_reference("src.example.com/team/other:1"))
    finally:
        bundle.close()
    # The settings look the entries up in the file; an unknown one names what the file holds.
    problems, images = problems_of(
        [{"source": str(multi_ref), "bundle": "images.tar"}, {"source": "src.example.com/team/other:1", "bundle": "images.tar"}],
        tmp_path,
    )
    assert [i.bundle_path for i in images] == [str(tmp_path / "images.tar")]
    assert problems == [
        (
            "images[1].source",
            f"bundle {tmp_path / 'images.tar'} holds no src.example.com/team/other:1 (it holds: {multi_ref}, {single_ref})",
        )
    ]
    with tarfile.open(tmp_path / "images.tar") as tar:  # as `ctr import` and skopeo's oci-archive read it
        layout_index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    assert [m["annotations"] for m in layout_index["manifests"]] == [
        {IMAGE_NAME: str(multi_ref), "org.opencontainers.image.ref.name": "1"},
        {IMAGE_NAME: str(single_ref), "org.opencontainers.image.ref.name": "1"},
    ]


def test_a_media_type_comes_from_the_manifest_then_its_descriptor() -> None:
    assert media_type_of(json.dumps({"mediaType": DOCKER_LIST, "manifests": []}).encode(), OCI_MANIFEST) == DOCKER_LIST
    assert media_type_of(b'{"manifests": []}', "") == OCI_INDEX
    assert media_type_of(b'{"layers": []}', "") == OCI_MANIFEST


def test_only_what_the_registry_holds_is_a_change() -> None:
    held = {"repository": "team/app", "tag": "1", "sourceDigest": "sha256:" + "a" * 64, "endpoint": "r.example.com:5000"}
    provider = SeededImageProvider()
    rotated = {**held, "password": "new", "__provider": "changed code"}
    assert not provider.diff("id", {**held, "password": "old"}, rotated).changes
    for key in ("repository", "tag", "sourceDigest", "endpoint"):  # a new endpoint is a registry without the image
        assert provider.diff("id", held, {**held, key: "other"}).changes, key


def test_a_pinned_source_is_not_asked_and_a_bundle_entry_needs_no_credentials() -> None:
    digest = "sha256:" + "d" * 64
    checked = SeededImageProvider().check({}, {"source": f"unreachable.invalid/app@{digest}"})
    assert checked.failures == [] and checked.inputs["sourceDigest"] == digest
    failed = SeededImageProvider().check({}, {"source": "unreachable.invalid/app:1"})
    assert [f.property for f in failed.failures] == ["source"] and "cannot resolve unreachable.invalid/app:1" in failed.failures[
        0
    ].reason
    _, images = problems_of([{"source": "quay.io/app:1"}])
    sources = parse_source_registries({"quay.io": {"username": "ci", "password": "p"}}, lambda *_: None)
    assert source_auth(images[0], sources) == {"username": "ci", "password": "p"}


def test_an_archive_of_docker_save_before_docker_25_is_read_as_one_oci_image(tmp_path: Path) -> None:
    layer = b"a layer tar, uncompressed" * 50
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    members = {
        "manifest.json": json.dumps([{"Config": config_name, "RepoTags": ["app:1"], "Layers": ["abc/layer.tar"]}]).encode(),
        config_name: config,
        "abc/layer.tar": layer,
    }
    with tarfile.open(tmp_path / "saved.tar", "w:") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = DockerArchive(tmp_path / "saved.tar")
    try:
        manifest = archive.manifest(archive.top.digest)
        assert archive.top.digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
        assert archive.top == DockerArchive(tmp_path / "saved.tar").top  # the same bytes every time
        blobs = children(manifest)
        assert [b["digest"] for b in blobs] == ["sha256:" + config_name[:-5], diff_id]
        assert [b["mediaType"] for b in blobs] == [
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar",
        ]
        with archive.blob(diff_id) as (stream, size):
            assert stream.read() == layer and size == len(layer)
    finally:
        archive.close()


def test_a_docker_image_entry_is_read_from_the_docker_providers_host_and_unusable_settings_fail_its_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import components.seeded_images as seeded

    class Request:
        def __init__(self, config: dict[str, str]) -> None:
            self.config = config

    asked: list[tuple[str, Any]] = []

    def image_id(image: str, docker: Connection) -> str:
        asked.append((image, docker))
        return "sha256:" + "e" * 64

    monkeypatch.setattr(seeded, "docker_image_id", image_id)
    provider = SeededImageProvider()
    provider.configure(Request({"docker:host": "tcp://10.0.0.5:2376", "docker:certPath": "/certs"}))
    checked = provider.check({}, {"dockerImage": "app:1", "source": "app:1"})
    assert checked.failures == [] and asked == [("app:1", Connection("tcp://10.0.0.5:2376", cert_path="/certs"))]
    refused = SeededImageProvider()
    refused.configure(Request({"docker:host": "ssh://build-1", "docker:sshOpts": '["-p", "2222"]'}))
    [failure] = refused.check({}, {"dockerImage": "app:1", "source": "app:1"}).failures
    assert failure.property == "dockerImage" and "docker:sshOpts" in failure.reason and len(asked) == 1
    assert refused.check({}, {"source": f"unreachable.invalid/app@sha256:{'d' * 64}"}).failures == []  # no Docker host needed
