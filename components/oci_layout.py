"""Images as files: the OCI image layout in a tar (bundles) and images read from a Docker host.

- `Bundle` reads an OCI image layout in a tar (the file `scripts/images.sh save` writes); each image
  is named by its source reference in `io.containerd.image.name` (as `ctr import` reads it) and by
  its tag in `org.opencontainers.image.ref.name`. Every manifest is hashed and every blob sized
  before it is used.
- `write_bundle` writes one, beside its name and renamed when whole, owner-only from creation.
- `DockerArchive` / `saved_from_docker`: an image of a Docker host (`docker save`'s tar) as a source.

Pure standard library (and the Docker Engine API for `saved_from_docker`), as `oci.py`, whose
references, descriptors and copy it uses.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO

from .docker_engine import Connection, DockerEngineError, DockerNotFound, engine
from .oci import (
    IMAGE_NAME,
    MANIFEST_LIMIT,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    REF_NAME,
    CopyStats,
    Descriptor,
    Reference,
    RegistryError,
    Source,
    _Hashing,
    agreed_size,
    checked_digest,
    checked_size,
    children,
    is_index,
    json_object,
    media_type_of,
    parse_reference,
    read_limited,
    sha256,
)


class Bundle:
    """An OCI image layout in a tar file, read in place (the tar is not unpacked).

    Whatever the file holds is checked as read: index.json an image index whose entries are named
    by valid references with valid digests and sizes, each manifest hashed to its digest, each blob
    a file of its descriptor's size (`verify`): a truncated, altered or foreign file is a
    RegistryError naming the file, never a traceback.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._tar = tarfile.open(self.path, "r:")  # noqa: SIM115 - kept open for reads until close()
        except (OSError, tarfile.TarError) as err:
            raise RegistryError(f"bundle {self.path}: not an OCI image layout in a tar ({err})") from err
        try:
            self.entries = self._read_index()
        except BaseException:
            self._tar.close()
            raise

    def _read_index(self) -> dict[str, Descriptor]:
        where = f"bundle {self.path}: index.json"
        try:  # the first member asked for reads the member list: a truncated tar fails here
            data = read_limited(self._member("index.json"), MANIFEST_LIMIT, where)
        except (OSError, tarfile.TarError) as err:
            raise RegistryError(f"bundle {self.path}: not an OCI image layout in a tar ({err})") from err
        manifests = json_object(data, where).get("manifests")
        if not isinstance(manifests, list) or not all(isinstance(d, dict) for d in manifests):
            raise RegistryError(f"{where}: not an image index (its manifests must be a list of descriptors)")
        entries: dict[str, Descriptor] = {}
        for d in manifests:
            annotations = d.get("annotations") or {}
            name = annotations.get(IMAGE_NAME) if isinstance(annotations, dict) else None
            if not name:
                continue  # an entry without a source reference is not one `images` can name
            try:
                parse_reference(name)
            except ValueError as err:
                raise RegistryError(f"{where}: entry {str(name)[:200]!r} is not an image reference ({err})") from None
            digest = checked_digest(d.get("digest"), f"{where} entry {name}")
            media_type = d.get("mediaType", OCI_MANIFEST)
            if not isinstance(media_type, str):
                raise RegistryError(f"{where} entry {name}: mediaType is not a string")
            entries[name] = Descriptor(digest, media_type, checked_size(d.get("size", 0), f"{where} entry {name}"))
        return entries

    def _member(self, name: str, what: str | None = None) -> IO[bytes]:
        stream = self._tar.extractfile(self._file(name, what or name))
        assert stream is not None  # `_file` gives regular files only, which always have a stream
        return stream

    def _file(self, name: str, what: str) -> tarfile.TarInfo:
        """The tar member `name`, a regular file, else RegistryError saying `what` is missing."""
        try:
            info = self._tar.getmember(name)
        except KeyError:
            info = None
        if info is None or not info.isfile():
            raise RegistryError(f"bundle {self.path}: no {what} in it (a truncated or altered file?)")
        return info

    def close(self) -> None:
        self._tar.close()

    def find(self, reference: Reference) -> Descriptor:
        """The entry saved for `reference` (as its source reference), RegistryError naming the entries
        there are. A source pinned by digest finds the entry saved under its tag (or, with no tag, any
        of its repository) and must have that digest: `images.sh save` prints those pinned sources.
        """
        found = self.entries.get(str(reference))
        if found is None and reference.digest:
            if reference.tag:
                found = self.entries.get(str(replace(reference, digest=None)))
            else:
                found = next(
                    (
                        d
                        for name, d in self.entries.items()
                        if d.digest == reference.digest
                        and (held := parse_reference(name)).registry == reference.registry
                        and held.repository == reference.repository
                    ),
                    None,
                )
        if found is None:
            held_names = ", ".join(sorted(self.entries)) or "none"
            raise RegistryError(f"bundle {self.path} holds no {reference} (it holds: {held_names})")
        if reference.digest and found.digest != reference.digest:
            saved = replace(reference, digest=None)
            raise RegistryError(f"bundle {self.path} holds {saved} as {found.digest}, not {reference.digest}")
        return found

    def verify(self, top: Descriptor) -> None:
        """RegistryError unless every manifest under `top` is in the file with its digest and every blob
        is there at its descriptor's size: a bad file is refused with the settings, before anything is
        created (blobs are hashed by the registry that takes them, so they are not read here).
        """
        data = self.manifest(top.digest)
        try:
            index, listed = is_index(data, media_type_of(data, top.media_type)), children(data)
        except RegistryError as err:
            raise RegistryError(f"bundle {self.path}: manifest {top.digest}: {err}") from None
        for child in listed:
            if index:
                self.verify(Descriptor(child["digest"], child.get("mediaType", OCI_MANIFEST)))
                continue
            size = self._file(blob_path(child["digest"]), f"blob {child['digest']}").size
            if size != child["size"]:
                said = child["size"]
                raise RegistryError(f"bundle {self.path}: blob {child['digest']} is {size} bytes, its manifest says {said}")

    def manifest(self, digest: str) -> bytes:
        where = f"bundle {self.path}: manifest {digest}"
        try:
            data = read_limited(self._member(blob_path(digest), f"manifest {digest}"), MANIFEST_LIMIT, where)
        except (OSError, tarfile.TarError) as err:
            raise RegistryError(f"{where}: unreadable ({err})") from err
        if sha256(data) != digest:
            raise RegistryError(f"{where} is corrupt (digest {sha256(data)})")
        return data

    @contextmanager
    def blob(self, digest: str) -> Iterator[tuple[IO[bytes], int]]:
        yield self._member(blob_path(digest), f"blob {digest}"), self._file(blob_path(digest), f"blob {digest}").size


class DockerArchive:
    """What `docker save` writes before Docker 25 (`manifest.json`, a config, uncompressed layer tars),
    read in place as one OCI image: its manifest is made here (OCI media types, uncompressed layers,
    the layers' digests being the config's `diff_ids`), the same bytes for the same image every time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - kept open for reads until close()
        try:
            entries = json.loads(read_limited(self._member("manifest.json"), MANIFEST_LIMIT, f"{path}: manifest.json"))
            if len(entries) != 1:
                raise RegistryError(f"{path}: {len(entries)} images in one docker save, not one")
            config = read_limited(self._member(entries[0]["Config"]), MANIFEST_LIMIT, f"{path}: image config")
            diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        except (KeyError, TypeError, ValueError, tarfile.TarError) as err:
            self._tar.close()
            raise RegistryError(f"{path}: not a docker save archive ({err})") from err
        config_digest = sha256(config)
        self._members = {config_digest: entries[0]["Config"], **dict(zip(diff_ids, entries[0]["Layers"], strict=True))}
        layers = [
            {"mediaType": OCI_LAYER, "digest": d, "size": self._tar.getmember(name).size}
            for d, name in zip(diff_ids, entries[0]["Layers"], strict=True)
        ]
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": layers,
        }
        self._manifest = json.dumps(manifest, separators=(",", ":")).encode()
        self.top = Descriptor(sha256(self._manifest), OCI_MANIFEST, len(self._manifest))

    def _member(self, name: str) -> IO[bytes]:
        found = self._tar.extractfile(name)
        if found is None:
            raise KeyError(name)
        return found

    def close(self) -> None:
        self._tar.close()

    def manifest(self, digest: str) -> bytes:
        if digest != self.top.digest:
            raise RegistryError(f"{self.path}: no manifest {digest}")
        return self._manifest

    @contextmanager
    def blob(self, digest: str) -> Iterator[tuple[IO[bytes], int]]:
        name = self._members.get(digest)
        if name is None:
            raise RegistryError(f"{self.path}: no blob {digest}")
        yield self._member(name), self._tar.getmember(name).size


def docker_image_id(image: str, docker: Connection) -> str:
    """The ID (config digest) of `image` in the Docker host: what identifies it there."""
    try:
        with engine(docker) as api:
            return api.image_id(image)
    except DockerNotFound:
        raise RegistryError(f"Docker host {docker.where} has no image {image}") from None
    except DockerEngineError as err:
        raise RegistryError(str(err)) from None


@contextmanager
def saved_from_docker(image: str, docker: Connection) -> Iterator[tuple[Source, Descriptor]]:
    """What `docker save` writes for one image (through the Engine API) as a source, and its top
    manifest: an OCI image layout (Docker 25 and later) or the older archive (`DockerArchive`).
    """
    with tempfile.TemporaryDirectory(prefix="private-registry-save-") as folder:
        path = Path(folder) / "image.tar"
        try:
            # A socket read may wait long while the daemon packs a big layer.
            with engine(docker, timeout=1800) as api:
                api.save_image(image, path)
        except DockerEngineError as err:
            raise RegistryError(str(err)) from None
        with tarfile.open(path, "r:") as tar:
            layout = "index.json" in tar.getnames()
        if not layout:
            archive = DockerArchive(path)
            try:
                yield archive, archive.top
            finally:
                archive.close()
            return
        bundle = Bundle(path)
        try:
            entries = list(bundle.entries.values())
            if len(entries) != 1:
                raise RegistryError(f"docker save {image} gave {len(entries)} named images, not one")
            yield bundle, entries[0]
        finally:
            bundle.close()


def blob_path(digest: str) -> str:
    algorithm, _, hexdigest = checked_digest(digest, "blob path").partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def write_bundle(path: Path, images: list[tuple[Reference, Source, Descriptor]], log: Callable[[str], None] = print) -> CopyStats:
    """Write `images` (source reference, where to read it, its descriptor) as an OCI image layout in a
    tar at `path`: written beside it and renamed at the end, so a failed save leaves no file behind,
    and owner-only (0600) from its creation on, since a bundle may hold private images.
    """
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)  # a killed save's leftover: created anew below, never written through
    # O_EXCL and O_NOFOLLOW: a file (or link) put there by someone else is never opened.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            stats = _write_layout(out, images, log)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return stats


def _write_layout(out: IO[bytes], images: list[tuple[Reference, Source, Descriptor]], log: Callable[[str], None]) -> CopyStats:
    stats = CopyStats()
    written: set[str] = set()
    index = []
    with tarfile.open(fileobj=out, mode="w:") as tar:

        def add(name: str, stream: IO[bytes], size: int) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = size, 0o644, 0
            tar.addfile(info, stream)

        def save(source: Source, descriptor: Descriptor) -> str:
            data = source.manifest(descriptor.digest)
            media_type = media_type_of(data, descriptor.media_type)
            for child in children(data):
                if is_index(data, media_type):
                    save(source, Descriptor(child["digest"], child.get("mediaType", OCI_MANIFEST)))
                elif child["digest"] not in written:
                    with source.blob(child["digest"]) as (stream, got):
                        size = agreed_size(child, got)
                        hashing = _Hashing(stream, size, child["digest"])
                        add(blob_path(child["digest"]), hashing, size)  # type: ignore[arg-type]
                    if "sha256:" + hashing.hash.hexdigest() != child["digest"] or hashing.count != size:
                        raise RegistryError(f"blob {child['digest']} arrived corrupt or short")
                    written.add(child["digest"])
                    stats.blobs_sent += 1
                    stats.bytes_sent += size
            if descriptor.digest not in written:
                add(blob_path(descriptor.digest), io.BytesIO(data), len(data))
                written.add(descriptor.digest)
            stats.manifests += 1
            return media_type

        for reference, source, descriptor in images:
            log(f"saving {reference} ({descriptor.digest})")
            media_type = save(source, descriptor)
            annotations = {IMAGE_NAME: str(reference), REF_NAME: reference.tag or reference.digest or ""}
            entry = {"mediaType": media_type, "digest": descriptor.digest, "size": descriptor.size}
            index.append({**entry, "annotations": annotations})
        layout = json.dumps({"imageLayoutVersion": "1.0.0"}).encode()
        add("oci-layout", io.BytesIO(layout), len(layout))
        index_bytes = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index}, indent=1).encode()
        add("index.json", io.BytesIO(index_bytes), len(index_bytes))
    return stats
