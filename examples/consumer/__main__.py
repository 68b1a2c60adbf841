"""A cluster stack: reads the registry stack's outputs and runs an image from the registry.

It creates its own namespace, a pull secret there from the registry's `dockerConfigJson` output,
and a Deployment of `image` that pulls with it; `pulumi up` returns once the Deployment is
Available (the provider waits for it). Nodes must trust the registry's CA already (README "Using it
from a cluster"); the node-provisioning outputs are exported for that.

Run in the same backend as the registry stack, with its passphrase (to read the secret output).
"""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
registry = pulumi.StackReference(config.require("registryStack"))
endpoint = registry.require_output("endpoint")
image = config.require("image")  # e.g. <endpoint>/team/app:1, pushed to the registry beforehand
command = config.get_object("command")  # optional, e.g. ["sh", "-c", "echo hello; sleep 3600"]
namespace_name = config.get("namespace") or "registry-consumer"

namespace = k8s.core.v1.Namespace("apps", metadata={"name": namespace_name})
pull_secret = k8s.core.v1.Secret(
    "registry-pull",
    metadata={"name": "registry-pull", "namespace": namespace.metadata["name"]},
    type="kubernetes.io/dockerconfigjson",
    # A secret output of the registry stack stays secret here.
    string_data={".dockerconfigjson": registry.require_output("dockerConfigJson")},
)
labels = {"app": "registry-consumer"}
container: dict[str, object] = {"name": "app", "image": image}
if command:
    container["command"] = command
deployment = k8s.apps.v1.Deployment(
    "app",
    metadata={"namespace": namespace.metadata["name"], "labels": labels},
    spec={
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [container], "imagePullSecrets": [{"name": pull_secret.metadata["name"]}]},
        },
    },
)

pulumi.export("namespace", namespace.metadata["name"])
pulumi.export("deployment", deployment.metadata["name"])
# What a node provisioning step writes: containerd's hosts.toml and the CA beside it.
pulumi.export("registryEndpoint", endpoint)
pulumi.export("caPath", endpoint.apply(lambda e: f"/etc/containerd/certs.d/{e}/ca.crt"))
pulumi.export("caCertificate", registry.require_output("caCertificate"))
pulumi.export("hostsToml", registry.require_output("containerdHostsToml"))
pulumi.export("dockerConfigJson", registry.require_output("dockerConfigJson"))
