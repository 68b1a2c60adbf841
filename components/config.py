"""Reading the stack's raw config values for `load_settings` (the only Pulumi-facing part)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.settings import PROJECT

# Settings whose values are plain strings; every other setting is read as JSON (numbers, booleans,
# lists and objects), as `pulumi config set` and `--path` store them.
STRING_KEYS = ("keyAlgorithm", "ecdsaCurve", "image", "containerName", "dataVolume", "endpoint")


def raw_config(config: pulumi.Config, all_config: dict[str, str]) -> dict[str, Any]:
    """Every `private-registry:*` value of the stack, parsed; keys without the project prefix."""
    raw: dict[str, Any] = {}
    for full_key in all_config:
        project, _, name = full_key.partition(":")
        if project != PROJECT:
            continue
        try:
            raw[name] = config.get(name) if name in STRING_KEYS else config.get_object(name)
        except ValueError:  # not JSON: keep the text so validation can name it
            raw[name] = config.get(name)
    return raw
