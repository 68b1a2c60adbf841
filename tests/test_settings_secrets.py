"""Property tests: no secret value reaches a settings error or warning, on either path (the stack
config through `load_settings`, a program's typed settings through `PrivateRegistryArgs.of`).

The secrets are found by one rule (`settings.secret_values`): every field the settings table marks
`secret`, every key it does not know inside a secret-bearing setting, every value of a key the engine
holds encrypted. The cases are derived from the table, so a new secret field is covered here as
soon as it is marked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.model import SettingsError
from components.private_registry import PrivateRegistryArgs
from components.problems import secret_values
from components.setting_keys import BY_NAME, FIELDS, KEYS
from components.settings import load_settings

MARK = "Qv7Jk"  # in no message text: where it appears, a secret was printed
KUBE = {"target": "kubernetes", "kubernetes": {"context": "c"}}
SECRET_FIELDS = [(setting, f.name) for setting, fields in FIELDS.items() for f in fields if f.secret]
# What makes the object around the secret wrong, so that a message is about it (or about all of it).
MISTAKES: list[Callable[[dict[str, Any]], None]] = [
    lambda entry: entry.update(unknownKey=1),  # the whole object is shown with its allowed keys
    lambda entry: entry.update(port="not a port", size=7, ttl=5, bucket="B", driver="s3"),
    lambda entry: entry.update(username=5, ca=5, cert="not PEM", nodeSelector="x", region=3),
    lambda entry: None,
]


def wrap(setting: str, entry: Any) -> Any:
    """`entry` placed as the table says the setting holds its fields: directly, per list item, per map key."""
    each = BY_NAME[setting].each
    if each == "list":
        return [{"name": "a", **entry}] if setting == "users" else [entry]
    if each == "map":
        return {"quay.io": {"port": 30600, **entry}} if setting == "mirrors" else {"quay.io": entry}
    return entry


def secret_value(field: str, tail: str) -> Any:
    """A secret as the field holds it: a map of them for `env`, text otherwise."""
    value = MARK + tail
    return {"SOME_TOKEN": value, "OTHER": value * 2} if field == "env" else value


def both_paths(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> list[str]:
    """Every problem and warning either path prints for `raw`."""
    printed: list[str] = []
    for check in (
        lambda: load_settings(raw, "dev", secret_keys=secret_keys),
        lambda: PrivateRegistryArgs.of(raw, instance="dev", secret_keys=secret_keys or None).settings,  # type: ignore[arg-type]
    ):
        try:
            printed += check().warnings
        except SettingsError as error:
            printed.append(str(error))
    return printed


def test_the_table_marks_the_secrets_the_rule_hides() -> None:
    # The places that hold secrets, named once in the table: what a reviewer checks when adding a setting.
    assert sorted(SECRET_FIELDS) == sorted(
        [
            ("users", "password"),
            ("certificate", "key"),
            ("storage", "accessKey"),
            ("storage", "secretKey"),
            ("pods", "env"),
            ("mirrors", "password"),
            ("sourceRegistries", "password"),
        ]
    )
    assert {k.name for k in KEYS if k.secret_bearing} == {s for s, _ in SECRET_FIELDS}


@pytest.mark.parametrize(("setting", "field"), SECRET_FIELDS)
@given(tail=st.text(max_size=20), mistake=st.sampled_from(MISTAKES), misspelt=st.booleans())
@settings(max_examples=25, deadline=None)
def test_no_secret_field_is_printed_in_any_mistake(
    setting: str, field: str, tail: str, mistake: Callable[[dict[str, Any]], None], misspelt: bool
) -> None:
    entry: dict[str, Any] = {field + ("x" if misspelt else ""): secret_value(field, tail)}
    mistake(entry)
    raw = {**KUBE, setting: wrap(setting, entry)}
    printed = both_paths(raw)
    assert printed, "a mistake must be reported (or the case tests nothing)"
    assert not any(MARK in text for text in printed), printed


@given(tail=st.text(max_size=20), key=st.sampled_from([k.name for k in KEYS]))
@settings(max_examples=60, deadline=None)
def test_nothing_of_a_key_the_engine_holds_encrypted_is_printed(tail: str, key: str) -> None:
    # `pulumi config set --secret` on any key, and the value wrong for it in every way at once.
    raw = {**KUBE, key: {"a": [MARK + tail, {"b": MARK}], "unknown": 1}}
    raw.setdefault("containerName", MARK + tail)  # and pasted where its value is shown: a docker-only setting
    printed = both_paths(raw, frozenset({key}))
    assert printed and not any(MARK in text for text in printed), printed


@given(tail=st.text(max_size=20))
@settings(max_examples=25, deadline=None)
def test_a_secret_quoted_elsewhere_is_masked_too(tail: str) -> None:
    # The password pasted into another setting as well: it is a secret wherever it appears.
    secret = MARK + tail
    raw = {
        **KUBE,
        "users": [{"name": "ci", "password": secret}],
        "namespace": secret,
        "pods": {"env": {"TOKEN": secret}, "priorityClassName": f"x{secret}x"},
        "service": {"annotations": {"example.com/a": secret}, "loadBalancerClass": secret},
        "usres": secret,
    }
    printed = both_paths(raw)
    assert printed and not any(MARK in text for text in printed), printed


def test_a_secret_in_a_message_of_its_own_words_is_masked() -> None:
    # A password pasted as a user's name too: the list of users a message offers must not carry it.
    pasted = MARK + "-pasted"
    raw = {"users": [{"name": "ci", "password": pasted}, {"name": pasted}], "pullSecret": {"user": "nobody"}}
    printed = both_paths(raw)
    assert printed and all("must be one of the users: ci, <secret>" in text for text in printed), printed
    assert not any(MARK in text for text in printed), printed


def test_what_holds_no_secret_is_still_shown() -> None:
    # The rule hides secrets, not every value: a wrong port or namespace is shown as it was typed.
    raw = {**KUBE, "users": [{"name": "ci", "password": "pw-hunter2"}], "port": 70000, "namespace": "Bad_NS"}
    (message,) = both_paths(raw)[:1]
    assert "private-registry:port = 70000" in message and "private-registry:namespace = 'Bad_NS'" in message
    assert secret_values(raw, frozenset()) == frozenset({"pw-hunter2"})
