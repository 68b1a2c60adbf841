"""Settings `images` and `sourceRegistries`: images the registry must hold, and how to reach their sources.

`images` is a list of `{source | dockerImage, name, bundle}`:

- `source`: the image to copy, a reference as Docker reads it (`registry.example.com/team/app:1.2`,
  `busybox:1.37` is `docker.io/library/busybox:1.37`, `...@sha256:<digest>` pins it);
- or `dockerImage`: an image already in the Docker host (`DOCKER_HOST`, or `docker:host`), copied
  as `docker save` gives it (one platform; its image ID identifies it);
- `name`: the repository and tag to hold it under in this registry (default: the source's repository
  and tag), never another registry's;
- `bundle`: a file written by `scripts/images.sh save` that holds `source` (air-gapped side): the
  image is read from there instead of the source registry.

`sourceRegistries` maps a source registry (`host[:port]`, `docker.io` for Docker Hub) to
`{username, password, ca}`: credentials (config secrets) and the CA to verify it by (PEM; default:
the system's). Pure: validated here, copied by `seeded_images.py`. Every bad entry is refused before
anything is created, naming its path (`images[2].bundle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .oci import Reference, RegistryError, parse_destination, parse_reference
from .oci_layout import Bundle
from .problems import Problem
from .setting_keys import field_names

IMAGE_KEYS = field_names("images")
SOURCE_KEYS = field_names("sourceRegistries")


@dataclass(frozen=True)
class DeclaredImage:
    """One validated entry of `images`."""

    source: Reference
    repository: str
    tag: str
    bundle: str | None = None  # as written in the setting (relative to the project), or None
    bundle_path: str | None = None  # the same file's absolute path, where the copy reads it
    docker_image: str | None = None  # `dockerImage` as written: the source is the Docker host's image

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class SourceRegistry:
    """How to reach one source registry: credentials (both or neither) and the CA that signs its certificate."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = None


def _entry(index: int, raw: Any, base: Path, bundles: dict[str, Bundle | None], problem: Problem) -> DeclaredImage | None:
    path = f"images[{index}]"
    if not isinstance(raw, Mapping) or ("source" in raw) == ("dockerImage" in raw):
        problem(path, raw, "must be an object {source, name?, bundle?} or {dockerImage, name?}: one of source and dockerImage")
        return None
    unknown = sorted(set(raw) - set(IMAGE_KEYS))
    if unknown:
        problem(path, raw, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(IMAGE_KEYS)}")
        return None
    key = "source" if "source" in raw else "dockerImage"
    if key == "dockerImage" and "bundle" in raw:
        problem(f"{path}.bundle", raw["bundle"], "is for a source: a dockerImage is read from the Docker host")
        return None
    try:
        source = parse_reference(raw[key])
    except ValueError as err:
        problem(f"{path}.{key}", raw[key], str(err))
        return None
    try:
        repository, tag = parse_destination(raw["name"]) if "name" in raw else (source.repository, source.tag)
    except ValueError as err:
        problem(f"{path}.name", raw["name"], str(err))
        return None
    if tag is None:
        problem(f"{path}.name", raw.get("name"), "needs a tag (repository:tag): the source is named by digest only")
        return None
    bundle = raw.get("bundle")
    bundle_path = None
    if bundle is not None:
        if not isinstance(bundle, str) or not bundle:
            problem(f"{path}.bundle", bundle, "must be the path of a bundle file (scripts/images.sh save)")
            return None
        bundle_path = str((base / bundle).resolve())
        if bundle_path not in bundles:
            try:
                bundles[bundle_path] = Bundle(bundle_path)
            except RegistryError as err:
                bundles[bundle_path] = None
                problem(f"{path}.bundle", bundle, str(err))
        opened = bundles[bundle_path]
        if opened is None:
            return None
        try:
            found = opened.find(source)
        except RegistryError as err:
            problem(f"{path}.source", raw["source"], str(err))
            return None
        try:
            opened.verify(found)
        except RegistryError as err:
            problem(f"{path}.bundle", bundle, f"{err} (entry {source})")
            return None
    return DeclaredImage(source, repository, tag, bundle, bundle_path, raw.get("dockerImage"))


def parse_images(value: Any, base: Path, problem: Problem) -> tuple[DeclaredImage, ...]:
    """The validated `images` list; bundle files are read (their index only) to check each entry."""
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        problem("images", value, "must be a list of {source, name?, bundle?} or {dockerImage, name?}")
        return ()
    bundles: dict[str, Bundle | None] = {}
    images: list[DeclaredImage] = []
    seen: dict[str, int] = {}
    try:
        for index, raw in enumerate(value):
            image = _entry(index, raw, base, bundles, problem)
            if image is None:
                continue
            if image.name in seen:
                problem(
                    f"images[{index}].name", image.name, f"is already declared by images[{seen[image.name]}]: one image per name"
                )
                continue
            seen[image.name] = index
            images.append(image)
    finally:
        for opened in bundles.values():
            if opened is not None:
                opened.close()
    return tuple(images)


def parse_source_registries(value: Any, problem: Problem) -> dict[str, SourceRegistry]:
    """The validated `sourceRegistries` map: host -> credentials and CA."""
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        problem("sourceRegistries", value, "must be an object: registry host -> {username, password, ca}")
        return {}
    found: dict[str, SourceRegistry] = {}
    for host, raw in value.items():
        path = f"sourceRegistries.{host}"
        try:
            parse_reference(f"{host}/x")
            if parse_reference(f"{host}/x").registry != host:
                raise ValueError(host)
        except ValueError:
            problem(path, host, "the key must be a registry host[:port] (docker.io for Docker Hub)")
            continue
        if not isinstance(raw, Mapping) or set(raw) - set(SOURCE_KEYS):
            problem(path, raw, f"must be an object with keys among {', '.join(SOURCE_KEYS)}")
            continue
        texts = registry_access(raw, path, SOURCE_KEYS, problem)
        if texts is not None:
            found[host] = SourceRegistry(texts["username"], texts["password"], texts["ca"])
    return found


def registry_access(raw: Mapping[str, Any], path: str, keys: Sequence[str], problem: Problem) -> dict[str, Any] | None:
    """How to reach a registry (`sourceRegistries.<host>`, `mirrors.<upstream>`): the string fields
    `keys` (among them username, password and ca) checked; None after reporting a problem.
    """
    texts = {k: raw.get(k) for k in keys}
    bad = [k for k, v in texts.items() if v is not None and (not isinstance(v, str) or not v)]
    if bad:
        problem(f"{path}.{bad[0]}", texts[bad[0]], "must be a non-empty string")
        return None
    if (texts["username"] is None) != (texts["password"] is None):
        problem(path, raw, "needs both username and password (a config secret), or neither")
        return None
    if texts["ca"] is not None and "-----BEGIN CERTIFICATE-----" not in texts["ca"]:
        problem(f"{path}.ca", texts["ca"], "must be PEM text (-----BEGIN CERTIFICATE-----)")
        return None
    return texts
