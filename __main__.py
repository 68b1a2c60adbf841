"""A private Docker registry for private Kubernetes clusters: stack config -> PrivateRegistryArgs -> PrivateRegistry.

The program is one user of the component package (`components/`, installed elsewhere as
`private_registry`): it reads the stack's settings, lets the component check them and exports the
component's outputs. The registry's instance name is the stack's name.
"""

import pulumi

from components import PrivateRegistry, PrivateRegistryArgs, RegistrySettings, SettingsError
from components.config import stack_config

config = stack_config()
settings: RegistrySettings = config.values  # type: ignore[assignment]  # unknown keys are refused by the checks
try:
    args = PrivateRegistryArgs.of(settings, pulumi.get_stack(), secret_keys=config.secret_keys)
    registry = PrivateRegistry("registry", args)  # refuses what needs a cluster the stack does not name
except SettingsError as error:  # the problems, not a traceback: nothing has been created
    raise pulumi.RunError(str(error)) from None

for output_name, value in registry.outputs().items():
    pulumi.export(output_name, value)
