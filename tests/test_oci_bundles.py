"""Bundles (`scripts/images.sh save`, `images[].bundle`): how they are written and what a bad one gives.

A save that fails leaves no file, a bundle is owner-only from its creation, a source that gives a
blob short or long is caught by the manifest's size, a malformed file named in `images` is a
settings problem naming the setting and the file (never a traceback), and the save prints the
digest-pinned sources that find their entries again on the air-gapped side.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from components.model import SettingsError
from components.oci import MANIFEST_LIMIT, Descriptor, RegistryError, parse_reference
from components.oci_layout import Bundle, DockerArchive, blob_path, write_bundle
from components.settings import load_settings
from scripts import images as images_script
from tests.test_images import MemorySource, platform_image, problems_of

REF = parse_reference("src.example.com/team/app:1")
LAYER = b"layer-a" * 100
LAYER_DIGEST = "sha256:" + hashlib.sha256(LAYER).hexdigest()


def quiet(_: str) -> None:
    pass


def saved(tmp_path: Path, name: str = "images.tar") -> tuple[Path, MemorySource, Descriptor]:
    source = MemorySource()
    top = platform_image(source, "amd64", LAYER)
    write_bundle(tmp_path / name, [(REF, source, top)], log=quiet)
    return tmp_path / name, source, top


class Failing(MemorySource):
    """A source whose layer stream gives 300 bytes, then `end` (an error, or nothing: a short blob),
    with no size of its own (as a registry without `Content-Length`).
    """

    def __init__(self, end: Exception | None) -> None:
        super().__init__()
        self.end = end

    @contextmanager
    def blob(self, digest: str) -> Iterator[tuple[IO[bytes], int | None]]:  # type: ignore[override]  # no size
        if digest != LAYER_DIGEST:
            yield io.BytesIO(self.blobs[digest]), len(self.blobs[digest])
            return
        cut, end = io.BytesIO(LAYER[:300]), self.end

        class Stream(io.RawIOBase):
            def read(self, size: int = -1) -> bytes:
                chunk = cut.read(size)
                if not chunk and end is not None:
                    raise end
                return chunk

        yield Stream(), None  # type: ignore[misc]  # a raw stream as IO[bytes]


class Longer(MemorySource):
    """A source whose every blob goes on past what its manifest says, with no size of its own."""

    @contextmanager
    def blob(self, digest: str) -> Iterator[tuple[IO[bytes], int | None]]:  # type: ignore[override]  # no size
        yield io.BytesIO(self.blobs[digest] + b" and then some more"), None


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (RegistryError("src.example.com: connection reset"), "connection reset"),
        (None, r"ended after 300 of its 700 bytes"),  # a short blob, once an OSError from tarfile
    ],
)
def test_a_failed_save_leaves_no_file_behind(tmp_path: Path, end: Exception | None, message: str) -> None:
    source = Failing(end)
    top = platform_image(source, "amd64", LAYER)
    (tmp_path / "images.tar.partial").write_bytes(b"a killed save's leftover")
    with pytest.raises(RegistryError, match=message):
        write_bundle(tmp_path / "images.tar", [(REF, source, top)], log=quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bundle_is_owner_only_from_its_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modes: list[int] = []

    def refuse_chmod(*_: Any, **__: Any) -> None:
        raise AssertionError("a bundle's mode is set as it is created, never changed after")

    monkeypatch.setattr(os, "chmod", refuse_chmod)
    monkeypatch.setattr(Path, "chmod", refuse_chmod)
    old = os.umask(0)  # the mode is the code's, not the umask's
    try:
        source = MemorySource()
        top = platform_image(source, "amd64", LAYER)
        partial = tmp_path / "images.tar.partial"
        write_bundle(tmp_path / "images.tar", [(REF, source, top)], log=lambda _: modes.append(partial.stat().st_mode))
    finally:
        os.umask(old)
    assert [stat.S_IMODE(m) for m in modes] == [0o600]  # while its first image is written
    assert stat.S_IMODE((tmp_path / "images.tar").stat().st_mode) == 0o600


def test_a_leftover_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses-file"
    target.write_bytes(b"kept")
    (tmp_path / "images.tar.partial").symlink_to(target)
    saved(tmp_path)
    assert target.read_bytes() == b"kept"
    assert not (tmp_path / "images.tar").is_symlink()


def test_a_blob_longer_than_its_manifest_says_is_saved_at_its_manifests_size(tmp_path: Path) -> None:
    source = Longer()
    top = platform_image(source, "amd64", LAYER)
    write_bundle(tmp_path / "images.tar", [(REF, source, top)], log=quiet)
    bundle = Bundle(tmp_path / "images.tar")
    try:
        bundle.verify(top)
        with bundle.blob(LAYER_DIGEST) as (stream, size):
            assert (stream.read(), size) == (LAYER, len(LAYER))
    finally:
        bundle.close()


def rewritten(path: Path, out: Path, change: dict[str, bytes | None]) -> Path:
    """`path`'s members into `out`, those named in `change` replaced by its bytes (None: left out)."""
    with tarfile.open(path) as old, tarfile.open(out, "w:") as new:
        for info in old.getmembers():
            data = change.get(info.name, old.extractfile(info).read())  # type: ignore[union-attr]  # files only
            if data is None:
                continue
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    return out


def index_with(path: Path, **entry: Any) -> bytes:
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    index["manifests"][0] |= entry
    return json.dumps(index).encode()


def malformed(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A bad bundle of `case`, and what its problem must say."""
    good, source, top = saved(tmp_path, "good.tar")
    data = good.read_bytes()
    out = tmp_path / f"{case}.tar"
    layer = LAYER_DIGEST
    if case == "truncated":
        out.write_bytes(data[: len(data) // 2])
        return out, "not an OCI image layout in a tar (unexpected end of data)"
    if case == "not a tar":
        out.write_bytes(b"PK\x03\x04 a zip file" * 100)
        return out, "not an OCI image layout in a tar (invalid header)"
    if case == "no index":
        return rewritten(good, out, {"index.json": None}), "no index.json in it"
    if case == "index not an index":
        return rewritten(good, out, {"index.json": b"[1, 2]"}), "index.json: not a JSON object"
    if case == "entry without a size":
        return rewritten(
            good, out, {"index.json": index_with(good, size="12")}
        ), "index.json entry src.example.com/team/app:1: no valid size"
    if case == "entry not a reference":
        bad = index_with(good, annotations={"io.containerd.image.name": "Not A/Reference"})
        return rewritten(good, out, {"index.json": bad}), "index.json: entry 'Not A/Reference' is not an image reference"
    if case == "index over 4 MiB":
        return rewritten(
            good, out, {"index.json": b" " * MANIFEST_LIMIT + b"{}"}
        ), f"index.json: more than {MANIFEST_LIMIT} bytes"
    if case == "manifest over 4 MiB":
        big = {blob_path(top.digest): b" " * MANIFEST_LIMIT + source.manifest(top.digest)}
        return rewritten(good, out, big), f"manifest {top.digest}: more than {MANIFEST_LIMIT} bytes"
    if case == "manifest missing":
        return rewritten(good, out, {blob_path(top.digest): None}), f"no manifest {top.digest} in it"
    if case == "manifest altered":
        return rewritten(
            good, out, {blob_path(top.digest): source.manifest(top.digest) + b" "}
        ), f"manifest {top.digest} is corrupt"
    if case == "blob missing":
        return rewritten(good, out, {blob_path(layer): None}), f"no blob {layer} in it"
    assert case == "blob cut short"
    return rewritten(good, out, {blob_path(layer): LAYER[:-1]}), f"blob {layer} is 699 bytes, its manifest says 700"


CASES = [
    "truncated",
    "not a tar",
    "no index",
    "index not an index",
    "entry without a size",
    "entry not a reference",
    "index over 4 MiB",
    "manifest over 4 MiB",
    "manifest missing",
    "manifest altered",
    "blob missing",
    "blob cut short",
]


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_bundle_is_a_problem_of_its_setting_naming_the_file(tmp_path: Path, case: str) -> None:
    path, reason = malformed(tmp_path, case)
    problems, images = problems_of([{"source": str(REF), "bundle": path.name}], tmp_path)
    assert images == ()
    assert [p for p, _ in problems] == ["images[0].bundle"]
    assert problems[0][1].startswith(f"bundle {path}") and reason in problems[0][1]


def test_the_stacks_settings_refuse_a_malformed_bundle_by_its_key(tmp_path: Path) -> None:
    path, _ = malformed(tmp_path, "manifest altered")
    with pytest.raises(SettingsError) as raised:
        load_settings({"images": [{"source": str(REF), "bundle": str(path)}]}, "dev")
    assert f"private-registry:images[0].bundle = '{path}': bundle {path}: manifest " in str(raised.value)


def test_a_digest_pinned_source_finds_the_entry_saved_by_its_tag(tmp_path: Path) -> None:
    path, _, top = saved(tmp_path)
    other = "sha256:" + "0" * 64
    bundle = Bundle(path)
    try:
        assert bundle.find(parse_reference(f"{REF}@{top.digest}")) == bundle.find(REF)
        assert bundle.find(parse_reference(f"src.example.com/team/app@{top.digest}")).digest == top.digest
        with pytest.raises(RegistryError, match=f"holds src.example.com/team/app:1 as {top.digest}, not {other}"):
            bundle.find(parse_reference(f"{REF}@{other}"))
        with pytest.raises(RegistryError, match=r"holds no src\.example\.com/team/app@sha256:0+ \(it holds: src"):
            bundle.find(parse_reference(f"src.example.com/team/app@{other}"))
        with pytest.raises(RegistryError, match=r"holds no src\.example\.com/team/other@"):
            bundle.find(parse_reference(f"src.example.com/team/other@{top.digest}"))
    finally:
        bundle.close()


def test_save_prints_one_pinned_source_per_image_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = MemorySource()
    tops = {
        "src.example.com/team/app:1": platform_image(source, "amd64", LAYER),
        "busybox:1.37": platform_image(source, "arm64", b"b"),
    }

    def resolve(props: dict[str, Any]) -> Descriptor:
        return tops[next(k for k in tops if str(parse_reference(k)) == props["source"])]

    @contextmanager
    def opened(props: dict[str, Any]) -> Iterator[tuple[MemorySource, Descriptor]]:
        yield source, Descriptor(props["sourceDigest"], props["mediaType"])

    monkeypatch.setattr(images_script, "resolve", resolve)
    monkeypatch.setattr(images_script, "opened_source", opened)
    listed = tmp_path / "images.txt"
    listed.write_text("src.example.com/team/app:1\nbusybox:1.37\n")
    assert images_script.main(["save", "--list", str(listed), str(tmp_path / "images.tar")]) == 0
    out = capsys.readouterr()
    app, busybox = tops["src.example.com/team/app:1"].digest, tops["busybox:1.37"].digest
    assert out.out.splitlines() == [f"src.example.com/team/app:1@{app}", f"docker.io/library/busybox:1.37@{busybox}"]
    assert "saved 2 image(s)" in out.err
    # Those lines as the air-gapped side's sources: each finds its entry, with its digest checked.
    problems, images = problems_of([{"source": line, "bundle": "images.tar"} for line in out.out.splitlines()], tmp_path)
    assert problems == [] and [i.source.digest for i in images] == [app, busybox]


def test_save_into_a_folder_that_does_not_exist_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _, _ = saved(tmp_path)
    listed = tmp_path / "images.yaml"
    listed.write_text(json.dumps([{"source": str(REF), "bundle": path.name}]))
    assert images_script.main(["save", "--list", str(listed), str(tmp_path / "missing" / "out.tar")]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "images.sh: nothing saved: [Errno 2] No such file or directory" in out.err


def test_a_docker_save_archive_is_read_bounded(tmp_path: Path) -> None:
    """What the Docker host's `docker save` gave (Docker before 25) is read within the manifest limit too."""
    with tarfile.open(tmp_path / "save.tar", "w:") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = MANIFEST_LIMIT + 2
        tar.addfile(info, io.BytesIO(b"[" + b" " * MANIFEST_LIMIT + b"]"))
    with pytest.raises(RegistryError, match=f"manifest.json: more than {MANIFEST_LIMIT} bytes"):
        DockerArchive(tmp_path / "save.tar")
