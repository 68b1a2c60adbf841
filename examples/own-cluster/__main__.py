"""A program that holds its cluster's kubeconfig and hands the registry component its own provider.

A program that creates its cluster (a managed one) gets the kubeconfig as the cluster's output;
here it comes from the secret config `kubeconfig`, so the example runs against any cluster. The
registry (target `docker`, a read-only instance for the pull user) writes its pull secret into that
cluster through the program's provider: no `kubernetes.context`, and the component makes no
provider of its own.
"""

import pulumi
import pulumi_kubernetes as k8s
from private_registry import PrivateRegistry, PrivateRegistryArgs, RegistrySettings

config = pulumi.Config()
cluster = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
extra: RegistrySettings = config.get_object("registry") or {}  # type: ignore[assignment]

registry = PrivateRegistry(
    "images",
    PrivateRegistryArgs.of(
        {
            **extra,
            "port": config.get_int("port") or 5000,
            # CI pushes; the pull secret carries a pull user, accepted only by the read-only instance.
            "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}],
            "pullPort": config.get_int("pullPort") or 5001,
        },
        instance=f"{pulumi.get_stack()}-images",
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": cluster}),
)
for name, value in registry.outputs().items():
    pulumi.export(name, value)
