"""Unit tests: the Docker host the program's own steps reach (the provider's settings), and the Engine adapter."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from components.docker_engine import (
    DEFAULT_HOST,
    INPUT,
    OUTPUT,
    Connection,
    DockerEngineError,
    DockerSettingError,
    Engine,
    OneShot,
    _tls,
    connection,
)

CA, CERT, KEY = "-----BEGIN CERTIFICATE-----\nca\n", "-----BEGIN CERTIFICATE-----\ncert\n", "-----BEGIN PRIVATE KEY-----\nk\n"


def test_nothing_set_is_the_local_socket() -> None:
    assert connection({}, {}) == Connection(host=DEFAULT_HOST)
    assert connection({"host": ""}, {"DOCKER_HOST": ""}) == Connection(host=DEFAULT_HOST)  # empty is unset


def test_a_unix_socket_from_the_stack_wins_over_docker_host() -> None:
    assert connection({"host": "unix:///run/user/1000/docker.sock"}, {"DOCKER_HOST": "tcp://x:2375"}).host == (
        "unix:///run/user/1000/docker.sock"
    )
    assert connection({}, {"DOCKER_HOST": "unix:///srv/d.sock"}) == Connection(host="unix:///srv/d.sock")


def test_tcp_without_tls_settings_is_plain() -> None:
    found = connection({"host": "tcp://10.0.0.5:2375"}, {})
    assert found == Connection(host="tcp://10.0.0.5:2375") and not found.tls


def test_tcp_with_tls_material_from_the_stack() -> None:
    found = connection({"host": "tcp://10.0.0.5:2376", "caMaterial": CA, "certMaterial": CERT, "keyMaterial": KEY}, {})
    assert (found.ca_pem, found.cert_pem, found.key_pem, found.cert_path) == (CA, CERT, KEY, None) and found.tls
    assert KEY not in repr(found) and CERT not in repr(found)  # a Connection in a message shows no key
    from_env = connection({}, {"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_MATERIAL": CERT, "DOCKER_KEY_MATERIAL": KEY})
    assert from_env.cert_pem == CERT and from_env.key_pem == KEY and from_env.ca_pem is None


def test_tcp_with_a_cert_path_from_the_stack_or_the_environment() -> None:
    assert connection({"host": "tcp://h:2376", "certPath": "/etc/docker-tls"}, {}) == Connection(
        "tcp://h:2376", cert_path="/etc/docker-tls"
    )
    env = {"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/certs"}
    assert connection({}, env).cert_path == "/certs"
    verify_only = connection({}, {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "HOME": "/home/u"})
    assert verify_only.cert_path == "/home/u/.docker"  # the Docker CLI's default folder


def test_ssh_runs_the_system_ssh_and_refuses_ssh_opts_it_cannot_pass() -> None:
    assert connection({"host": "ssh://deploy@build-1"}, {"DOCKER_CERT_PATH": "/certs"}) == Connection("ssh://deploy@build-1")
    with pytest.raises(DockerSettingError, match=r"docker:sshOpts .*~/.ssh/config"):
        connection({"host": "ssh://deploy@build-1", "sshOpts": '["-o", "StrictHostKeyChecking=no"]'}, {})
    assert connection({"host": "ssh://h", "sshOpts": "[]"}, {}).host == "ssh://h"


def test_a_context_overrides_the_host() -> None:
    assert connection({"host": "tcp://h:1", "context": "build"}, {}) == Connection("tcp://h:1", context="build")
    assert connection({}, {"DOCKER_CONTEXT": "default"}) == Connection()
    assert Connection(context="build").where == "context 'build'"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"host": "tcp://h:2376", "certMaterial": CERT}, "docker:certMaterial and docker:keyMaterial go together"),
        ({"host": "tcp://h:2376", "keyMaterial": KEY}, "docker:certMaterial and docker:keyMaterial go together"),
        ({"host": "tcp://h:2376", "certMaterial": CERT, "keyMaterial": KEY, "certPath": "/c"}, "docker:certPath .* both set"),
    ],
)
def test_tls_settings_that_contradict_each_other_are_named(settings: dict[str, str], message: str) -> None:
    with pytest.raises(DockerSettingError, match=message) as refused:
        connection(settings, {})
    assert KEY not in str(refused.value) and CERT not in str(refused.value)


def test_tls_material_goes_to_private_files_and_a_missing_cert_path_file_is_named(tmp_path: Path) -> None:
    tls = _tls(Connection("tcp://h:2376", ca_pem=CA, cert_pem=CERT, key_pem=KEY), str(tmp_path))
    assert tls.cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")) and tls.verify == str(tmp_path / "ca.pem")
    assert (tmp_path / "key.pem").read_text() == KEY and (tmp_path / "key.pem").stat().st_mode & 0o077 == 0
    no_ca = _tls(Connection("tcp://h:2376", cert_pem=CERT, key_pem=KEY), str(tmp_path))
    assert no_ca.verify is True  # the system's CAs, never unchecked
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ca.pem").write_text(CA)
    with pytest.raises(DockerSettingError, match=r"docker:certPath .*/c: no cert.pem, key.pem there"):
        _tls(Connection("tcp://h:2376", cert_path=str(tmp_path / "c")), str(tmp_path))


class FakeApi:
    """The docker SDK's APIClient calls the Engine makes, recorded."""

    def __init__(self, missing_image: bool = False, exit_code: int = 0, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.missing_image, self.exit_code, self.fail = missing_image, exit_code, fail

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(self, image: str, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("create", (image, kwargs)))
        if self.missing_image:
            self.missing_image = False
            raise docker.errors.ImageNotFound("No such image: registry:3")
        return {"Id": "f00d" * 16}

    def pull(self, image: str) -> None:
        self.calls.append(("pull", image))

    def put_archive(self, container: str, path: str, data: bytes) -> None:
        self.calls.append(("put_archive", (path, data)))

    def get_archive(self, container: str, path: str) -> tuple[list[bytes], dict[str, Any]]:
        self.calls.append(("get_archive", path))
        data = b"chown: /config: Operation not permitted\n"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            info = tarfile.TarInfo(path.rsplit("/", 1)[1])
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        return [buffer.getvalue()[:100], buffer.getvalue()[100:]], {}

    def start(self, container: str) -> None:
        self.calls.append(("start", container))
        if self.fail:
            raise self.fail

    def wait(self, container: str, timeout: float) -> dict[str, int]:
        self.calls.append(("wait", timeout))
        return {"StatusCode": self.exit_code}

    def remove_container(self, container: str, force: bool = False) -> None:
        self.calls.append(("remove", (container, force)))

    def inspect_container(self, name: str) -> dict[str, Any]:
        raise docker.errors.NotFound("No such container: " + name)

    def remove_volume(self, name: str) -> None:
        raise docker.errors.NotFound("No such volume: " + name)


def test_a_one_shot_step_runs_hardened_with_its_input_and_is_always_removed() -> None:
    api = FakeApi(exit_code=3)
    step = OneShot("set -e; b tar -x -f " + INPUT, [("registry-dev-config", "/config")], ["CHOWN"], files=b"TAR", timeout=42)
    code, output = Engine(api, "tcp://h:2376").run_once("registry:3", step)
    assert (code, output) == (3, "chown: /config: Operation not permitted")
    [(_, (image, created))] = [c for c in api.calls if c[0] == "create"]
    host = created["host_config"]
    assert image == "registry:3" and created["user"] == "0:0" and created["entrypoint"] == ["/bin/sh"]
    assert created["command"] == ["-c", f"exec >{OUTPUT} 2>&1; {step.script}"]
    assert host["network_mode"] == "none" and host["cap_drop"] == ["ALL"] and host["cap_add"] == ["CHOWN"]
    assert host["security_opt"] == ["no-new-privileges:true"] and host["log_config"]["Type"] == "none"
    assert host["binds"] == ["registry-dev-config:/config"]
    [(_, (path, data))] = [c for c in api.calls if c[0] == "put_archive"]
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        [member] = archive.getmembers()
        assert path == "/" and "/" + member.name == INPUT and member.mode == 0o400
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read() == b"TAR"
    order = [c[0] for c in api.calls]
    assert order == ["create", "put_archive", "start", "wait", "get_archive", "remove"]  # input before start
    assert ("wait", 42) in api.calls and api.calls[-1] == ("remove", ("f00d" * 16, True))


def test_a_missing_image_is_pulled_as_docker_run_would_and_a_failure_still_removes_the_container() -> None:
    api = FakeApi(missing_image=True, fail=requests.exceptions.ConnectionError("Connection aborted"))
    with pytest.raises(
        DockerEngineError, match=r"^Docker host tcp://h:2376: running a one-shot container of registry:3 failed: "
    ):
        Engine(api, "tcp://h:2376").run_once("registry:3", OneShot("true", [], []))
    assert [c[0] for c in api.calls] == ["create", "pull", "create", "start", "remove"]


def test_gone_means_none_or_nothing_to_do_and_other_errors_name_the_host_and_step() -> None:
    engine = Engine(FakeApi(), "unix:///x.sock")
    assert engine.inspect_container("registry-dev") is None
    engine.remove_volume("registry-dev-config")  # gone already: fine

    class Refusing(FakeApi):
        def remove_volume(self, name: str) -> None:
            response = requests.Response()
            response.status_code = 409
            raise docker.errors.APIError("409 Client Error", response, explanation="volume is in use - [abc]")

    with pytest.raises(DockerEngineError, match=r"^Docker host unix:///x.sock: removing volume 'v' failed: volume is in use"):
        Engine(Refusing(), "unix:///x.sock").remove_volume("v")
