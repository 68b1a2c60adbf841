"""The Docker Engine API for the program's own Docker steps, reached as the stack's docker provider reaches it.

Why: target `docker` has three steps of its own besides the provider's resources (the one-shot
container that writes the config volume, the leftover-container hook, the copy of a Docker host's
image into the registry). They used to run the `docker` CLI, a prerequisite nobody declared, and the
CLI saw only `-H docker:host`: a stack whose provider reaches its host over TCP with TLS material, or
with a Docker context, had steps that talked to another daemon or to none. Now they use the Docker
Engine API through the `docker` SDK (PyPI), with the provider's own settings, read the provider's way
(pulumi-docker 5.x over the kreuzwerker provider):

- `docker:context` (or DOCKER_CONTEXT) names a Docker context, which overrides the host;
- else `docker:host`, else DOCKER_HOST, else `unix:///var/run/docker.sock`;
- a `tcp://` host uses TLS with a client certificate from `docker:certMaterial` + `docker:keyMaterial`
  (PEM; DOCKER_CERT_MATERIAL/DOCKER_KEY_MATERIAL), the server checked against `docker:caMaterial`
  (DOCKER_CA_MATERIAL), or from the folder `docker:certPath` (DOCKER_CERT_PATH; `ca.pem`, `cert.pem`,
  `key.pem`); the provider refuses both at once, so does this. DOCKER_TLS_VERIFY alone means the
  Docker CLI's `~/.docker`. One difference, on purpose: without a CA the provider skips checking the
  server's certificate; these steps check it against the system's CAs.
- an `ssh://` host runs the system `ssh` (`use_ssh_client`: the user's ~/.ssh/config, agent and known
  hosts, as the provider's own `ssh` does); `docker:sshOpts` cannot be handed to the SDK's ssh and is
  refused with a message saying to put the options into ~/.ssh/config.

`connection` (settings + environment -> `Connection`) is a plain function; `Engine` adapts the SDK
and turns every failure into `DockerEngineError`, which names the Docker host and the step that
failed, never a traceback or a key. The SDK is imported only when a step runs: previews of stacks
that never reach these steps do not pay for it.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The docker provider's settings these steps follow (`docker:<key>`).
KEYS = ("host", "context", "caMaterial", "certMaterial", "keyMaterial", "certPath", "sshOpts")
DEFAULT_HOST = "unix:///var/run/docker.sock"
OUTPUT_LIMIT = 800  # characters of a failed step's output kept in its error


class DockerEngineError(RuntimeError):
    """A Docker Engine API call failed; the message names the host and the step."""


class DockerSettingError(DockerEngineError):
    """The docker provider's connection settings cannot be used as they are."""


class DockerNotFound(DockerEngineError):
    """The Docker host has no such container, image or volume."""


@dataclass(frozen=True)
class Connection:
    """How to reach the Docker host: `host` (or a Docker `context`) and TLS material or folder."""

    host: str = DEFAULT_HOST
    context: str | None = None
    ca_pem: str | None = field(default=None, repr=False)
    cert_pem: str | None = field(default=None, repr=False)
    key_pem: str | None = field(default=None, repr=False)
    cert_path: str | None = None

    @property
    def where(self) -> str:
        """The Docker host as error messages name it."""
        return f"context {self.context!r}" if self.context else self.host

    @property
    def tls(self) -> bool:
        return bool(self.cert_pem or self.cert_path)


def _set(value: Any) -> str | None:
    """A setting's value; an empty one is unset (as an empty variable is)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return text if text.strip() else None


def connection(settings: Mapping[str, Any], env: Mapping[str, str]) -> Connection:
    """The connection the docker provider makes from its settings (`docker:<key>`, short keys) and `env`."""

    def pick(key: str, variable: str) -> str | None:
        return _set(settings.get(key)) or _set(env.get(variable))

    ssh_opts = pick("sshOpts", "DOCKER_SSH_OPTS")
    if ssh_opts and ssh_opts.strip() not in ("[]", '""'):
        raise DockerSettingError(
            "docker:sshOpts (or DOCKER_SSH_OPTS) is set: the program's own Docker steps run the system `ssh`, "
            "which takes no options from there; put them into ~/.ssh/config for the host and unset docker:sshOpts"
        )
    context = pick("context", "DOCKER_CONTEXT")
    if context == "default":
        context = None
    host = pick("host", "DOCKER_HOST") or DEFAULT_HOST
    cert, key = pick("certMaterial", "DOCKER_CERT_MATERIAL"), pick("keyMaterial", "DOCKER_KEY_MATERIAL")
    cert_path = pick("certPath", "DOCKER_CERT_PATH")
    if not cert_path and _set(env.get("DOCKER_TLS_VERIFY")) and not (cert or key):
        cert_path = str(Path(env.get("HOME") or "~").expanduser() / ".docker")
    if context:
        return Connection(host=host, context=context)
    if bool(cert) != bool(key):
        raise DockerSettingError(
            "docker:certMaterial and docker:keyMaterial go together (the client certificate and its key, PEM): "
            "set both or neither"
        )
    if cert and cert_path:
        raise DockerSettingError(
            "docker:certPath (or DOCKER_CERT_PATH) and docker:certMaterial/keyMaterial are both set: "
            "the docker provider refuses that; keep one of them"
        )
    if not host.startswith("tcp://"):
        return Connection(host=host)  # TLS settings apply to tcp:// hosts only
    if cert:
        return Connection(host=host, ca_pem=pick("caMaterial", "DOCKER_CA_MATERIAL"), cert_pem=cert, key_pem=key)
    return Connection(host=host, cert_path=cert_path)


def stack_connection() -> Connection:
    """The stack's docker provider settings, in the program's own process."""
    import pulumi

    config = pulumi.Config("docker")
    return connection({key: config.get(key) for key in KEYS}, os.environ)


def provider_connection(config: Any) -> Connection:
    """The same, in a dynamic provider's process (`configure`'s config: every key of the stack)."""
    return connection({key: config.get(f"docker:{key}") for key in KEYS}, os.environ)


def _reason(err: BaseException) -> str:
    """What the SDK says went wrong, in one line."""
    explanation = getattr(err, "explanation", None)
    text = explanation if isinstance(explanation, str) and explanation else str(err) or type(err).__name__
    return " ".join(text.split())[:OUTPUT_LIMIT]


class Engine:
    """The few Docker Engine API calls the program makes; each failure a `DockerEngineError`."""

    def __init__(self, api: Any, where: str) -> None:
        self.api = api
        self.where = where

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Turn any failure of the SDK, the transport or the daemon into one message naming `what`."""
        import docker.errors
        import requests.exceptions

        try:
            yield
        except docker.errors.NotFound as err:
            raise DockerNotFound(f"Docker host {self.where}: {what}: {_reason(err)}") from None
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as err:
            raise DockerEngineError(f"Docker host {self.where}: {what} failed: {_reason(err)}") from None

    def inspect_container(self, name: str) -> dict[str, Any] | None:
        """The container `name` (or an ID starting so), None when there is none."""
        try:
            with self.step(f"inspecting container {name!r}"):
                return dict(self.api.inspect_container(name))
        except DockerNotFound:
            return None

    def remove_container(self, container_id: str) -> None:
        """Without force: a container that started meanwhile is not removed."""
        with self.step(f"removing container {container_id[:12]}"):
            self.api.remove_container(container_id)

    def remove_volume(self, volume: str) -> None:
        """A volume that is gone already is fine."""
        try:
            with self.step(f"removing volume {volume!r}"):
                self.api.remove_volume(volume)
        except DockerNotFound:
            pass

    def image_id(self, image: str) -> str:
        with self.step(f"reading image {image}"):
            return str(self.api.inspect_image(image)["Id"])

    def save_image(self, image: str, path: Path) -> None:
        """What `docker save` writes, into `path`."""
        with self.step(f"saving image {image}"), path.open("wb") as out:
            for chunk in self.api.get_image(image, chunk_size=1 << 20):
                out.write(chunk)

    def run_once(self, image: str, spec: OneShot) -> tuple[int, str]:
        """Run `spec` in a throwaway container of `image`; its exit code and (the end of) its output."""
        import docker.types

        host_config = self.api.create_host_config(
            binds=[f"{volume}:{path}" for volume, path in spec.mounts],
            network_mode="none",
            cap_drop=["ALL"],
            cap_add=list(spec.capabilities),
            security_opt=["no-new-privileges:true"],
            log_config=docker.types.LogConfig(type="none"),
        )
        # The output goes to a file in the container's own layer, read after it stops: no attached
        # stream (dockerd keeps no logs with log driver `none`, and an attach over TLS would hang in the SDK).
        command = ["-c", f"exec >{OUTPUT} 2>&1; {spec.script}"]
        create = {"command": command, "entrypoint": ["/bin/sh"], "user": spec.user, "host_config": host_config}
        try:
            with self.step(f"creating a one-shot container of {image}"):
                created = self.api.create_container(image, **create)
        except DockerNotFound:
            with self.step(f"pulling {image} for a one-shot container"):  # as `docker run` pulls a missing image
                self.api.pull(image)
            with self.step(f"creating a one-shot container of {image}"):
                created = self.api.create_container(image, **create)
        container = created["Id"]
        try:
            if spec.files is not None:
                with self.step(f"copying the input into the one-shot container of {image}"):
                    self.api.put_archive(container, "/", input_archive(spec.files))
            with self.step(f"running a one-shot container of {image}"):
                self.api.start(container)
                code = int(self.api.wait(container, timeout=spec.timeout)["StatusCode"])
            output = ""
            if code != 0:
                with self.step(f"reading the output of the one-shot container of {image}"):
                    stream, _stat = self.api.get_archive(container, OUTPUT)
                    output = archived_text(b"".join(stream))
            return code, output
        finally:
            # Always gone (its input holds keys), as `docker run --rm` leaves nothing either.
            with self.step(f"removing the one-shot container {container[:12]}"):
                self.api.remove_container(container, force=True)


INPUT = "/.private-registry-input.tar"  # where a one-shot step finds its files (in its own container's layer)
OUTPUT = "/.private-registry-output"  # where its output goes


def archived_text(data: bytes) -> str:
    """The end of the one file in a tar stream (what `get_archive` returns), as text."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = next((m for m in archive.getmembers() if m.isfile()), None)
        found = archive.extractfile(member) if member is not None else None
        text = found.read().decode(errors="replace") if found is not None else ""
    return text.strip()[-OUTPUT_LIMIT:]


def input_archive(files: bytes) -> bytes:
    """The files' tar stream as one root-only file `INPUT`: `put_archive` takes a tar to unpack at `/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(INPUT.lstrip("/"))
        info.size, info.mode = len(files), 0o400
        archive.addfile(info, io.BytesIO(files))
    return buffer.getvalue()


@dataclass(frozen=True)
class OneShot:
    """A one-shot step: its script, volumes (volume, path), capabilities, user, input tar and time limit."""

    script: str
    mounts: Sequence[tuple[str, str]]
    capabilities: Sequence[str]
    user: str = "0:0"
    files: bytes | None = field(default=None, repr=False)
    timeout: float = 600


def _tls(conn: Connection, folder: str) -> Any:
    """The SDK's TLS settings: material written to files only this process's user can read."""
    import docker.tls

    if conn.cert_pem and conn.key_pem:
        paths = {}
        for name, pem in (("ca.pem", conn.ca_pem), ("cert.pem", conn.cert_pem), ("key.pem", conn.key_pem)):
            if pem:
                path = Path(folder) / name
                path.touch(mode=0o600)
                path.write_text(pem)
                paths[name] = str(path)
        return docker.tls.TLSConfig(
            client_cert=(paths["cert.pem"], paths["key.pem"]), ca_cert=paths.get("ca.pem"), verify=paths.get("ca.pem", True)
        )
    if conn.cert_path:
        base = Path(conn.cert_path).expanduser()
        ca, cert, key = (str(base / n) for n in ("ca.pem", "cert.pem", "key.pem"))
        missing = [p for p in (ca, cert, key) if not Path(p).is_file()]
        if missing:
            raise DockerSettingError(f"docker:certPath {conn.cert_path}: no {', '.join(Path(p).name for p in missing)} there")
        return docker.tls.TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=ca)
    return False


@functools.cache
def _client_class() -> Any:
    """The SDK's client, deaf to the environment's requests settings: requests lets REQUESTS_CA_BUNDLE
    or CURL_CA_BUNDLE replace a session's CA, so the Docker host's own CA (docker:caMaterial) would be
    ignored wherever those are set (CI images often set them). The first request (the API version)
    is made inside the constructor, hence a class and not an attribute set afterwards.
    """
    import docker

    class Client(docker.APIClient):  # type: ignore[misc]
        @property
        def trust_env(self) -> bool:
            return False

        @trust_env.setter
        def trust_env(self, _value: bool) -> None:
            pass

    return Client


@contextmanager
def engine(conn: Connection, timeout: float = 60) -> Iterator[Engine]:
    """An `Engine` on the Docker host of `conn`; each socket read waits at most `timeout` seconds."""
    import docker.context

    with tempfile.TemporaryDirectory(prefix="private-registry-docker-") as folder:
        probe = Engine(None, conn.where)
        with probe.step("connecting"):
            if conn.context:
                found = docker.context.ContextAPI.get_context(conn.context)
                if found is None:
                    raise DockerSettingError(f"docker:context {conn.context!r}: no such Docker context")
                host, tls = found.Host, found.TLSConfig or False
            else:
                host, tls = conn.host, _tls(conn, folder)
            api = _client_class()(
                base_url=host, tls=tls, timeout=timeout, version="auto", use_ssh_client=host.startswith("ssh://")
            )
        try:
            yield Engine(api, conn.where)
        finally:
            api.close()
