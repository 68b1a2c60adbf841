"""Unit tests: settings validation, one test per kind of bad input, plus defaults and SAN coverage."""

from __future__ import annotations

import ipaddress
import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.model import DockerTarget, ReadOnlyInstance, SettingsError
from components.names import dns_label_ok, san_covers, split_endpoint
from components.settings import load_settings

CLUSTER = {"kubernetes": {"context": "prod"}}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev")
    return list(caught.value.problems)


def only_problem(raw: dict[str, Any]) -> str:
    found = problems(raw)
    assert len(found) == 1, found
    return found[0]


def test_defaults_match_the_design() -> None:
    s = load_settings({}, "dev")
    assert [u.name for u in s.users] == ["admin"] and s.users[0].password is None
    assert s.bcrypt_cost == 10
    assert s.hostnames == ("localhost",) and s.ip_addresses == ("127.0.0.1",)
    assert (s.key_algorithm, s.rsa_bits) == ("RSA", 4096)
    assert (s.validity_days, s.ca_validity_days, s.early_renewal_days) == (365, 3650, 30)
    assert s.image == "registry:3.1.2" and s.pull_image is True
    assert s.port == 5000 and s.endpoint == "localhost:5000"
    assert s.target == DockerTarget(container_name="registry-dev", data_volume="registry-data-dev")
    assert s.retain_data is True
    assert s.subject.common_name == "localhost"
    assert s.pull_secret.name == "registry-pull-secret"
    assert s.pull_secret.namespaces == () and s.pull_secret.user == "admin"
    assert s.pull_secret.patch_default_service_account is False
    # no cluster named: nothing is written into any (not into the kubeconfig's current context)
    assert s.kubernetes.mode == "none" and s.kubernetes.render_directory is None and s.kubernetes.context is None
    assert s.local_registry_hosting is False and s.node_trust.mode == "none"
    assert s.warnings == ()


def test_a_named_context_is_cluster_mode_with_pull_secrets_in_default() -> None:
    s = load_settings({"kubernetes": {"context": "prod-eu"}}, "dev")
    assert (s.kubernetes.mode, s.kubernetes.context) == ("cluster", "prod-eu")
    assert s.pull_secret.namespaces == ("default",)
    assert load_settings({"kubernetes": {"mode": "render"}}, "dev").pull_secret.namespaces == ("default",)


def test_what_writes_into_a_cluster_is_refused_when_the_stack_names_none() -> None:
    found = problems(
        {
            "pullSecret": {"namespaces": ["apps"]},
            "nodeTrust": {"mode": "daemonset", "image": "busybox@sha256:" + "ab" * 32},
            "localRegistryHosting": True,
            "target": "kubernetes",
            "ipAddresses": ["10.0.0.5"],
            "storage": {"driver": "s3", "bucket": "images"},
        }
    )
    needs = "needs a cluster, and this stack names none: set kubernetes.context"
    for setting in ("pullSecret.namespaces = ['apps']", "nodeTrust.mode = 'daemonset'", "localRegistryHosting = True",
                    "target = 'kubernetes'"):  # fmt: skip
        assert any(p.startswith(f"private-registry:{setting}: {needs}") for p in found), (setting, found)
    assert len(found) == 4, found


def test_cluster_mode_without_a_context_is_refused() -> None:
    message = only_problem({"kubernetes": {"mode": "cluster"}})
    assert message.startswith("private-registry:kubernetes.context = None: is required with kubernetes.mode = cluster")
    assert "the current context is never taken by default" in message
    assert "is only used with kubernetes.mode = cluster (not none)" in only_problem(
        {"kubernetes": {"mode": "none", "context": "x"}}
    )


def test_all_problems_are_reported_together() -> None:
    found = problems({"port": 0, "bcryptCost": 3, "users": []})
    assert len(found) == 3
    assert any("private-registry:port = 0" in p for p in found)


def test_empty_user_list() -> None:
    assert "private-registry:users = []: must be a non-empty list" in only_problem({"users": []})


@pytest.mark.parametrize("name", ["ad:min", "ad min", "admin\t", "", "tab\there"])
def test_user_name_with_colon_or_white_space(name: str) -> None:
    assert only_problem({"users": [{"name": name}]}) == (
        f"private-registry:users[0].name = {name!r}: must be a non-empty name without ':', white space or control characters"
    )
    assert load_settings({"users": [{"name": re.sub(r"[:\s]", "", name) or "ok"}]}, "dev")  # the rest is fine


def test_duplicate_users() -> None:
    message = only_problem({"users": [{"name": "a"}, {"name": "b"}, {"name": "a"}]})
    assert message.startswith("private-registry:users[2].name = 'a': duplicate of users[0].name")


def test_empty_password() -> None:
    message = only_problem({"users": [{"name": "a", "password": ""}]})
    assert message == (
        "private-registry:users[0].password = <secret: an empty string>: must be a non-empty string, or left out to generate one"
    )


def test_password_over_72_bytes_is_refused_without_showing_it() -> None:
    password = "é" * 37  # 74 bytes in UTF-8, 37 characters
    message = only_problem({"users": [{"name": "a", "password": password}]})
    assert "74 bytes" in message and "at most 72 bytes" in message
    assert password not in message


def test_password_of_exactly_72_bytes_is_accepted() -> None:
    assert load_settings({"users": [{"name": "a", "password": "x" * 72}]}, "dev").users[0].password == "x" * 72


def test_password_is_not_in_the_repr() -> None:
    s = load_settings({"users": [{"name": "a", "password": "hunter2-secret"}]}, "dev")
    assert "hunter2-secret" not in repr(s)


@pytest.mark.parametrize("cost", [3, 32, -1, "10", True, 10.5])
def test_bcrypt_cost_outside_4_to_31(cost: Any) -> None:
    assert "bcryptCost" in only_problem({"bcryptCost": cost})


def test_bcrypt_cost_below_10_warns() -> None:
    s = load_settings({"bcryptCost": 5}, "dev")
    assert len(s.warnings) == 1 and "below 10" in s.warnings[0]


@pytest.mark.parametrize("port", [0, 65536, -5, "5000x"])
def test_port_outside_range(port: Any) -> None:
    assert only_problem({"port": port}).startswith(f"private-registry:port = {port!r}: must be an integer in 1..65535")


@pytest.mark.parametrize(("validity", "early"), [(30, 30), (30, 31), (1, 5)])
def test_validity_not_longer_than_renewal_window(validity: int, early: int) -> None:
    assert "must be shorter than validityDays" in only_problem({"validityDays": validity, "earlyRenewalDays": early})


def test_ca_must_outlive_the_server_certificate() -> None:
    assert "caValidityDays" in only_problem({"validityDays": 400, "caValidityDays": 365})


def test_unknown_key_algorithm() -> None:
    assert only_problem({"keyAlgorithm": "DSA"}) == "private-registry:keyAlgorithm = 'DSA': must be one of RSA, ECDSA"


def test_rsa_bits_below_2048() -> None:
    assert "rsaBits = 1024: must be an integer in 2048..16384" in only_problem({"rsaBits": 1024})


@pytest.mark.parametrize("curve", ["P224", "P521", "p256", ""])
def test_ecdsa_curve_other_than_p256_p384(curve: str) -> None:
    assert "must be P256 or P384" in only_problem({"keyAlgorithm": "ECDSA", "ecdsaCurve": curve})


def test_ecdsa_p384_is_accepted() -> None:
    s = load_settings({"keyAlgorithm": "ECDSA", "ecdsaCurve": "P384"}, "dev")
    assert (s.key_algorithm, s.ecdsa_curve) == ("ECDSA", "P384")


@pytest.mark.parametrize("name", ["-bad.example", "bad_name.example", "a..b", "x" * 64 + ".example", "exa mple"])
def test_hostname_not_a_dns_name(name: str) -> None:
    assert "hostnames[0]" in only_problem({"hostnames": [name], "ipAddresses": ["127.0.0.1"], "endpoint": "127.0.0.1:5000"})


def test_hostname_that_is_an_ip_belongs_in_ip_addresses() -> None:
    message = only_problem({"hostnames": ["10.0.0.1", "localhost"]})
    assert "is an IP address; list it under ipAddresses" in message


@pytest.mark.parametrize("ip", ["256.1.1.1", "10.0.0", "fe80::zz", "localhost"])
def test_ip_san_that_does_not_parse(ip: str) -> None:
    assert only_problem({"ipAddresses": [ip]}).startswith(f"private-registry:ipAddresses[0] = {ip!r}")


def test_no_san_at_all() -> None:
    assert "at least one valid DNS name or IP address" in " ".join(problems({"hostnames": [], "ipAddresses": []}))


@pytest.mark.parametrize("namespace", ["Default", "kube_system", "-x", "x" * 64, "a.b"])
def test_namespace_not_a_dns1123_label(namespace: str) -> None:
    assert "pullSecret.namespaces[0]" in only_problem({**CLUSTER, "pullSecret": {"namespaces": [namespace]}})


def test_duplicate_namespace() -> None:
    assert "duplicate namespace" in only_problem({**CLUSTER, "pullSecret": {"namespaces": ["a", "a"]}})


def test_pull_secret_user_must_exist() -> None:
    assert "pullSecret.user = 'ci'" in only_problem({"pullSecret": {"user": "ci"}})


@pytest.mark.parametrize("endpoint", ["registry.example:5000", "10.1.1.1:5000", "[::1]:5000"])
def test_endpoint_not_covered_by_the_sans(endpoint: str) -> None:
    assert "is not covered by the certificate's SANs" in only_problem({"endpoint": endpoint})


@pytest.mark.parametrize("endpoint", ["localhost", "localhost:", "localhost:99999", "http://localhost:5000"])
def test_malformed_endpoint(endpoint: str) -> None:
    assert "must be host:port" in only_problem({"endpoint": endpoint})


def test_endpoint_on_a_wildcard_san() -> None:
    s = load_settings({"hostnames": ["*.corp.example"], "endpoint": "registry.corp.example:443"}, "dev")
    assert s.endpoint_host == "registry.corp.example"


def test_unknown_kubernetes_mode() -> None:
    assert "kubernetes.mode = 'apply'" in only_problem({"kubernetes": {"mode": "apply"}})


def test_render_mode_defaults_to_a_folder_per_stack() -> None:
    s = load_settings({"kubernetes": {"mode": "render"}}, "staging")
    assert s.kubernetes.render_directory == "rendered/staging"


def test_render_mode_cannot_patch_service_accounts() -> None:
    message = only_problem({"kubernetes": {"mode": "render"}, "pullSecret": {"patchDefaultServiceAccount": True}})
    assert "needs kubernetes.mode = cluster" in message


def test_unknown_setting_is_named() -> None:
    assert "private-registry:prot = <a number>: is not a setting of this project; did you mean port?" in only_problem(
        {"prot": 5000}
    )


def test_unknown_object_key_is_named() -> None:
    assert "unknown key(s) namespace" in only_problem({"pullSecret": {"namespace": ["x"]}})


@pytest.mark.parametrize("value", ["yes", 1, "true"])
def test_booleans_must_be_booleans(value: Any) -> None:
    assert "must be true or false" in only_problem({"retainData": value})


@pytest.mark.parametrize("name", ["-registry", "reg istry", "", "reg/istry"])
def test_docker_names(name: str) -> None:
    assert "containerName" in only_problem({"containerName": name})


def test_floating_image_tag_warns() -> None:
    assert any("floating tag" in w for w in load_settings({"image": "registry:latest"}, "dev").warnings)
    assert any("floating tag" in w for w in load_settings({"image": "registry"}, "dev").warnings)
    assert load_settings({"image": "localhost:5000/registry:3.1.2"}, "dev").warnings == ()


def test_country_code() -> None:
    assert "two-letter" in only_problem({"subject": {"country": "Germany"}})


# --- property tests over strings ---------------------------------------------------------------


@given(st.text(min_size=1, max_size=40))
def test_any_user_name_is_accepted_or_refused_with_its_key(name: str) -> None:
    try:
        s = load_settings({"users": [{"name": name}]}, "dev")
    except SettingsError as error:
        assert all(p.startswith("private-registry:users[0].name") for p in error.problems)
    else:
        assert s.users[0].name == name and ":" not in name and not any(c.isspace() for c in name)


@given(st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=70))
def test_namespace_rule_matches_dns1123(namespace: str) -> None:
    valid = len(namespace) <= 63 and namespace[0].isalnum() and namespace[-1].isalnum()
    assert dns_label_ok(namespace) is valid


@given(st.ip_addresses())
def test_an_ip_san_covers_itself_and_its_endpoint(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = str(ip)
    endpoint = f"[{host}]:5000" if ip.version == 6 else f"{host}:5000"
    assert split_endpoint(endpoint) == (host, 5000)
    s = load_settings({"hostnames": [], "ipAddresses": [host], "endpoint": endpoint}, "dev")
    assert s.endpoint_host == host and s.subject.common_name == host  # the only SAN names the server
    # An endpoint on any other address is refused before anything is created.
    other = ipaddress.ip_address(int(ip) ^ 1)
    other_endpoint = f"[{other}]:5000" if ip.version == 6 else f"{other}:5000"
    assert "is not covered by the certificate's SANs" in only_problem(
        {"hostnames": [], "ipAddresses": [host], "endpoint": other_endpoint}
    )


@given(st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){0,3}", fullmatch=True), st.text(max_size=12))
def test_san_coverage_is_exact_for_dns_names(name: str, other: str) -> None:
    assert san_covers(name, [name], [])
    assert san_covers(name.upper(), [name], [])
    assert san_covers(name + ".", [name], [])  # the root dot is not part of the name
    assert not san_covers(name + "x", [name], [])
    assert not san_covers("x" + name, [name], [])
    assert not san_covers("a." + name, [name], []) and san_covers("a." + name, ["*." + name], [])
    other = other or "z"
    if other.lower().rstrip(".") != name:
        assert not san_covers(other, [name], [])


# Settings errors reach terminals and CI logs: no shape of mistake may print a password.
PASSWORD = "hunter2-do-not-print"


def all_problems(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev", secret_keys=secret_keys)
    return str(caught.value)


def test_forgotten_index_in_a_path_set_password_is_not_printed() -> None:
    # `pulumi config set --secret --path 'private-registry:users.password' ...` (no `[0]`)
    message = all_problems({"users": {"password": PASSWORD}}, frozenset({"users"}))
    assert PASSWORD not in message
    assert "private-registry:users = <secret: an object with keys password>" in message
    assert "index the entry: users[0].password" in message


def test_misspelled_key_holding_users_is_not_printed() -> None:
    message = all_problems({"usres": [{"name": "a", "password": PASSWORD}]})
    assert PASSWORD not in message
    assert "private-registry:usres = <a list of 1 item(s)>: is not a setting of this project; did you mean users?" in message


def test_user_entry_with_a_misspelled_key_is_not_printed() -> None:
    message = all_problems({"users": [{"name": "a", "passwd": PASSWORD}]})
    assert PASSWORD not in message
    assert "private-registry:users[0] = <secret: an object with keys name, passwd>: must be an object with keys name" in message


def test_value_of_a_secret_key_is_never_printed() -> None:
    message = all_problems({"bcryptCost": PASSWORD, "endpoint": PASSWORD}, frozenset({"bcryptCost", "endpoint"}))
    assert PASSWORD not in message
    assert "private-registry:bcryptCost = <secret: a string>: must be an integer in 4..31" in message
    assert "private-registry:endpoint = <secret: a string>: must be host:port" in message


def test_user_name_in_a_secret_users_key_is_not_printed() -> None:
    message = all_problems({"users": [{"name": PASSWORD + " x", "password": "p"}]}, frozenset({"users"}))
    assert PASSWORD not in message and "private-registry:users[0].name = <secret: a string>" in message


def test_warnings_do_not_print_secret_values() -> None:
    s = load_settings({"bcryptCost": 4, "image": "registry"}, "dev", secret_keys=frozenset({"bcryptCost", "image"}))
    assert len(s.warnings) == 2 and all("<secret: " in w for w in s.warnings)
    assert not any("= 4" in w or "'registry'" in w for w in s.warnings)


MARK = "Zq9Xw"  # in no message text: if it appears, a password was printed (str or repr keep it as is)


@given(st.text(max_size=30))
def test_no_mistake_shape_prints_the_password(tail: str) -> None:
    password = MARK + tail
    shapes: list[tuple[dict[str, Any], frozenset[str]]] = [
        ({"users": {"password": password}}, frozenset({"users"})),
        ({"users": {"password": password}}, frozenset()),
        ({"usres": [{"name": "a", "password": password}]}, frozenset({"usres"})),
        ({"usres": [{"name": "a", "password": password}]}, frozenset()),
        ({"users": [{"name": "a", "pasword": password}]}, frozenset()),
        ({"users": [{"name": "a", "password": password * 20}]}, frozenset({"users"})),
        ({"users": [{"name": "a:b", "password": password}]}, frozenset()),
        ({"users": [password]}, frozenset()),
        ({"port": password}, frozenset({"port"})),
    ]
    for raw, secret in shapes:
        assert MARK not in all_problems(raw, secret), raw.keys()


PULL = {"users": [{"name": "ci"}, {"name": "puller", "access": "pull"}], "pullPort": 5001}


def test_a_pull_port_gives_a_pull_endpoint_and_the_pull_secrets_a_pull_user() -> None:
    s = load_settings(PULL, "dev")
    assert (s.read_only, s.pull_endpoint, s.endpoint) == (ReadOnlyInstance(5001), "localhost:5001", "localhost:5000")
    assert s.pull_secret.user == "puller" and [u.access for u in s.users] == ["push", "pull"]
    assert load_settings({}, "dev").pull_endpoint == "localhost:5000"  # without one: the registry itself


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"users": [{"name": "ci"}, {"name": "puller", "access": "pull"}]},
            "private-registry:users[1].access = 'pull': needs pullPort: a pull-only user exists only beside a read-only instance",
        ),
        ({**PULL, "pullSecret": {"user": "ci"}}, "private-registry:pullSecret.user = 'ci': is a push user: with pullPort"),
        ({"pullPort": 5001}, "private-registry:pullSecret.user = None: is required with pullPort: add a user with access: pull"),
        ({**PULL, "pullPort": 5000}, "private-registry:pullPort = 5000: must differ from port (5000)"),
        ({**PULL, "pullPort": 0}, "private-registry:pullPort = 0: must be an integer in 1..65535"),
        ({"users": [{"name": "ci", "access": "read"}]}, "private-registry:users[0].access = 'read': must be push"),
    ],
)
def test_bad_access_settings_name_the_setting(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(raw, "dev")
    assert [p for p in caught.value.problems if p.startswith(expected)], caught.value.problems


def test_pull_secrets_with_a_push_user_warn_and_say_how_to_fix_it() -> None:
    cluster = {"kubernetes": {"context": "c"}, "pullSecret": {"namespaces": ["apps", "web"]}}
    (warning,) = load_settings(cluster, "dev").warnings
    assert warning.startswith("private-registry:pullSecret.user = admin can push (and delete, with deleteEnabled)")
    assert "the pull secret in apps, web" in warning and "Set pullPort and add a user with access: pull" in warning
    assert not load_settings({**cluster, **PULL}, "dev").warnings  # the pull secrets carry the pull user
    assert not load_settings({}, "dev").warnings  # no cluster: no pull secret anywhere


def test_metrics_are_off_by_default_and_a_service_monitor_needs_them_on_a_cluster() -> None:
    assert load_settings({}, "dev").metrics.enabled is False
    with pytest.raises(SettingsError, match=r"metrics\.serviceMonitor = True: needs target = kubernetes and metrics\.enabled"):
        load_settings({"metrics": {"enabled": True, "serviceMonitor": True}}, "dev")
    with pytest.raises(SettingsError, match=r"metrics\.enabled = 'yes': must be true or false"):
        load_settings({"metrics": {"enabled": "yes"}}, "dev")
    with pytest.raises(SettingsError, match=r"unknown key\(s\) port"):
        load_settings({"metrics": {"port": 9090}}, "dev")


def test_pull_secrets_with_a_push_user_are_listed_for_the_guard_unless_the_stack_allows_them() -> None:
    cluster = {"kubernetes": {"context": "c"}, "pullSecret": {"namespaces": ["apps", "web"]}}
    assert load_settings(cluster, "dev").pull_secret.push_user_namespaces == ("apps", "web")
    assert load_settings({"kubernetes": {"context": "c"}}, "dev").pull_secret.push_user_namespaces == ("default",)
    (warning,) = load_settings(cluster, "dev").warnings
    assert "or say so with pullSecret.allowPushUser: true" in warning
    allowed = load_settings({**cluster, "pullSecret": {"namespaces": ["apps", "web"], "allowPushUser": True}}, "dev")
    assert allowed.pull_secret.allow_push_user is True and allowed.pull_secret.push_user_namespaces == ()
    assert not allowed.warnings  # said in so many words
    assert load_settings({**cluster, **PULL}, "dev").pull_secret.push_user_namespaces == ()  # a pull user
    # left in place when the stack moves to a pull user (pullPort): nothing to allow, nothing refused
    moved = load_settings({**cluster, **PULL, "pullSecret": {"allowPushUser": True}}, "dev")
    assert moved.pull_secret.user == "puller" and moved.pull_secret.push_user_namespaces == ()
    assert load_settings({}, "dev").pull_secret.push_user_namespaces == ()  # no cluster, no pull secret


def test_allow_push_user_must_be_a_boolean() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"kubernetes": {"context": "c"}, "pullSecret": {"allowPushUser": "yes"}}, "dev")
    assert list(caught.value.problems) == ["private-registry:pullSecret.allowPushUser = 'yes': must be true or false"]
