"""Program tests of the platform example under mocks: the installed `private_registry` package,
two registries in one program, what each registers and outputs, and the refusals.

Run in the example's own virtualenv, with the package installed (tests/e2e/test_component_package.py
does that from the repository): `venv/bin/python -m pytest -q tests`.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import private_registry
import pulumi
import pytest
from private_registry import PrivateRegistry, PrivateRegistryArgs, RegistryConflictError, SettingsError
from pulumi.runtime.sync_await import _sync_await

MAIN = Path(__file__).resolve().parent.parent / "__main__.py"


class Mocks(pulumi.runtime.Mocks):
    """Echo every resource's inputs as its state; remember what was registered."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.names.append(args.name)
        return (f"{args.name}-id" if args.custom else None), dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def mocked(config: dict[str, Any] | None = None) -> Mocks:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="platform", stack="test", preview=False)
    pulumi.runtime.set_all_config({f"platform:{k}": json.dumps(v) for k, v in (config or {}).items()})
    return mocks


def resolved(output: pulumi.Output[Any]) -> tuple[Any, bool]:
    """The value of an Output and whether it is secret, once the mocks resolved it."""
    return _sync_await(output.future()), _sync_await(output.is_secret())


def test_the_package_is_the_installed_one() -> None:
    assert private_registry.__version__
    assert Path(private_registry.__file__).parent.name == "private_registry"


def test_two_registries_stand_apart() -> None:
    mocks = mocked({"imagesPort": 5611, "cachePort": 5612})
    program = runpy.run_path(str(MAIN))
    images, cache = program["images"].outputs(), program["cache"].outputs()
    assert resolved(images["endpoint"])[0] == "localhost:5611"
    assert resolved(cache["endpoint"])[0] == "localhost:5612"
    assert resolved(images["containerName"])[0] == "registry-test-images"
    assert resolved(cache["containerName"])[0] == "registry-test-cache"
    assert resolved(images["usernames"])[0] == ["ci", "puller"]
    assert resolved(images["passwords"])[1], "the passwords output must be secret"
    # Every resource of each registry is named after its component, so the two never share a URN name.
    assert [n for n in mocks.names if n.startswith("images")] and [n for n in mocks.names if n.startswith("cache")]
    assert not [n for n in mocks.names if not n.startswith(("images", "cache"))]


def test_a_second_registry_on_the_same_port_is_refused_before_it_registers_anything() -> None:
    mocks = mocked()
    PrivateRegistry("first", PrivateRegistryArgs.of({"port": 5700}, instance="first"))
    with pytest.raises(RegistryConflictError) as error:
        PrivateRegistry("second", PrivateRegistryArgs.of({"port": 5700}, instance="second"))
    message = str(error.value)
    assert "'first' and 'second'" in message and "port 5700 of the Docker host" in message, message
    assert not [n for n in mocks.names if n.startswith("second")]


def test_bad_settings_name_the_setting_and_hide_passwords() -> None:
    with pytest.raises(SettingsError) as error:
        PrivateRegistryArgs.of({"port": 70000, "users": [{"name": "ci", "password": "x" * 80}]}, instance="bad")
    message = str(error.value)
    assert "private-registry:port = 70000" in message, message
    assert "x" * 80 not in message and "users[0].password" in message, message


def test_outputs_of_other_resources_are_refused_with_the_key() -> None:
    mocked()
    with pytest.raises(SettingsError, match=r"hostnames: is a pulumi\.Output"):
        PrivateRegistryArgs.of({"hostnames": pulumi.Output.from_input(["a"])}, instance="late")  # type: ignore[typeddict-item]
