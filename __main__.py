"""A private Docker registry for private Kubernetes clusters: settings -> PrivateRegistry -> outputs."""

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.config import raw_config
from components.private_registry import PrivateRegistry, PrivateRegistryArgs
from components.settings import load_settings

settings = load_settings(raw_config(pulumi.Config(), {**get_config_env(), **CONFIG.get()}), pulumi.get_stack())
for warning in settings.warnings:
    pulumi.log.warn(warning)

registry = PrivateRegistry("registry", PrivateRegistryArgs(settings))
for output_name, value in registry.outputs().items():
    pulumi.export(output_name, value)
