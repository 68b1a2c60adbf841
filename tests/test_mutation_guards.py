"""Tests for mistakes the mutation sample (bench/mutations.py) found unguarded: each would fail on the
one-line change named in its docstring, which the other tests let pass.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.mirrors import Mirror, parse_mirrors
from components.model import SettingsError
from components.names import san_covers
from components.settings import load_settings
from tests.certs import issue, own_certificate_setting
from tests.program_harness import evaluate, register
from tests.test_program import DEV

KUBE_PODS: dict[str, Any] = {
    "target": "kubernetes",
    "ipAddresses": ["10.0.0.5"],
    "storage": {"driver": "s3", "bucket": "images"},
    "kubernetes": {"context": "prod"},
}


class Thing(pulumi.CustomResource):
    """A resource of no real provider: the mocks echo its inputs."""

    value: pulumi.Output[str]
    token: pulumi.Output[str]
    other: pulumi.Output[str]


def test_the_mock_engine_makes_secret_what_the_real_one_does() -> None:
    """The harness marks outputs secret as the engine does (`additionalSecretOutputs`, and an output
    echoing a secret input), so a program test sees a secret where a real preview would.
    """

    def program() -> None:
        inputs = {"value": "plain", "token": pulumi.Output.secret("s"), "other": "x"}
        made = Thing("test:index:Thing", "made", inputs, pulumi.ResourceOptions(additional_secret_outputs=["value"]))
        reader = {"fromValue": made.value, "fromToken": made.token, "fromOther": made.other}
        Thing("test:index:Thing", "reader", reader)

    registrations = register(program)
    (reader,) = [r for r in registrations if r.name == "reader"]
    assert reader.secret_inputs == {"fromValue", "fromToken"}
    assert reader.inputs == {"fromValue": "plain", "fromToken": "s", "fromOther": "x"}


def test_the_kubernetes_provider_updates_secrets_in_place() -> None:
    """Mutation: `enable_secret_mutable=False` (a changed pull secret would be replaced: missing meanwhile)."""
    provider = evaluate(DEV).one("pulumi:providers:kubernetes")
    assert provider.inputs["enableSecretMutable"] == "true"


def test_the_default_service_account_is_patched_after_its_pull_secret_exists() -> None:
    """Mutation: the ServiceAccountPatch without `depends_on=[secret]` (it could name a Secret not there yet)."""
    run = evaluate({**DEV, "pullSecret": {"namespaces": ["apps", "ci"], "patchDefaultServiceAccount": True}})
    secrets = {r.inputs["metadata"]["namespace"]: r.urn for r in run.of_type("kubernetes:core/v1:Secret")}
    patches = run.of_type("kubernetes:core/v1:ServiceAccountPatch")
    assert sorted(p.inputs["metadata"]["namespace"] for p in patches) == ["apps", "ci"]
    for patch in patches:
        assert secrets[patch.inputs["metadata"]["namespace"]] in patch.dependencies, patch.name


def mirror_problems(value: Any) -> tuple[list[str], tuple[Mirror, ...]]:
    found: list[str] = []
    mirrors = parse_mirrors(value, (5000,), "localhost:5000", lambda path, _v, message: found.append(f"{path}: {message}"))
    return found, mirrors


def test_two_valid_mirrors_may_not_share_a_port() -> None:
    """Mutation: the port of an accepted mirror not recorded (the second mirror could not start)."""
    problems, mirrors = mirror_problems({"quay.io": {"port": 5001}, "ghcr.io": {"port": 5001}, "gcr.io": {"port": 5002}})
    assert problems == ["mirrors.ghcr.io.port: is already taken by mirrors.quay.io: each mirror needs a port of its own"]
    assert [m.upstream for m in mirrors] == ["quay.io", "gcr.io"]


@pytest.mark.parametrize(
    ("host", "covered"),
    [
        ("registry.corp.example", True),
        ("REGISTRY.corp.example.", True),
        ("a.registry.corp.example", False),  # two labels where the wildcard stands for one
        ("corp.example", False),  # no label at all
        ("registrycorp.example", False),
    ],
)
def test_a_wildcard_san_stands_for_exactly_one_label(host: str, covered: bool) -> None:
    """Mutation: a wildcard SAN matched by suffix, so it covers several labels (TLS clients refuse that)."""
    assert san_covers(host, ["*.corp.example"], []) is covered


def test_a_wildcard_endpoint_two_labels_down_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"hostnames": ["*.corp.example"], "endpoint": "a.registry.corp.example:443"}, "dev")
    assert any("endpoint" in p and "a.registry.corp.example" in p for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("label", ["app.kubernetes.io/name", "app.kubernetes.io/part-of"])
def test_pod_labels_may_not_take_a_selector_label(label: str) -> None:
    """Mutation: `app.kubernetes.io/part-of` not a selector label (a Pod label of it would take the Pods
    out of the metrics Service, which selects every registry Pod by it).
    """
    with pytest.raises(SettingsError) as caught:
        load_settings({**KUBE_PODS, "pods": {"labels": {label: "x", "team": "a"}}}, "dev")
    assert list(caught.value.problems) == [
        f"private-registry:pods.labels.{label} = 'x': is a selector label the program sets; pick another key"
    ]


@pytest.mark.parametrize("port", [0, 65536])
def test_an_endpoint_port_outside_1_to_65535_is_refused(port: int) -> None:
    """Mutation: port 0 accepted in `host:port` (no client can reach a registry there)."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"hostnames": ["registry.internal"], "endpoint": f"registry.internal:{port}"}, "dev")
    assert list(caught.value.problems) == [
        f"private-registry:endpoint = 'registry.internal:{port}': must be host:port (IPv6 as [addr]:port) with a port in 1..65535"
    ]
    for edge in (1, 65535):
        endpoint = f"registry.internal:{edge}"
        assert load_settings({"hostnames": ["registry.internal"], "endpoint": endpoint}, "dev").endpoint == endpoint


def test_an_ipv6_endpoint_made_by_the_program_has_brackets() -> None:
    """Mutation: `join_endpoint` without brackets (`fd00::1:5000` is no address a client can split)."""
    s = load_settings({"hostnames": [], "ipAddresses": ["fd00::1"], "port": 5000}, "dev")
    assert s.endpoint == "[fd00::1]:5000"
    _, (mirror,) = mirror_problems({"quay.io": {"port": 5001}})
    assert mirror.endpoint("fd00::1") == "[fd00::1]:5001" and mirror.endpoint("registry.internal") == "registry.internal:5001"


def test_a_certificate_not_valid_yet_is_refused() -> None:
    """Mutation: only the end of the validity checked (a certificate valid from tomorrow accepted)."""
    ca = issue("Example Root CA", ca=True)
    later = issue("registry.example.com", ca, dns=("registry.example.com",), days=(1, 30))
    raw = {"hostnames": ["registry.example.com"], "ipAddresses": [], "certificate": own_certificate_setting(later, ca=ca)}
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev", secret_keys=frozenset({"certificate"}))
    assert [p for p in caught.value.problems if "certificate.cert" in p and "is not valid now: valid from" in p], (
        caught.value.problems
    )


@pytest.mark.parametrize(("cost", "warned"), [(10, False), (13, False), (14, True), (31, True)])
def test_a_bcrypt_cost_above_13_warns_of_slow_pulls(cost: int, warned: bool) -> None:
    """Mutation: the bound moved to 14 (a cost of 14, about a second per request at 2 cores, without a word)."""
    warnings = load_settings({"bcryptCost": cost}, "dev").warnings
    assert [w for w in warnings if "expect slow pulls" in w] == (
        [f"private-registry:bcryptCost = {cost}: the registry verifies the hash on every request; expect slow pulls"]
        if warned
        else []
    )


def test_a_kubernetes_object_name_is_at_most_253_characters() -> None:
    """Mutation: `len(name) <= 254` (the API server refuses such a name when `up` creates it)."""
    from components.names import dns_subdomain_ok

    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
    assert len(longest) == 253 and dns_subdomain_ok(longest)
    assert not dns_subdomain_ok(longest + "d")


def test_a_no_execute_toleration_is_taken_as_kubernetes_takes_it() -> None:
    """Mutation: NoExecute dropped from the allowed effects (a node tainted so could not run the registry)."""
    from components.pods import parse_pods

    found: list[str] = []
    toleration = {"key": "dedicated", "operator": "Equal", "value": "registry", "effect": "NoExecute"}
    pods = parse_pods(
        {"tolerations": [toleration]}, frozenset(), lambda path, _value, allowed: found.append(f"{path}: {allowed}")
    )
    assert found == [] and pods.tolerations == (toleration,)


def test_a_mirror_restarts_when_its_upstream_ca_changes() -> None:
    """Mutation: the upstream CA left out of the label's hash (a mirror would keep trusting the old CA:
    the registry reads it only at start)."""
    from components.registry import tls_hash

    assert tls_hash("cert", "upstream CA 1") != tls_hash("cert", "upstream CA 2")
    assert tls_hash("cert", None) != tls_hash("cert", "upstream CA 1")
    assert tls_hash("cert", None) == tls_hash("cert", None)


def test_a_source_registry_password_needs_its_username() -> None:
    """Mutation: a password without a username accepted (the copy would go anonymous, and fail late)."""
    from components.images import parse_source_registries

    found: list[tuple[str, str]] = []
    parse_source_registries({"ghcr.io": {"password": "token"}}, lambda path, _value, allowed: found.append((path, allowed)))
    assert found == [("sourceRegistries.ghcr.io", "needs both username and password (a config secret), or neither")]


def test_an_image_deleted_or_overwritten_in_the_registry_is_copied_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation: `read` keeps the state when the registry holds another digest under the tag (an
    overwritten tag would never be copied again); a refresh forgets the source so the next `up` copies."""
    from components import seeded_images

    held: dict[str, str | None] = {"digest": None}

    class Registry:
        def has_manifest(self, repository: str, tag: str) -> str | None:
            assert (repository, tag) == ("team/app", "1")
            return held["digest"]

    monkeypatch.setattr(seeded_images, "destination", lambda _props: Registry())
    props = {"repository": "team/app", "tag": "1", "digest": "sha256:" + "a" * 64, "sourceDigest": "sha256:" + "a" * 64}
    provider = seeded_images.SeededImageProvider()
    held["digest"] = props["digest"]
    assert provider.read("image-1", props).outs == props
    held["digest"] = "sha256:" + "b" * 64  # someone pushed another image under the tag
    assert provider.read("image-1", props).outs == {**props, "digest": held["digest"], "sourceDigest": ""}
    held["digest"] = None  # deleted
    assert provider.read("image-1", props).outs == {**props, "digest": "", "sourceDigest": ""}


def test_every_mutation_of_the_sample_still_finds_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/mutations.py refuses to judge a mutation whose old text is not in its module exactly once
    (CI's benchmark step then fails): the sample must follow the code it mutates."""
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "bench" / "mutations.py"
    monkeypatch.syspath_prepend(str(bench.parent))  # its own helpers (bench/common.py)
    spec = importlib.util.spec_from_file_location("bench_mutations", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_mutations", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    components = bench.parent.parent / "components"
    lost = [f"{m.file}: {m.old!r}" for m in module.SAMPLE if (components / m.file).read_text().count(m.old) != 1]
    assert not lost, lost
