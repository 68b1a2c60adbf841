"""Unit tests: what the one-shot step writes into a registry's config volume, and when it runs again."""

from __future__ import annotations

import io
import subprocess
import tarfile
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.config_volume import (
    ConfigFilesProvider,
    ConfigVolumeError,
    files_digest,
    own_data_script,
    remove_volume,
    tar_archive,
    write_script,
)

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
    assert "b tar -x -f -" in script  # the files come on stdin
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


def test_deleting_the_files_removes_their_volume_and_a_volume_gone_already_is_fine(monkeypatch: Any) -> None:
    calls: list[list[str]] = []

    def fake(stderr: str, code: int) -> Any:
        def run(command: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
            calls.append(command)
            return subprocess.CompletedProcess(command, code, "", stderr)

        return run

    monkeypatch.setattr(subprocess, "run", fake("", 0))
    ConfigFilesProvider().delete("id", {"volume": "registry-dev-config", "dockerHost": "ssh://host"})
    assert calls == [["docker", "-H", "ssh://host", "volume", "rm", "registry-dev-config"]]
    monkeypatch.setattr(subprocess, "run", fake("Error: No such volume: registry-dev-config", 1))
    remove_volume(None, "registry-dev-config")
    monkeypatch.setattr(subprocess, "run", fake("Error response from daemon: volume is in use", 1))
    with pytest.raises(ConfigVolumeError, match="volume is in use"):
        remove_volume(None, "registry-dev-config")
