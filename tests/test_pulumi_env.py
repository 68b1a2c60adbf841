"""The backend decision of scripts/pulumi-env.sh (scripts/pulumi_backend.py): the user's backend
whichever way they named it, as the Pulumi CLI reads it; the checkout's file backend and the
generated passphrase only when they named none; empty variables are unset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.pulumi_backend import (
    CLOUD,
    PASSPHRASE_VARS,
    Decision,
    backend_url_of,
    block_backend_url,
    current_login,
    decide,
    project_backend_url,
)
from tests.test_scripts import checkout_copy, fields, shell

DEFAULT = "file:///checkout/.pulumi-state"
S3 = "s3://team-state?region=eu-west-1"
KMS_CI = {"PULUMI_CONFIG_PASSPHRASE": ""}  # a workflow whose passphrase secret is absent (a KMS team has none)


def named(source: str, backend: str, unset: tuple[str, ...] = ()) -> Decision:
    return Decision(source, backend, False, unset=unset)


@pytest.mark.parametrize(
    ("env", "project", "login", "want"),
    [
        ({"PULUMI_BACKEND_URL": S3}, "", "", named("PULUMI_BACKEND_URL", S3)),
        ({}, "s3://project-state", "", named("backend.url", "s3://project-state")),
        ({}, "", "https://api.pulumi.com", named("login", "https://api.pulumi.com")),
        ({}, "", "s3://logged-in", named("login", "s3://logged-in")),
        ({"PULUMI_ACCESS_TOKEN": "pul-123"}, "", "", named("PULUMI_ACCESS_TOKEN", CLOUD)),
        ({}, "", "", Decision("none", DEFAULT, True)),
    ],
    ids=["env-url", "project-file", "login-cloud", "login-s3", "access-token", "none"],
)
def test_each_way_a_user_names_a_backend_and_none(env: dict[str, str], project: str, login: str, want: Decision) -> None:
    assert decide(env, project, login, DEFAULT) == want


def test_the_clis_order_of_precedence() -> None:
    # PULUMI_BACKEND_URL over the project file over the login over the token, as the CLI reads them
    everything = {"PULUMI_BACKEND_URL": S3, "PULUMI_ACCESS_TOKEN": "pul-1"}
    assert decide(everything, "s3://project", "s3://login", DEFAULT).source == "PULUMI_BACKEND_URL"
    assert decide({"PULUMI_ACCESS_TOKEN": "pul-1"}, "s3://project", "s3://login", DEFAULT).source == "backend.url"
    assert decide({"PULUMI_ACCESS_TOKEN": "pul-1"}, "", "s3://login", DEFAULT).backend == "s3://login"


def test_the_projects_default_exported_by_an_earlier_sourcing_is_not_the_users() -> None:
    assert decide({"PULUMI_BACKEND_URL": DEFAULT}, "", "", DEFAULT) == Decision("none", DEFAULT, True)


@pytest.mark.parametrize("name", ["PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN"])
def test_an_empty_backend_variable_is_unset(name: str) -> None:
    # with nothing named, PULUMI_BACKEND_URL is then set to the default (so not in `unset`)
    dropped = () if name == "PULUMI_BACKEND_URL" else (name,)
    assert decide({name: ""}, "", "", DEFAULT) == Decision("none", DEFAULT, True, unset=dropped)
    assert decide({name: ""}, "", "s3://login", DEFAULT) == named("login", "s3://login", unset=(name,))


def test_an_empty_passphrase_on_the_users_backend_is_unset_not_refused() -> None:
    # a KMS stack never reads it; a passphrase stack then gets the CLI's "passphrase must be set"
    both_empty = {**KMS_CI, "PULUMI_CONFIG_PASSPHRASE_FILE": "", "PULUMI_BACKEND_URL": S3}
    assert decide(both_empty, "", "", DEFAULT) == named("PULUMI_BACKEND_URL", S3, PASSPHRASE_VARS)
    assert decide({**KMS_CI, "PULUMI_ACCESS_TOKEN": "pul-1"}, "", "", DEFAULT).unset == ("PULUMI_CONFIG_PASSPHRASE",)


def test_an_empty_passphrase_on_the_default_backend_is_refused_and_an_empty_file_variable_unset() -> None:
    refused = decide(KMS_CI, "", "", DEFAULT)
    assert refused.default and "PULUMI_CONFIG_PASSPHRASE is set but empty" in refused.error
    assert decide({"PULUMI_CONFIG_PASSPHRASE_FILE": ""}, "", "", DEFAULT) == Decision(
        "none", DEFAULT, True, unset=("PULUMI_CONFIG_PASSPHRASE_FILE",)
    )


def test_the_project_files_backend_url_with_and_without_a_yaml_library(tmp_path: Path) -> None:
    text = "name: p\nruntime: python\nbackend:\n  # the team's state\n  url: 's3://team?region=us-east-1' # shared\nconfig: {}\n"
    assert backend_url_of(text) == block_backend_url(text) == "s3://team?region=us-east-1"
    assert backend_url_of("name: p\nbackend: {url: file:///srv/state}\n") == "file:///srv/state"
    for no_backend in ("name: p\nconfig:\n  url: x\n", "name: p\nbackend:\n  other: y\n", "- a list\n", "a: [unclosed\n"):
        assert backend_url_of(no_backend) == "" and block_backend_url(no_backend) == ""
    assert project_backend_url(tmp_path) == ""
    (tmp_path / "Pulumi.yml").write_text(text)
    assert project_backend_url(tmp_path) == "s3://team?region=us-east-1"


def test_the_login_is_credentials_json_current(tmp_path: Path) -> None:
    assert current_login(tmp_path) == ""
    (tmp_path / "credentials.json").write_text(json.dumps({"current": "s3://x", "accessTokens": {}}))
    assert current_login(tmp_path) == "s3://x"
    for unreadable in ("{not json", "[]", '{"current": null}', '{"accessTokens": {"https://api.pulumi.com": "t"}}'):
        (tmp_path / "credentials.json").write_text(unreadable)
        assert current_login(tmp_path) == ""


# Through the shell, as the scripts source it.
SHOW = (
    'echo "source=$PRIVATE_REGISTRY_BACKEND_SOURCE default=$PRIVATE_REGISTRY_DEFAULT_BACKEND backend=${PULUMI_BACKEND_URL-unset} '
    'passphrase=${PULUMI_CONFIG_PASSPHRASE-unset} file=${PULUMI_CONFIG_PASSPHRASE_FILE-unset}"'
)


def source(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    repo = checkout_copy(tmp_path)
    return fields(shell(f'. "{repo}/scripts/pulumi-env.sh" && {SHOW}', env, tmp_path))


def test_a_ci_job_with_an_access_token_and_an_absent_passphrase_secret_keeps_pulumi_cloud(tmp_path: Path) -> None:
    got = source({"PULUMI_ACCESS_TOKEN": "pul-123", **KMS_CI, "PULUMI_CONFIG_PASSPHRASE_FILE": ""}, tmp_path)
    assert got == {"source": "PULUMI_ACCESS_TOKEN", "default": "0", "backend": "unset", "passphrase": "unset", "file": "unset"}
    assert not (tmp_path / "checkout" / ".pulumi-state").exists() and not (tmp_path / "checkout" / ".secrets").exists()


def test_a_project_dirs_backend_url_is_the_users(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: p\nruntime: python\nbackend:\n  url: s3://project-state\n")
    got = source({"PROJECT_DIR": str(project), **KMS_CI}, tmp_path)
    assert got["source"] == "backend.url" and got["default"] == "0"
    assert got["backend"] == "unset" and got["passphrase"] == "unset"


def test_a_login_in_pulumi_home_is_the_users(tmp_path: Path) -> None:
    home = tmp_path / "my-pulumi-home"
    home.mkdir()
    (home / "credentials.json").write_text('{"current": "s3://team-state"}')
    got = source({"PULUMI_HOME": str(home)}, tmp_path)
    assert got["source"] == "login" and got["default"] == "0" and got["file"] == "unset"


def test_with_nothing_named_the_checkouts_backend_and_generated_passphrase_even_with_empty_variables(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    got = source({"PULUMI_BACKEND_URL": "", "PULUMI_ACCESS_TOKEN": "", "PULUMI_CONFIG_PASSPHRASE_FILE": ""}, tmp_path)
    assert got == {
        "source": "none",
        "default": "1",
        "backend": f"file://{repo}/.pulumi-state",
        "passphrase": "unset",
        "file": f"{repo}/.secrets/passphrase",
    }


def test_an_empty_passphrase_on_the_default_backend_stops_the_sourcing(tmp_path: Path) -> None:
    repo = checkout_copy(tmp_path)
    result = shell(f'. "{repo}/scripts/pulumi-env.sh" && echo sourced', KMS_CI, tmp_path)
    assert result.returncode != 0 and "sourced" not in result.stdout
    assert "PULUMI_CONFIG_PASSPHRASE is set but empty" in result.stderr
