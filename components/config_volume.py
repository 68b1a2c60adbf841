"""Target `docker`: the registry's files in a small named volume, written in place by a one-shot step.

Why a volume and not the provider's `uploads`: uploads are replace-only (a password change replaced
the container: every pull failed for about 2 s), and dockerd refuses to copy into a container
whose root file system is read-only (`container rootfs is marked read-only`). So each registry
container gets a config volume `<container>-config` (the resource's own: its first write creates it,
its delete removes it), mounted read-only at `/etc/distribution` (the paths of
`distribution.py`: `certs/tls.crt`, `certs/tls.key`, `auth/htpasswd`, a mirror's `upstream/ca.crt`,
and the image's own `config.yml`, copied from the image so that its defaults stay). The resource
`ConfigFiles` (a dynamic provider) writes them with a one-shot container of the registry's own
image (its shell and busybox, as the official image has): the files arrive as a tar archive copied
into that container's own layer before it starts (never on a command line or in an environment; the
container goes with it when the step ends), are unpacked into a staging folder inside the volume,
owned by the registry's user and mode 0400 (key, htpasswd) or 0444, then renamed over the old ones,
so the registry never reads half a file. Distribution re-reads its htpasswd file when the file's
modification time changes: a password change reaches the running registry at its next request, and
nothing restarts. TLS is read at start: the container carries a hash of the
certificate, key and upstream CA as a label, so a renewal replaces it (labels are replace-only).

The registry runs as `RUN_AS` (non-root), so its data volume must belong to that user: a
`before_create` hook of the container (`own_data_hook`) gives it to the user when it does not
already belong to it, after any old container is gone (a replacement deletes first) and before the
new one starts, so no registry writes while the owner changes. It also leaves a `docker/` folder
in a new volume: dockerd copies the image's folder (owned by root) over an empty volume when a
container mounts it, which would undo the owner.

The decisions are plain functions (`tar_archive`, `write_script`, `files_digest`,
`own_data_script`); the provider and the hook only call the Docker Engine API (`docker_engine.py`,
reached with the stack's docker provider settings, no `docker` CLI).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from .distribution import RUN_AS, STORAGE_ROOT
from .docker_engine import INPUT, Connection, DockerEngineError, OneShot, engine, provider_connection
from .leftover_container import data_volume
from .ordering import is_unknown

MOUNT = "/etc/distribution"  # where the registry reads the volume (read-only)
STAGING = ".next"  # inside the volume: the same file system, so a rename is atomic
OWNER = f"{RUN_AS}:{RUN_AS}"
# Capabilities of the one-shot steps (which run as root): change owners and modes, nothing else.
STEP_CAPABILITIES = ("CHOWN", "FOWNER", "DAC_OVERRIDE")
# Calls a tool of the image, or busybox's applet where the image links only a few (the official
# image links all of them; a minimal one may link `sh` alone).
TOOL = 'b() { if command -v "$1" >/dev/null 2>&1; then "$@"; else /bin/busybox "$@"; fi; }'


class ConfigVolumeError(DockerEngineError):
    """A one-shot step failed (Docker unreachable, an image without a shell, ...)."""


def tar_archive(files: Mapping[str, Mapping[str, str]], now: float) -> bytes:
    """The files (`path -> {content, mode}`) as a tar archive, owned by the registry's user.
    `now`: their modification time, which must change with every write (Distribution reloads its
    htpasswd file when its modification time differs from the one it read).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(files):
            data = files[path]["content"].encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), int(files[path]["mode"], 8), now
            info.uid = info.gid = RUN_AS
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def folders(paths: Sequence[str]) -> list[str]:
    """The folders the files go into, in order."""
    return sorted({p.rsplit("/", 1)[0] for p in paths if "/" in p})


def write_script(modes: Mapping[str, str]) -> str:
    """The one-shot step for the files `modes` (path -> mode): unpack its input into the staging folder,
    take the image's `config.yml`, own everything by the registry's user with each file's mode, then
    rename each file into place.
    """
    made = " ".join(f"/config/{d}" for d in folders(list(modes)))
    return "; ".join(
        [
            "set -e",
            TOOL,
            f"b rm -rf /config/{STAGING}",
            f"b mkdir -p /config/{STAGING} {made}",
            f"cd /config/{STAGING}",
            f"b tar -x -f {INPUT}",
            f"if [ -f {MOUNT}/config.yml ]; then b cp {MOUNT}/config.yml config.yml; else b touch config.yml; fi",
            f"b chown -R {OWNER} /config",
            "b chmod 0444 config.yml",
            *(f"b chmod {modes[path]} {path}" for path in sorted(modes)),
            f'for f in config.yml {" ".join(sorted(modes))}; do b mv -f "$f" "/config/$f"; done',
            "cd /",
            f"b rm -rf /config/{STAGING}",
        ]
    )


def own_data_script(root: str) -> str:
    """The data volume to the registry's user (recursively, only when its root is not theirs yet)."""
    return "; ".join(
        [
            "set -e",
            TOOL,
            f"b mkdir -p {root}/docker",
            f'if [ "$(b stat -c %u:%g {root})" != "{OWNER}" ]; then b chown -R {OWNER} {root}; fi',
            f"b chown {OWNER} {root}/docker",
        ]
    )


def files_digest(files: Mapping[str, Mapping[str, str]]) -> str:
    """A hash of every path, mode and content: what `diff` compares (the state keeps no copy of a hash input)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{files[path]['mode']}\0{files[path]['content']}\0".encode())
    return digest.hexdigest()


def one_shot(
    docker: Connection,
    image: str,
    mounts: Sequence[tuple[str, str]],
    script: str,
    files: bytes | None = None,
    timeout: float = 600,
) -> None:
    """Run `script` as root in a throwaway container of `image` (no network, only the capabilities
    to change owners and modes, no logs kept) with the named volumes `mounts` (volume, path);
    `files`, a tar archive, is the script's input at `INPUT`.
    """
    step = OneShot(script, mounts, STEP_CAPABILITIES, user="0:0", files=files, timeout=timeout)
    try:
        with engine(docker, timeout=timeout) as api:
            code, output = api.run_once(image, step)
    except DockerEngineError as err:
        raise ConfigVolumeError(f"could not run a one-shot container of {image}: {err}") from None
    if code != 0:
        raise ConfigVolumeError(f"the one-shot container of {image} on Docker host {docker.where} failed (exit {code}): {output}")


def remove_volume(docker: Connection, volume: str) -> None:
    """The volume goes; a volume that is gone already is fine."""
    try:
        with engine(docker) as api:
            api.remove_volume(volume)
    except DockerEngineError as err:
        raise ConfigVolumeError(f"could not remove volume {volume}: {err}") from None


class ConfigFilesProvider(ResourceProvider):
    """Dynamic provider of `ConfigFiles`; see the module docstring."""

    docker: Connection = Connection()

    def configure(self, req: Any) -> None:
        """The Docker host of the stack's docker provider (the engine hands dynamic providers every key)."""
        self.docker = provider_connection(req.config)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"config-files-{secrets.token_hex(8)}", outs=self._write(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only what is written and where (not the serialized provider, which changes with the code).
        replaces = ["volume"] if olds.get("volume") != news.get("volume") else []
        if is_unknown(news.get("files")) or is_unknown(news.get("image")):
            # Known only once the run makes them (a new password, certificate or image): a change.
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        changed = bool(replaces) or olds.get("digest") != files_digest(news["files"]) or olds.get("image") != news["image"]
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._write(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """The volume goes with the files (after the container that mounted it: it depends on them)."""
        remove_volume(self.docker, props["volume"])

    def _write(self, props: Mapping[str, Any]) -> dict[str, Any]:
        files = props["files"]
        script = write_script({path: f["mode"] for path, f in files.items()})
        one_shot(self.docker, props["image"], [(props["volume"], "/config")], script, tar_archive(files, time.time()))
        return {**props, "digest": files_digest(files)}


class ConfigFiles(Resource, module="private-registry", name="ConfigFiles"):
    """The registry's files in its config volume; `digest` changes with any of them."""

    digest: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        volume: pulumi.Input[str],
        image: pulumi.Input[str],
        files: Mapping[str, tuple[pulumi.Input[str], str]],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """`files`: path inside the volume -> (content, mode such as "0400")."""
        contents: pulumi.Output[dict[str, str]] = pulumi.Output.all(**{path: content for path, (content, _mode) in files.items()})

        def with_modes(c: dict[str, str]) -> dict[str, dict[str, str]]:
            return {p: {"content": c[p], "mode": files[p][1]} for p in files}

        written: pulumi.Output[dict[str, dict[str, str]]] = pulumi.Output.secret(contents.apply(with_modes))
        # No Docker host here: the provider reads the stack's docker settings itself (`configure`),
        # so no key or certificate of the Docker host goes into the state.
        props = {"volume": volume, "image": image, "files": written, "digest": None}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["files"])
        super().__init__(ConfigFilesProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


def own_data_hook(image_of: Callable[[Mapping[str, Any]], str], docker: Connection) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The container's `before_create` hook: its data volume to the registry's user (module docstring)."""

    def own_data_volume(args: pulumi.ResourceHookArgs) -> None:
        inputs = args.new_inputs or {}
        volume = data_volume(inputs, STORAGE_ROOT)
        if volume:
            one_shot(docker, image_of(inputs), [(volume, STORAGE_ROOT)], own_data_script(STORAGE_ROOT))

    return own_data_volume
