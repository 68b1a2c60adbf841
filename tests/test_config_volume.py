"""Unit tests: what the one-shot step writes into a registry's config volume, and when it runs again."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pulumi.runtime import rpc

from components import config_volume
from components.config_volume import (
    ConfigFilesProvider,
    ConfigVolumeError,
    files_digest,
    one_shot,
    own_data_script,
    remove_volume,
    tar_archive,
    write_script,
)
from components.docker_engine import INPUT, Connection, DockerEngineError, OneShot

FILES = {
    "certs/tls.crt": {"content": "CERT", "mode": "0444"},
    "certs/tls.key": {"content": "KEY", "mode": "0400"},
    "auth/htpasswd": {"content": "u:$2b$04$x\n", "mode": "0400"},
}


def test_the_archive_holds_each_file_owned_by_the_registrys_user_with_its_mode_and_a_fresh_mtime() -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_archive(FILES, 1_800_000_000.5))) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert sorted(members) == sorted(FILES)
        for path, file in FILES.items():
            member = members[path]
            assert (member.uid, member.gid, oct(member.mode)) == (1000, 1000, "0o" + file["mode"].lstrip("0"))
            assert member.mtime == 1_800_000_000.5  # Distribution reloads htpasswd when the mtime changes
            extracted = archive.extractfile(member)
            assert extracted is not None and extracted.read().decode() == file["content"]


def test_the_script_stages_in_the_volume_then_renames_into_place_and_shows_no_content() -> None:
    script = write_script({p: f["mode"] for p, f in FILES.items()})
    assert f"b tar -x -f {INPUT}" in script  # the files come as the one-shot container's own input file
    assert script.index("b tar -x") < script.index("b chmod 0400 certs/tls.key") < script.index("b mv -f")
    assert 'for f in config.yml auth/htpasswd certs/tls.crt certs/tls.key; do b mv -f "$f" "/config/$f"; done' in script
    assert "b mkdir -p /config/.next /config/auth /config/certs" in script
    assert "b chown -R 1000:1000 /config" in script
    assert "cp /etc/distribution/config.yml config.yml" in script  # the image's own defaults
    for file in FILES.values():
        assert file["content"] not in script


def test_the_data_volume_changes_owner_only_when_its_root_is_not_the_users_yet() -> None:
    script = own_data_script("/var/lib/registry")
    assert (
        'if [ "$(b stat -c %u:%g /var/lib/registry)" != "1000:1000" ]; then b chown -R 1000:1000 /var/lib/registry; fi' in script
    )
    assert "b mkdir -p /var/lib/registry/docker" in script  # never empty again: dockerd copies nothing over it


def test_diff_compares_a_digest_of_the_files_and_replaces_only_for_another_volume() -> None:
    provider = ConfigFilesProvider()
    olds = {"volume": "v", "image": "i", "files": FILES, "digest": files_digest(FILES)}
    assert not provider.diff("id", olds, {"volume": "v", "image": "i", "files": FILES}).changes
    changed = {**FILES, "auth/htpasswd": {"content": "u:$2b$04$y\n", "mode": "0400"}}
    assert provider.diff("id", olds, {"volume": "v", "image": "i", "files": changed}).changes
    assert provider.diff("id", olds, {"volume": "v", "image": "j", "files": FILES}).changes
    moved = provider.diff("id", olds, {"volume": "w", "image": "i", "files": FILES})
    assert moved.changes and moved.replaces == ["volume"]
    unknown = provider.diff("id", olds, {"volume": "v", "image": "i", "files": rpc.UNKNOWN})
    assert unknown.changes and not unknown.replaces


class FakeEngine:
    """The Engine calls config_volume makes, recorded; `fail` is raised by each."""

    def __init__(self, fail: Exception | None = None, result: tuple[int, str] = (0, "")) -> None:
        self.fail, self.result = fail, result
        self.calls: list[tuple[str, Any]] = []
        self.opened: list[tuple[Connection, float]] = []

    def remove_volume(self, volume: str) -> None:
        self.calls.append(("remove_volume", volume))
        if self.fail:
            raise self.fail

    def run_once(self, image: str, step: OneShot) -> tuple[int, str]:
        self.calls.append(("run_once", (image, step)))
        if self.fail:
            raise self.fail
        return self.result

    def install(self, monkeypatch: Any) -> None:
        @contextmanager
        def opened(conn: Connection, timeout: float = 60) -> Iterator[FakeEngine]:
            self.opened.append((conn, timeout))
            yield self

        monkeypatch.setattr(config_volume, "engine", opened)


TLS_HOST = Connection(host="tcp://10.0.0.5:2376", cert_path="/certs")


def test_the_provider_writes_on_the_docker_host_of_the_stacks_docker_settings(monkeypatch: Any) -> None:
    fake = FakeEngine()
    fake.install(monkeypatch)
    provider = ConfigFilesProvider()

    class Request:
        def __init__(self) -> None:
            self.config = {"docker:host": "tcp://10.0.0.5:2376", "docker:certPath": "/certs", "private-registry:x": "y"}

    provider.configure(Request())
    provider.create({"volume": "registry-dev-config", "image": "registry:3", "files": FILES})
    ((kind, (image, step)),) = fake.calls
    assert fake.opened == [(TLS_HOST, 600)] and (kind, image) == ("run_once", "registry:3")
    assert step.mounts == [("registry-dev-config", "/config")] and step.user == "0:0" and step.timeout == 600
    assert set(step.capabilities) == {"CHOWN", "FOWNER", "DAC_OVERRIDE"}
    with tarfile.open(fileobj=io.BytesIO(step.files)) as archive:
        assert sorted(archive.getnames()) == sorted(FILES)
    assert "KEY" not in step.script and "KEY" not in repr(step)


def test_a_failed_step_names_the_image_the_docker_host_and_its_output(monkeypatch: Any) -> None:
    FakeEngine(result=(1, "tar: short read")).install(monkeypatch)
    failed = r"registry:3 on Docker host tcp://10\.0\.0\.5:2376 failed \(exit 1\): tar: short read"
    with pytest.raises(ConfigVolumeError, match=failed):
        one_shot(TLS_HOST, "registry:3", [("v", "/config")], "true")
    FakeEngine(fail=DockerEngineError("Docker host tcp://10.0.0.5:2376: connecting failed: refused")).install(monkeypatch)
    unreachable = r"could not run a one-shot container of registry:3: Docker host tcp://10\.0\.0\.5:2376: connecting failed"
    with pytest.raises(ConfigVolumeError, match=unreachable):
        one_shot(TLS_HOST, "registry:3", [("v", "/config")], "true")


def test_deleting_the_files_removes_their_volume_and_a_failure_is_named(monkeypatch: Any) -> None:
    fake = FakeEngine()
    fake.install(monkeypatch)
    provider = ConfigFilesProvider()
    provider.docker = TLS_HOST
    provider.delete("id", {"volume": "registry-dev-config", "dockerHost": "ssh://host"})  # an old state's key is ignored
    assert fake.calls == [("remove_volume", "registry-dev-config")] and fake.opened == [(TLS_HOST, 60)]
    in_use = DockerEngineError("Docker host unix:///x.sock: removing volume 'v' failed: volume is in use")
    FakeEngine(fail=in_use).install(monkeypatch)
    with pytest.raises(ConfigVolumeError, match=r"could not remove volume registry-dev-config: .*volume is in use"):
        remove_volume(Connection(), "registry-dev-config")
