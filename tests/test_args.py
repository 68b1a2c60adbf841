"""The typed settings of the component package agree with the settings table and its checks."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from components import args
from components.model import DockerTarget, SettingsError
from components.private_registry import PrivateRegistryArgs, plain_settings
from components.setting_keys import FIELDS, KEYS, field_names
from components.settings import SUBJECT_FIELDS, USER_KEYS, load_settings
from components.settings_cluster import KUBERNETES_KEYS, NODE_TRUST_KEYS, PULL_SECRET_KEYS
from components.settings_target import STORAGE_KEYS

REPO = Path(__file__).resolve().parent.parent
KIND_OF = {str: "string", int: "integer", bool: "boolean", list: "list", dict: "object"}


def kind(hint: object) -> str:
    """The setting kind a type hint stands for (Sequence -> list, TypedDict -> object, Literal -> its values')."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return KIND_OF[type(typing.get_args(hint)[0])]
    if origin is not None and getattr(origin, "__name__", "") == "Sequence":
        return "list" if typing.get_args(hint)[0] is str else "object"  # users: a list of objects
    if typing.is_typeddict(hint) or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return "object"  # sourceRegistries: a map of objects
    return KIND_OF[hint]  # type: ignore[index]


def test_every_setting_has_a_typed_key_of_its_kind() -> None:
    hints = typing.get_type_hints(args.RegistrySettings)
    assert list(hints) == [k.name for k in KEYS]
    assert {name: kind(hint) for name, hint in hints.items()} == {k.name: k.kind for k in KEYS}


@pytest.mark.parametrize(
    ("typed", "allowed"),
    [
        (args.UserSetting, USER_KEYS),
        (args.SubjectSetting, tuple(SUBJECT_FIELDS)),
        (args.StorageSetting, tuple(dict.fromkeys(STORAGE_KEYS["filesystem"] + STORAGE_KEYS["s3"]))),
        (args.PullSecretSetting, PULL_SECRET_KEYS),
        (args.KubernetesSetting, KUBERNETES_KEYS),
        (args.NodeTrustSetting, NODE_TRUST_KEYS),
        (args.ServiceSetting, field_names("service")),
    ],
)
def test_object_settings_have_the_keys_the_checks_allow(typed: type, allowed: tuple[str, ...]) -> None:
    assert tuple(typing.get_type_hints(typed)) == allowed


def test_of_validates_like_the_stack_config() -> None:
    settings: args.RegistrySettings = {"hostnames": ("registry.example.com",), "port": 5443, "users": [{"name": "ci"}]}
    built = PrivateRegistryArgs.of(settings, instance="prod-images").settings
    assert built == load_settings({"hostnames": ["registry.example.com"], "port": 5443, "users": [{"name": "ci"}]}, "prod-images")
    assert built.endpoint == "registry.example.com:5443"
    assert built.target == DockerTarget(container_name="registry-prod-images", data_volume="registry-data-prod-images")


def test_of_never_prints_storage_or_user_values() -> None:
    with pytest.raises(SettingsError) as error:
        PrivateRegistryArgs.of(
            {"target": "kubernetes", "kubernetes": {"context": "c"}, "storage": {"driver": "s3", "secretKey": 42}},  # type: ignore[typeddict-item]
            instance="x",
        )
    assert "42" not in str(error.value) and "storage" in str(error.value), str(error.value)


def test_plain_settings_take_tuples_and_refuse_other_objects() -> None:
    assert plain_settings({"hostnames": ("a", "b"), "subject": {"country": "DE"}}) == {
        "hostnames": ["a", "b"],
        "subject": {"country": "DE"},
    }
    with pytest.raises(SettingsError, match="port: is of type object; settings take plain values"):
        plain_settings({"port": object()})


def test_a_type_checker_catches_misspelt_keys_and_wrong_types(tmp_path: Path) -> None:
    program = tmp_path / "consumer.py"
    program.write_text(
        "from components import PrivateRegistryArgs\n"
        'PrivateRegistryArgs.of({"prot": 5000}, instance="x")\n'
        'PrivateRegistryArgs.of({"port": "5000", "kubernetes": {"mode": "clutser"}}, instance="x")\n'
        'PrivateRegistryArgs.of({"port": 5000, "users": [{"name": "ci"}]}, instance="x")\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", str(program)], cwd=REPO, capture_output=True, text=True
    )
    errors = [line.split(": error: ", 1)[1] for line in result.stdout.splitlines() if ": error: " in line]
    assert [line.split(":")[1] for line in result.stdout.splitlines() if ": error: " in line] == ["2", "3", "3"], result.stdout
    assert 'Extra key "prot"' in errors[0] and 'item "port" has type "int"' in errors[1] and "clutser" in errors[2], errors


def entry_type(hint: Any) -> Any:
    """The TypedDict of one entry of a setting: itself, or the item of a Sequence or Mapping of them."""
    args_of = typing.get_args(hint)
    return args_of[-1] if args_of else hint


@pytest.mark.parametrize("setting", sorted(FIELDS))
def test_every_object_setting_is_typed_with_exactly_the_tables_keys(setting: str) -> None:
    """The key table (components/setting_keys.py) is the one list of each object setting's keys: the
    checks read their keys from it, and the typed settings of the package must offer the same ones."""
    typed = entry_type(typing.get_type_hints(args.RegistrySettings)[setting])
    assert tuple(typing.get_type_hints(typed)) == field_names(setting), setting
