"""A private Docker registry for private Kubernetes clusters, as a Pulumi component.

In this repository the package is `components` (the project's own program imports it so); installed
with pip it is `private_registry` (pyproject.toml maps one to the other). The public API:

    from private_registry import PrivateRegistry, PrivateRegistryArgs

    cache = PrivateRegistry("cache", PrivateRegistryArgs.of({"port": 5001}, instance="prod-cache"))
    pulumi.export("cacheEndpoint", cache.endpoint)

docs/design.md draws the graph the modules form; docs/component.md is the guide for other programs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers; loaded on first use at run time
    from .args import (
        KubernetesSetting,
        NodeTrustSetting,
        PullSecretSetting,
        RegistrySettings,
        StorageSetting,
        SubjectSetting,
        UserSetting,
    )
    from .model import Settings, SettingsError
    from .private_registry import PrivateRegistry, PrivateRegistryArgs, RegistryConflictError
    from .settings import load_settings

__version__ = "0.1.0"

__all__ = [
    "KubernetesSetting",
    "NodeTrustSetting",
    "PrivateRegistry",
    "PrivateRegistryArgs",
    "PullSecretSetting",
    "RegistryConflictError",
    "RegistrySettings",
    "Settings",
    "SettingsError",
    "StorageSetting",
    "SubjectSetting",
    "UserSetting",
    "__version__",
    "load_settings",
]

# Where each public name lives. Loaded on first use, so that `python -m components.setting_keys`
# (and the unit tests of pure modules) do not import Pulumi and every component first.
_HOMES = {
    **dict.fromkeys(
        ("KubernetesSetting", "NodeTrustSetting", "PullSecretSetting", "RegistrySettings", "StorageSetting",
         "SubjectSetting", "UserSetting"),
        "args",
    ),
    **dict.fromkeys(("PrivateRegistry", "PrivateRegistryArgs", "RegistryConflictError"), "private_registry"),
    **dict.fromkeys(("Settings", "SettingsError"), "model"),
    "load_settings": "settings",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
