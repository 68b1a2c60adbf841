"""A private Docker registry for private Kubernetes clusters, as a Pulumi component.

In this repository the package is `components` (the project's own program imports it so); installed
with pip it is `private_registry` (pyproject.toml maps one to the other). The public API:

    from private_registry import PrivateRegistry, PrivateRegistryArgs

    cache = PrivateRegistry("cache", PrivateRegistryArgs.of({"port": 5001}, instance="prod-cache"))
    pulumi.export("cacheEndpoint", cache.endpoint)

docs/design.md draws the graph the modules form; docs/component.md is the guide for other programs.
"""

from .args import (
    KubernetesSetting,
    NodeTrustSetting,
    PullSecretSetting,
    RegistrySettings,
    StorageSetting,
    SubjectSetting,
    UserSetting,
)
from .private_registry import PrivateRegistry, PrivateRegistryArgs, RegistryConflictError
from .settings import Settings, SettingsError, load_settings

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
