"""Declared images (setting `images`): each one a resource that copies an image into the registry by digest.

Why a dynamic provider on the registry's own API rather than pulumi-docker's image resources:
`RemoteImage` pulls into a Docker host and `RegistryImage` pushes what a Docker host built, so a copy
would go through a daemon (its image store, its own layer compression), lose the source's manifest
digest and keep only one platform of a multi-arch index; it also needs a Docker host, which a
Kubernetes-target stack may not have. `oci.copy_image` writes the manifests as the bytes read, so the
digests are the source's, every platform included, and blobs the registry holds are not sent again.

The life of one image:

- `check` (preview and up) resolves the source to `sourceDigest` (one manifest request, the
  bundle's index, or the Docker Engine API's image ID for an image of the Docker host): a tag that moved
  upstream is a change to `sourceDigest` in the preview, never a silent one; a source pinned by
  digest is not asked at all.
- `diff` compares what the registry must hold (`repository`, `tag`, `sourceDigest`, `endpoint`) only:
  a no-op run transfers nothing; a changed password of the user that copies changes nothing either.
- `create` and `update` copy (only what the registry lacks); `read` (`pulumi refresh`) asks the
  registry what the tag names now, so an image deleted there is copied again by the next `up`.
- `delete` (an entry removed from `images`, or `destroy`) leaves the image in the registry: a
  cluster may still run it, and deleting needs `deleteEnabled` and a garbage collection.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .docker_engine import Connection, DockerSettingError, provider_connection
from .images import DeclaredImage, SourceRegistry
from .oci import Descriptor, Registry, RegistrySource, Source, copy_image, parse_reference
from .oci_layout import Bundle, docker_image_id, saved_from_docker

# What the registry must hold: a change of any of these copies the image (an update, never a replacement).
# `sourceDigest` is what identifies the source: its manifest digest, or a Docker host image's ID.
HELD = ("repository", "tag", "sourceDigest", "endpoint")


def source_registry(props: Mapping[str, Any]) -> Registry:
    reference = parse_reference(props["source"])
    auth = props.get("sourceAuth") or {}
    return Registry(reference.registry, auth.get("username"), auth.get("password"), auth.get("ca"))


def resolve(props: Mapping[str, Any], docker: Connection | None = None) -> Descriptor:
    """What the entry's source names now: a Docker host image's ID, its bundle's entry, or the registry's digest.
    `docker`: the Docker host of `dockerImage` entries (default: DOCKER_HOST and the like, as the CLI's).
    """
    if props.get("dockerImage"):
        return Descriptor(docker_image_id(props["dockerImage"], docker or provider_connection({})), "")
    reference = parse_reference(props["source"])
    if props.get("bundlePath"):
        bundle = Bundle(props["bundlePath"])
        try:
            return bundle.find(reference)
        finally:
            bundle.close()
    if reference.digest:  # pinned: nothing to ask; the media type is learnt when the copy reads the manifest
        return Descriptor(reference.digest, props.get("mediaType") or "")
    return source_registry(props).resolve(reference.repository, reference.ref)


def destination(props: Mapping[str, Any]) -> Registry:
    return Registry(props["endpoint"], props["username"], props["password"], props["ca"])


@contextmanager
def opened_source(props: Mapping[str, Any], docker: Connection | None = None) -> Iterator[tuple[Source, Descriptor]]:
    """Where the copy reads the entry's image, and the image's top manifest."""
    if props.get("dockerImage"):
        with saved_from_docker(props["dockerImage"], docker or provider_connection({})) as saved:
            yield saved
        return
    if props.get("bundlePath"):
        bundle = Bundle(props["bundlePath"])
        try:
            yield bundle, bundle.find(parse_reference(props["source"]))
        finally:
            bundle.close()
        return
    reference = parse_reference(props["source"])
    yield RegistrySource(source_registry(props), reference.repository), Descriptor(props["sourceDigest"], props["mediaType"])


def copy(props: Mapping[str, Any], docker: Connection | None = None) -> dict[str, Any]:
    """Copy the entry's image into the registry; the outputs say what it holds and what was sent."""
    with opened_source(props, docker) as (source, top):
        stats = copy_image(source, top, destination(props), props["repository"], props["tag"])
    sent = {"blobsSent": stats.blobs_sent, "bytesSent": stats.bytes_sent, "blobsPresent": stats.blobs_present}
    return {**props, "digest": top.digest, **sent}


class SeededImageProvider(ResourceProvider):
    """Dynamic provider of `SeededImage`; see the module docstring."""

    docker: Connection | None = None
    docker_problem = ""  # docker settings that cannot be used: a failure of `dockerImage` entries only

    def configure(self, req: Any) -> None:
        """Where `dockerImage` entries are read: the stack's docker provider settings (every key comes here)."""
        try:
            self.docker = provider_connection(req.config)
        except DockerSettingError as err:
            self.docker_problem = str(err)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if news.get("dockerImage") and self.docker_problem:
            return CheckResult(news, [CheckFailure("dockerImage", self.docker_problem)])
        try:
            found = resolve(news, self.docker)
        except Exception as err:
            what = news.get("dockerImage") or news["source"]
            return CheckResult(news, [CheckFailure("source", f"cannot resolve {what}: {err}")])
        return CheckResult({**news, "sourceDigest": found.digest, "mediaType": found.media_type}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in HELD if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"image-{secrets.token_hex(8)}", outs=copy(props, self.docker))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=copy(news, self.docker))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        held = destination(props).has_manifest(props["repository"], props["tag"])
        if held == props.get("digest"):
            return ReadResult(id_=id_, outs=props)
        # Deleted or overwritten in the registry: forget the source too, so the next `up` copies again.
        return ReadResult(id_=id_, outs={**props, "digest": held or "", "sourceDigest": ""})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The image stays in the registry (module docstring)."""


class SeededImage(Resource, module="private-registry", name="Image"):
    """One declared image held in the registry; `digest` is what it holds."""

    digest: pulumi.Output[str]
    bytes_sent: pulumi.Output[int]

    def __init__(self, name: str, props: Mapping[str, pulumi.Input[Any]], opts: pulumi.ResourceOptions) -> None:
        outputs = {
            "digest": None,
            "sourceDigest": None,
            "mediaType": None,
            "blobsSent": None,
            "bytesSent": None,
            "blobsPresent": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password", "sourceAuth"])
        super().__init__(SeededImageProvider(), name, {**outputs, **props}, pulumi.ResourceOptions.merge(opts, secret))


@dataclass(frozen=True)
class SeededImagesArgs:
    """The declared images, how to reach their sources, and the registry they go into (as a push user)."""

    images: Sequence[DeclaredImage]
    sources: Mapping[str, SourceRegistry]
    endpoint: str
    username: str
    password: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str]
    registry: Sequence[pulumi.Resource]  # what must be running before a copy


def image_props(image: DeclaredImage) -> dict[str, Any]:
    """A declared image's plain inputs (credentials added by the component as secrets)."""
    return {
        "source": str(image.source),
        "repository": image.repository,
        "tag": image.tag,
        "bundle": image.bundle,
        "bundlePath": image.bundle_path,
        "dockerImage": image.docker_image,
    }


def source_auth(image: DeclaredImage, sources: Mapping[str, SourceRegistry]) -> dict[str, str] | None:
    """The credentials and CA of the entry's source registry (none for a bundle entry, which reads a file)."""
    found = sources.get(image.source.registry)
    if found is None or image.bundle is not None or image.docker_image is not None:
        return None
    return {k: v for k, v in (("username", found.username), ("password", found.password), ("ca", found.ca)) if v is not None}


class SeededImages(pulumi.ComponentResource):
    """Every declared image, one child each named by where it is held (`<name>-team/app:1`)."""

    digests: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: SeededImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:SeededImages", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.registry))
        held = {}
        for image in args.images:
            auth = source_auth(image, args.sources)
            props = {
                **image_props(image),
                "sourceAuth": pulumi.Output.secret(auth) if auth else None,
                "endpoint": args.endpoint,
                "username": args.username,
                "password": pulumi.Output.secret(args.password),
                "ca": args.ca_cert_pem,
            }
            held[image.name] = SeededImage(f"{name}-{image.name}", props, child).digest
        self.digests = pulumi.Output.all(**held) if held else pulumi.Output.from_input({})
        self.register_outputs({"digests": self.digests})
