"""A private Docker registry for private Kubernetes clusters: settings -> PrivateRegistry -> outputs."""

import pulumi

from components.config import stack_config
from components.private_registry import PrivateRegistry, PrivateRegistryArgs
from components.settings import SettingsError, load_settings

config = stack_config()
try:
    settings = load_settings(config.values, pulumi.get_stack(), secret_keys=config.secret_keys)
except SettingsError as error:  # the problems, not a traceback: nothing has been created
    raise pulumi.RunError(str(error)) from None
for warning in settings.warnings:
    pulumi.log.warn(warning)

registry = PrivateRegistry("registry", PrivateRegistryArgs(settings))
for output_name, value in registry.outputs().items():
    pulumi.export(output_name, value)
