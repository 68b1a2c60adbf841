"""Reading raw config values: the problems they have, and what a message may show of them.

Every settings section (settings.py, settings_cluster.py, settings_target.py) reads through these
helpers and reports into one `Problems`, so a run lists every bad value at once and one rule decides
what of a value is printed (never a secret).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .setting_keys import BY_NAME, FIELDS, NAMES, PROJECT, default

MIN_MASKED = 4  # a secret this long or longer is masked where a message quotes it; shorter ones by value only

# How a section parser (pods.py, service.py, images.py, ...) reports: (path below its setting, value, what
# is allowed); the caller prefixes the setting and adds it to `Problems`.
Problem = Callable[[str, Any, str], None]


def key(name: str) -> str:
    """The fully qualified config key, as users type it in `pulumi config set`."""
    return f"{PROJECT}:{name}"


def top_level(name: str) -> str:
    """The setting a message is about: `users` for `users[0].password`, `pullSecret` for `pullSecret.user`."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def shape(value: Any) -> str:
    """What a value is, without any of its content: safe to print for a secret."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)" if value else "an empty list"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value))
        return f"an object with keys {keys}" if value else "an empty object"
    return "null" if value is None else type(value).__name__


def leaves(value: Any) -> Iterator[Any]:
    """The scalars inside a config value (itself, when it is one)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def secret_values(raw: Mapping[str, Any], secret_keys: frozenset[str]) -> frozenset[Any]:
    """Every value of the stack that is, or may be, a secret: all of a key the engine holds
    encrypted (`pulumi config set --secret`) or that is no setting at all (a misspelt `usres`), and
    in a setting the table marks secret-bearing, all of a field marked `secret` (passwords, private
    key, S3 keys, every `pods.env` value) or of a field it does not know (a misspelt `pasword`).
    None and booleans carry nothing and are left out.
    """
    found: list[Any] = []
    for name, value in raw.items():
        spec = BY_NAME.get(name)
        if name in secret_keys or spec is None:
            found += leaves(value)
            continue
        if not spec.secret_bearing:
            continue
        if spec.each == "list" and isinstance(value, list):
            entries = value
        elif spec.each == "map" and isinstance(value, dict):
            entries = list(value.values())
        else:
            entries = [value]
        secret_field = {f.name: f.secret for f in FIELDS[name]}
        for entry in entries:
            items = entry.items() if isinstance(entry, dict) else [("", entry)]
            found += (leaf for field_name, item in items if secret_field.get(field_name, True) for leaf in leaves(item))
    return frozenset(v for v in found if v is not None and not isinstance(v, bool))


class Problems:
    """Collects problems so every bad value is reported in one run, showing only what is safe.

    Settings errors reach terminals and CI logs, so one rule decides what is printed: a value that
    holds none of the stack's `secret_values` is shown as it is; one that does shows its shape
    instead (`<secret: an object with keys password>`), and so does everything of a key the engine
    holds encrypted and of an unknown key. A secret quoted in a message's own text is masked.
    """

    def __init__(self, secret_keys: frozenset[str] = frozenset(), raw: Mapping[str, Any] | None = None) -> None:
        self.items: list[str] = []
        self.secret_keys = secret_keys
        self.secrets = secret_values(raw or {}, secret_keys)
        self.texts = sorted((s for s in self.secrets if isinstance(s, str) and len(s) >= MIN_MASKED), key=len, reverse=True)

    def holds_secret(self, value: Any) -> bool:
        """Whether `value` is, holds or quotes one of the secrets."""
        for leaf in leaves(value):
            if isinstance(leaf, bool) or leaf is None:
                continue
            if leaf in self.secrets or (isinstance(leaf, str) and any(s in leaf for s in self.texts)):
                return True
        return False

    def show(self, name: str, value: Any) -> str:
        """`value` as it may appear in a message about setting `name`."""
        setting = top_level(name)
        if setting in self.secret_keys:
            return f"<secret: {shape(value)}>"
        if setting not in NAMES:
            return f"<{shape(value)}>"
        return f"<secret: {shape(value)}>" if self.holds_secret(value) else repr(value)

    def mask(self, text: str) -> str:
        """`text` with every secret quoted in it replaced."""
        for secret in self.texts:
            text = text.replace(secret, "<secret>")
        return text

    def add(self, name: str, value: Any, allowed: str) -> None:
        self.items.append(f"{key(name)} = {self.show(name, value)}: {self.mask(allowed)}")


def read_integer(raw: Mapping[str, Any], name: str, p: Problems, default_value: int | None = None) -> int:
    spec = BY_NAME[name]
    fallback = spec.default if default_value is None else default_value
    value = raw.get(name, fallback)
    assert spec.low is not None and spec.high is not None, name
    if isinstance(value, bool) or not isinstance(value, int) or not spec.low <= value <= spec.high:
        p.add(name, value, f"must be an integer in {spec.bounds}")
        return int(fallback)
    return value


def read_boolean(raw: Mapping[str, Any], name: str, p: Problems, default_value: bool | None = None) -> bool:
    fallback = default(name) if default_value is None else default_value
    value = raw.get(name, fallback)
    if not isinstance(value, bool):
        p.add(name, value, "must be true or false")
        return bool(fallback)
    return value


def read_string_list(raw: Mapping[str, Any], name: str, p: Problems) -> tuple[str, ...]:
    value = raw.get(name, default(name))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(name, value, "must be a list of strings")
        return ()
    return tuple(value)


def read_object(raw: Mapping[str, Any], name: str, allowed_keys: Sequence[str], p: Problems) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        p.add(name, value, f"must be an object with keys {', '.join(allowed_keys)}")
        return {}
    unknown = sorted(set(value) - set(allowed_keys))
    if unknown:
        p.add(name, value, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed_keys)}")
    return value


def read_name(raw: Mapping[str, Any], name: str, default: str, check: Callable[[str], bool], allowed: str, p: Problems) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not check(value):
        p.add(name, value, allowed)
        return default
    return value


def read_choice(raw: Mapping[str, Any], name: str, choices: Sequence[str], allowed: str, p: Problems) -> str:
    value = raw.get(name, default(name))
    if value not in choices:
        p.add(name, value, allowed)
        return str(default(name))
    return str(value)


def refuse_unknown_keys(raw: Mapping[str, Any], p: Problems) -> None:
    for name in sorted(set(raw) - set(NAMES)):
        close = difflib.get_close_matches(name, NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        p.add(name, raw[name], f"is not a setting of this project; {hint}known settings: {', '.join(NAMES)}")
