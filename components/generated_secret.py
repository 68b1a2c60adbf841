"""A random secret generated once and then kept in state, e.g. the registry's HTTP secret.

pulumi-random would do this too, but it is one more provider plugin to build offline for a single
value; a dynamic provider of a few lines keeps the toolchain smaller.
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider


def new_secret(length: int) -> str:
    """A URL-safe random string of `length` bytes of entropy."""
    return secrets.token_urlsafe(length)


class GeneratedSecretProvider(ResourceProvider):
    """Creates the value once; only a change of `length` makes a new one."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        value = new_secret(int(props["length"]))
        return CreateResult(id_=f"secret-{secrets.token_hex(8)}", outs={"length": props["length"], "value": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Compare only `length`: the serialized provider (`__provider`) changes with the code.
        changed = olds.get("length") != news.get("length")
        return DiffResult(changes=changed, replaces=["length"] if changed else [], delete_before_replace=False)


class GeneratedSecret(Resource):
    """A secret string output `value`, stable for the life of the resource."""

    value: pulumi.Output[str]

    def __init__(self, name: str, length: int, opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["value"]))
        super().__init__(GeneratedSecretProvider(), name, {"length": length, "value": None}, opts)
