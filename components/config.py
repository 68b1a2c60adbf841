"""Reading the stack's raw config values for `load_settings` (the only Pulumi-facing part).

The engine hands the program every config value and, separately, the keys it holds encrypted
(`pulumi config set --secret`, or `--path` into a key that holds a secret). Both are read here, so
that the settings checks can keep the values of secret keys out of every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env, get_config_secret_keys_env, is_config_secret

from .setting_keys import PROJECT, STRING_KEYS


@dataclass(frozen=True)
class RawConfig:
    """The stack's `private-registry:*` values (keys without the prefix) and which keys are secret."""

    values: dict[str, Any]
    secret_keys: frozenset[str]


def parse_config(config: pulumi.Config, all_config: dict[str, str], secret_full_keys: set[str]) -> RawConfig:
    """Every `private-registry:*` value of `all_config`, parsed; keys without the project prefix."""
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key in all_config:
        project, _, name = full_key.partition(":")
        if project != PROJECT:
            continue
        if full_key in secret_full_keys:
            secret.add(name)
        # Plain strings as they are; everything else as JSON (numbers, booleans, lists, objects), as
        # `pulumi config set` and `--path` store them.
        try:
            values[name] = config.get(name) if name in STRING_KEYS else config.get_object(name)
        except ValueError:  # not JSON: keep the text so validation can name it
            values[name] = config.get(name)
    return RawConfig(values=values, secret_keys=frozenset(secret))


def stack_config() -> RawConfig:
    """The running stack's config, as the engine passed it to this program."""
    all_config = {**get_config_env(), **CONFIG.get()}
    secret = {k for k in all_config if is_config_secret(k)} | set(get_config_secret_keys_env())
    return parse_config(pulumi.Config(PROJECT), all_config, secret)
