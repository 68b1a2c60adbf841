"""A platform program with two registries of its own, beside whatever else it creates.

`images` holds the team's images (a CI user that pushes, a pull user for clusters); `cache` holds
build caches (ECDSA keys, one user). Each gets its own instance name, so their containers, volumes
and CAs are apart; their ports are this program's settings. Optional config `common` (an object of
registry settings) goes to both, e.g. `{"image": "registry:3.1.2", "pullImage": false}`.
"""

import pulumi
from private_registry import PrivateRegistry, PrivateRegistryArgs, RegistrySettings

config = pulumi.Config()
stack = pulumi.get_stack()
common: RegistrySettings = config.get_object("common") or {}  # type: ignore[assignment]

images = PrivateRegistry(
    "images",
    PrivateRegistryArgs.of(
        {
            **common,
            "port": config.get_int("imagesPort") or 5000,
            "users": [{"name": "ci"}, {"name": "puller"}],
            "pullSecret": {"user": "puller"},
        },
        instance=f"{stack}-images",
    ),
)
cache = PrivateRegistry(
    "cache",
    PrivateRegistryArgs.of(
        {**common, "port": config.get_int("cachePort") or 5001, "keyAlgorithm": "ECDSA", "users": [{"name": "builder"}]},
        instance=f"{stack}-cache",
    ),
)

# Each registry's outputs (the contract of README "Stack outputs"), under its own prefix.
for prefix, registry in (("images", images), ("cache", cache)):
    outputs = registry.outputs()
    for name in ("endpoint", "caCertificate", "passwords", "containerName"):  # passwords: a secret output
        pulumi.export(prefix + name[0].upper() + name[1:], outputs[name])
