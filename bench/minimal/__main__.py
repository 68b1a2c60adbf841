"""The floor a program of this shape pays: one tls PrivateKey, one docker Volume, one Kubernetes Secret.

bench/cli_ratios.py times `pulumi preview` / `up` of the real program against this one, side by
side. The Secret is registered with its type token and the SDK's Provider, as the real program does
(components/kube_resources.py), so neither side pays the import of `pulumi_kubernetes.core.v1`.
`dynamic: true` adds one trivial dynamic-provider resource, to price the dynamic provider's own
Python process on its own.
"""

import base64
import json

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as kubernetes
import pulumi_tls as tls
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

config = pulumi.Config()
key = tls.PrivateKey("key", algorithm="RSA", rsa_bits=config.get_int("rsaBits") or 4096)
volume = docker.Volume("volume", name=config.require("volumeName"))

render_directory = config.get("renderDirectory")
provider = kubernetes.Provider(
    "k8s",
    render_yaml_to_directory=render_directory,
    kubeconfig="" if render_directory else None,  # as the real program: rendering reaches no cluster
    enable_secret_mutable=True,
)
document = json.dumps({"auths": {"localhost:5000": {"auth": base64.b64encode(b"user:password").decode()}}})
secret = pulumi.CustomResource(
    "kubernetes:core/v1:Secret",
    "pull-secret",
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": config.require("secretName"), "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": pulumi.Output.secret({".dockerconfigjson": base64.b64encode(document.encode()).decode()}),
    },
    pulumi.ResourceOptions(provider=provider, additional_secret_outputs=["data"]),
)


class TrivialProvider(ResourceProvider):
    """A dynamic provider that stores its inputs: the dynamic provider process and nothing else."""

    def create(self, props: dict) -> CreateResult:
        return CreateResult(id_="trivial", outs={"value": props["value"]})

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        return DiffResult(changes=olds.get("value") != news.get("value"))


class Trivial(Resource):
    """One resource of TrivialProvider."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(TrivialProvider(), name, {"value": value})


if config.get_bool("dynamic"):
    Trivial("trivial", "one")

pulumi.export("volume", volume.name)
pulumi.export("publicKey", key.public_key_openssh)
