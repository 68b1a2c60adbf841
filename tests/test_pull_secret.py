"""Unit tests: dockerconfigjson round-trips to the right `auth`, and the containerd node trust file."""

from __future__ import annotations

import base64
import json
import os
import stat
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from components.kube_provider import prepare_render_directory
from components.node_trust import containerd_hosts_toml
from components.pull_secret import docker_config_json


def test_docker_config_json_has_user_password_and_auth() -> None:
    document = json.loads(docker_config_json("registry.example:5000", "admin", "pw"))
    entry = document["auths"]["registry.example:5000"]
    assert entry == {"username": "admin", "password": "pw", "auth": base64.b64encode(b"admin:pw").decode()}
    assert list(document) == ["auths"]


@given(
    st.from_regex(r"[a-z0-9.-]{1,20}:[0-9]{1,5}", fullmatch=True),
    st.text(min_size=1).filter(lambda n: ":" not in n),
    st.text(min_size=1),
)
def test_docker_config_json_round_trips(endpoint: str, user: str, password: str) -> None:
    entry = json.loads(docker_config_json(endpoint, user, password))["auths"][endpoint]
    decoded_user, _, decoded_password = base64.b64decode(entry["auth"]).decode().partition(":")
    assert (decoded_user, decoded_password) == (user, password)
    assert (entry["username"], entry["password"]) == (user, password)


def test_containerd_hosts_toml_points_at_the_endpoint_and_the_ca() -> None:
    parsed = tomllib.loads(containerd_hosts_toml("registry.example:5000"))
    assert parsed["server"] == "https://registry.example:5000"
    host = parsed["host"]["https://registry.example:5000"]
    assert host["capabilities"] == ["pull", "resolve"]
    assert host["ca"] == "ca.crt"  # beside hosts.toml: containerd resolves it against the file's folder


def test_render_directory_is_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "rendered" / "dev"
    prepare_render_directory(str(target))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    os.chmod(target, 0o755)
    prepare_render_directory(str(target))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
