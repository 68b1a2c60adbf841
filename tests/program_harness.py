"""Runs `__main__.py` under `pulumi.runtime.set_mocks` and records what the program registers.

The mocks play the providers' part with plain values; for the dynamic providers they call the same
pure functions the real providers call, so the outputs agree with what `pulumi up` produces.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.generated_secret import new_secret
from components.htpasswd import PullCredentialProvider, build

MAIN = Path(__file__).resolve().parent.parent / "__main__.py"
DYNAMIC = "pulumi-python:dynamic:Resource"
FAKE_PEM = "-----BEGIN CERTIFICATE-----\nMOCK {name}\n-----END CERTIFICATE-----\n"
FAKE_KEY = "-----BEGIN MOCK KEY-----\nMOCK {name}\n-----END MOCK KEY-----\n"


class RegistryMocks(Mocks):
    """Provider stand-ins: realistic outputs per resource type, inputs echoed otherwise."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = {k: unwrap_secrets(v) for k, v in args.inputs.items()}
        name = args.name
        if args.typ == "tls:index/privateKey:PrivateKey":
            state.update(privateKeyPem=FAKE_KEY.format(name=name), publicKeyPem="PUBLIC " + name)
        elif args.typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            state.update(certPem=FAKE_PEM.format(name=name), validityEndTime="2027-11-28T00:00:00Z", readyForRenewal=False)
        elif args.typ == "tls:index/certRequest:CertRequest":
            state.update(certRequestPem="CSR " + name)
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            state.update(imageId="sha256:" + "ab" * 32, repoDigest="")
        elif args.typ == DYNAMIC and "users" in state:
            state.update(build(state, {}))
        elif args.typ == "pulumi-python:dynamic/private-registry:PullCredential":
            state.update(PullCredentialProvider().create(state).outs or {})
        elif args.typ == DYNAMIC and "length" in state:
            state.update(value=new_secret(int(state["length"])))
        return (f"{name}-id" if args.custom else None), state

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def unwrap_secrets(value: Any) -> Any:
    """The plain value inside the wire form of secrets (the mock monitor hands them over wrapped)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


@dataclass
class Registration:
    """One RegisterResource request as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    secret_inputs: set[str]
    delete_before_replace: bool
    retain_on_delete: bool | None
    additional_secret_outputs: list[str]
    provider: str
    dependencies: list[str]
    version: str = ""
    aliases: list[str] = field(default_factory=list)  # alias URNs, or alias specs as text
    wire_inputs: dict[str, Any] = field(default_factory=dict)  # as sent, secrets still wrapped
    before_create_hooks: list[str] = field(default_factory=list)  # names of the resource hooks bound
    custom_timeouts: dict[str, str] = field(default_factory=dict)  # create/update/delete, those set


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration, with its parent and options."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            _mark_secret_outputs(response.object, request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=unwrap_secrets(rpc.deserialize_properties(request.object)),
                    secret_inputs={k for k, v in raw.items() if _contains_secret(v)},
                    delete_before_replace=request.deleteBeforeReplace,
                    retain_on_delete=request.retainOnDelete if request.HasField("retainOnDelete") else None,
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    version=request.version,
                    aliases=list(request.aliasURNs) + [json_format.MessageToJson(a) for a in request.aliases],
                    wire_inputs=raw,
                    before_create_hooks=list(request.hooks.before_create),
                    custom_timeouts=json_format.MessageToDict(request.customTimeouts),
                )
            )
        return response


def _mark_secret_outputs(outputs: Any, request: Any) -> None:
    """Make secret, in place, the outputs the engine would: those named in `additionalSecretOutputs`
    and those whose input of the same name was secret (the engine copies an input's secretness to
    the output a provider echoes). Without this a component that forgets to unsecret a value read
    from such an output (or that relies on an output being secret) passes under the mocks.
    """
    inputs = json_format.MessageToDict(request.object)
    secret = set(request.additionalSecretOutputs) | {k for k, v in inputs.items() if _contains_secret(v)}
    for key in secret & set(outputs.fields):
        plain = json_format.MessageToDict(outputs.fields[key])
        if not _contains_secret(plain):
            wrapped = {rpc._special_sig_key: rpc._special_secret_sig, "value": plain}
            outputs.fields[key].CopyFrom(json_format.ParseDict(wrapped, struct_pb2.Value()))


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:  # the wire form of a secret
            return True
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


@dataclass
class ProgramRun:
    """What one evaluation of the program registered and exported."""

    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def type_counts(self) -> dict[str, int]:
        """How many resources of each type the program registered."""
        counts: dict[str, int] = {}
        for r in self.registrations:
            counts[r.type] = counts.get(r.type, 0) + 1
        return counts

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)


def config_values(settings: dict[str, Any]) -> dict[str, str]:
    """Stack config as the CLI hands it to the program: strings stay, the rest is JSON."""
    return {f"private-registry:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()}


def register(program: Callable[[], None], stack: str = "dev", preview: bool = False) -> list[Registration]:
    """Run any Pulumi code under the mocks (as `up` runs it, or as a preview); return what it registered."""
    mocks = RegistryMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="private-registry", stack=stack, preview=preview, monitor=monitor)
    _sync_await(run_pulumi_func(program))
    return monitor.registrations


def evaluate(
    settings: dict[str, Any], stack: str = "dev", secret_keys: list[str] | None = None, preview: bool = False
) -> ProgramRun:
    """Evaluate `__main__.py` with these settings under mocks; return registrations and outputs."""
    namespace: dict[str, Any] = {}

    def program() -> None:
        pulumi.runtime.set_all_config(config_values(settings), secret_keys or [])
        namespace.update(runpy.run_path(str(MAIN), run_name="__main__"))

    run = ProgramRun(registrations=register(program, stack, preview))
    for name, output in namespace["registry"].outputs().items():
        run.outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(name)
    return run
