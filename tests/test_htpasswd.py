"""Unit tests: htpasswd lines verify with bcrypt, and hashing happens only when a password changes."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockResourceArgs

from components import htpasswd
from components.htpasswd import (
    GENERATED_PASSWORD_COST,
    Entry,
    HtpasswdProvider,
    hash_cost,
    htpasswd_content,
    needs_update,
    reconcile,
    state_outputs,
)
from tests import program_harness

COST = 4  # the lowest bcrypt cost keeps the tests fast; the format is the same


def test_lines_verify_with_bcrypt_checkpw() -> None:
    entries = reconcile([{"name": "admin", "password": "s3cret"}, {"name": "ci", "password": "other"}], COST)
    content = htpasswd_content(entries)
    lines = content.splitlines()
    assert content.endswith("\n") and len(lines) == 2
    for line, (user, password) in zip(lines, [("admin", "s3cret"), ("ci", "other")], strict=True):
        name, hashed = line.split(":", 1)
        assert name == user and hashed.startswith("$2b$04$")
        assert bcrypt.checkpw(password.encode(), hashed.encode())
        assert not bcrypt.checkpw(b"wrong", hashed.encode())


def test_no_hashing_when_nothing_changed() -> None:
    users = [{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}]
    first = reconcile(users, COST)
    assert not needs_update(users, COST, first, COST)
    with mock.patch.object(htpasswd, "hash_password", side_effect=AssertionError("hashed again")):
        assert reconcile(users, COST, first) == first


def test_changing_one_password_changes_only_that_line() -> None:
    before = reconcile([{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}], COST)
    changed = [{"name": "a", "password": "pa"}, {"name": "b", "password": "new"}]
    assert needs_update(changed, COST, before, COST)
    after = reconcile(changed, COST, before)
    assert after[0] == before[0]
    assert after[1].hash != before[1].hash and bcrypt.checkpw(b"new", after[1].hash.encode())


def test_adding_a_user_keeps_the_others() -> None:
    before = reconcile([{"name": "a", "password": "pa"}], COST)
    after = reconcile([{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}], COST, before)
    assert after[0] == before[0] and after[1].name == "b"


def test_cost_change_rehashes_every_configured_password() -> None:
    before = reconcile([{"name": "a", "password": "pa"}], COST)
    assert needs_update([{"name": "a", "password": "pa"}], 5, before, COST)
    after = reconcile([{"name": "a", "password": "pa"}], 5, before)
    assert after[0].hash.startswith("$2b$05$")


def test_a_generated_password_keeps_its_own_cost() -> None:
    users = [{"name": "gen", "password": "g" * 32, "cost": GENERATED_PASSWORD_COST}, {"name": "human", "password": "ph"}]
    before = reconcile(users, 5)
    assert [hash_cost(e.hash) for e in before] == [GENERATED_PASSWORD_COST, 5]
    assert not needs_update(users, 5, before, 5)
    after = reconcile(users, 6, before)  # a new bcryptCost: only the configured password is hashed again
    assert after[0] == before[0] and hash_cost(after[1].hash) == 6


def test_a_hash_at_another_cost_is_made_again() -> None:
    # A stack made before generated passwords had a cost of their own: their hashes are redone once.
    before = reconcile([{"name": "gen", "password": "g" * 32}], 5)
    users = [{"name": "gen", "password": "g" * 32, "cost": GENERATED_PASSWORD_COST}]
    assert needs_update(users, 5, before, 5)
    (entry,) = reconcile(users, 5, before)
    assert hash_cost(entry.hash) == GENERATED_PASSWORD_COST and bcrypt.checkpw(b"g" * 32, entry.hash.encode())


def test_provider_diff_ignores_the_serialized_provider() -> None:
    provider = HtpasswdProvider()
    users = [{"name": "a", "password": "pa"}]
    olds = {**state_outputs(COST, reconcile(users, COST)), "__provider": "old-code"}
    news = {"users": users, "cost": COST, "__provider": "new-code"}
    assert provider.diff("id", olds, news).changes is False
    assert provider.diff("id", olds, {**news, "users": [{"name": "a", "password": "pb"}]}).changes is True


def test_provider_update_keeps_unchanged_hashes() -> None:
    provider = HtpasswdProvider()
    users = [{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}]
    olds = provider.create({"users": users, "cost": COST}).outs
    news = {"users": [users[0], {"name": "b", "password": "changed"}], "cost": COST}
    outs = provider.update("id", olds, news).outs
    assert outs["entries"][0] == olds["entries"][0]
    assert outs["content"].splitlines()[0] == olds["content"].splitlines()[0]
    assert outs["content"].splitlines()[1] != olds["content"].splitlines()[1]
    assert [e["password"] for e in outs["entries"]] == ["pa", "changed"]


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=72).filter(lambda p: len(p.encode()) <= 72))
def test_any_password_round_trips(password: str) -> None:
    (entry,) = reconcile([{"name": "u", "password": password}], COST)
    assert isinstance(entry, Entry)
    assert bcrypt.checkpw(password.encode(), entry.hash.encode())


def test_diff_with_unknown_inputs_during_preview_is_a_change() -> None:
    # A preview that adds a user with a generated password: the users list (or one entry of it) is
    # not known yet. The engine hands it over as the UNKNOWN sentinel (keep_unknowns).
    olds = state_outputs(COST, reconcile([{"name": "a", "password": "pa"}], COST))
    partly = [{"name": "a", "password": "pa"}, {"name": "dave", "password": rpc.UNKNOWN}]
    for users in (rpc.UNKNOWN, partly, [rpc.UNKNOWN]):
        assert HtpasswdProvider().diff("id", olds, {"users": users, "cost": COST}).changes is True
    assert HtpasswdProvider().diff("id", olds, {"users": [{"name": "a", "password": "pa"}], "cost": rpc.UNKNOWN}).changes
    assert HtpasswdProvider().diff("id", olds, {"users": [{"name": "a", "password": "pa"}], "cost": COST}).changes is False


# A rotation of the pull secrets' credential: two names, the old credential kept one run.


def rotate(previous: Entry | None, password: str, user: str = "puller") -> htpasswd.PullPlan:
    return htpasswd.plan_pull(user, password, previous, lambda: htpasswd.hash_password(password, COST))


def test_a_first_plan_is_the_user_itself_and_an_unchanged_password_hashes_nothing() -> None:
    first = rotate(None, "p0")
    assert first.pull.name == "puller" and first.kept is None
    with mock.patch.object(htpasswd, "hash_password", side_effect=AssertionError("hashed again")):
        assert rotate(first.pull, "p0") == htpasswd.PullPlan(first.pull)
    assert not htpasswd.pull_changes("puller", "p0", {"pull": htpasswd.as_dict(first.pull), "kept": None})


def test_a_new_password_goes_under_the_other_name_and_the_old_credential_stays_one_run() -> None:
    first = rotate(None, "p0").pull
    second = rotate(first, "p1")
    assert second.pull.name == "puller~rotated" and second.kept == first
    assert bcrypt.checkpw(b"p1", second.pull.hash.encode())
    olds = {"pull": htpasswd.as_dict(second.pull), "kept": htpasswd.as_dict(second.kept)}
    assert not htpasswd.pull_changes("puller", "p1", olds)  # the file drops the kept one by itself
    assert htpasswd.pull_changes("puller", "p2", olds)
    settled = rotate(second.pull, "p1")
    assert settled == htpasswd.PullPlan(second.pull)  # `puller~rotated` stays what the pull secrets carry
    third = rotate(settled.pull, "p2")  # and the next rotation goes back to the user's own name
    assert third.pull.name == "puller" and third.kept == second.pull


def test_switching_the_pull_user_keeps_the_old_users_credential_one_run() -> None:
    before = rotate(None, "p0").pull
    after = rotate(before, "q0", user="puller2")
    assert after.pull.name == "puller2" and after.kept == before


def test_the_file_keeps_the_old_line_in_place_and_adds_the_rotated_name() -> None:
    configured = reconcile([{"name": "pusher", "password": "a"}, {"name": "puller", "password": "p1"}], COST)
    old = htpasswd.Entry("puller", "p0", htpasswd.hash_password("p0", COST))
    new = htpasswd.Entry("puller~rotated", "p1", htpasswd.hash_password("p1", COST))
    plan = {"pull": htpasswd.as_dict(new), "kept": htpasswd.as_dict(old)}
    names = {"pusher": "a", "puller": "p1"}
    lines = htpasswd.file_entries(configured, htpasswd.extra_entries(plan, names))
    assert [e.name for e in lines] == ["pusher", "puller", "puller~rotated"]
    assert lines[1] == old and lines[2] == new  # both credentials valid while the pull secrets switch
    # The next run: the same plan, its kept credential served once already; the old password is gone.
    lines = htpasswd.file_entries(configured, htpasswd.extra_entries(plan, names, served=plan["kept"]))
    assert lines[:2] == configured and lines[2] == new
    # A removed pull user's kept credential comes after the configured users.
    plan = {"pull": htpasswd.as_dict(configured[0]), "kept": htpasswd.as_dict(old)}
    assert [e.name for e in htpasswd.file_entries(configured[:1], htpasswd.extra_entries(plan, {"pusher": "a"}))] == [
        "pusher",
        "puller",
    ]
    # Another pull user chosen, the old one kept with its password: its own line already accepts it.
    unchanged = htpasswd.Entry("puller", "p1", htpasswd.hash_password("p1", COST))
    switched = {"pull": htpasswd.as_dict(configured[0]), "kept": htpasswd.as_dict(unchanged)}
    assert htpasswd.file_entries(configured, htpasswd.extra_entries(switched, names)) == configured


def test_the_file_changes_when_its_extra_entries_do_and_not_for_a_state_from_before() -> None:
    users = [{"name": "puller", "password": "p0"}]
    entry = reconcile(users, COST)[0]
    plain = {"pull": htpasswd.as_dict(entry), "kept": None}
    before = state_outputs(COST, [entry])  # as a stack from before pull plans had it
    assert not htpasswd.extra_changes({"users": users, "pullPlan": plain}, before)
    new = htpasswd.Entry("puller~rotated", "p1", "h")
    rotating = {"pull": htpasswd.as_dict(new), "kept": htpasswd.as_dict(entry)}
    news = {"users": [{"name": "puller", "password": "p1"}], "pullPlan": rotating}  # the user's new password
    assert htpasswd.extra_changes(news, before)
    during = htpasswd.build({**news, "cost": COST}, before)  # the rotation: both names
    assert [e["name"] for e in during["extra"]] == ["puller", "puller~rotated"]
    assert htpasswd.extra_changes(news, during)  # the next run, with the same plan: the kept one goes
    after = htpasswd.build({**news, "cost": COST}, during)
    assert [e["name"] for e in after["extra"]] == ["puller~rotated"]
    assert not htpasswd.extra_changes(news, after)  # and stays gone


def test_the_outputs_name_only_credentials_the_file_accepts_through_two_rotations() -> None:
    """Each `up` as the engine runs it (the providers' diff, then create or update), the pull user's
    password changed twice: after every `up`, every name and password of `logins` (the outputs
    `usernames` and `passwords`) is accepted by the file as written, and the user's own name is there.
    """
    credential_provider, file_provider = htpasswd.PullCredentialProvider(), HtpasswdProvider()
    credential: dict[str, Any] = {}
    file: dict[str, Any] = {}
    seen = []
    for password in ["p0", "p1", "p1", "p2", "p2"]:
        users: list[dict[str, Any]] = [
            {"name": "pusher", "password": "a", "cost": COST},
            {"name": "puller", "password": password, "cost": COST},
        ]
        news = {"user": "puller", "password": password, "cost": COST, "pull": None, "kept": None}
        if not credential:
            credential = dict(credential_provider.create(news).outs or {})
        elif credential_provider.diff("id", credential, news).changes:
            credential = dict(credential_provider.update("id", credential, news).outs or {})
        props = {"users": users, "cost": COST, "pullPlan": {"pull": credential["pull"], "kept": credential["kept"]}}
        if not file:
            file = dict(file_provider.create(props).outs or {})
        elif file_provider.diff("id", file, props).changes:
            file = dict(file_provider.update("id", file, props).outs or {})
        given = htpasswd.logins({u["name"]: u["password"] for u in users}, file["extra"])
        hashes = dict(line.split(":", 1) for line in str(file["content"]).splitlines())
        assert given.keys() == hashes.keys()
        for name, secret in given.items():
            assert bcrypt.checkpw(secret.encode(), hashes[name].encode()), f"{name} with its output password is refused"
        seen.append(given)
    assert seen == [
        {"pusher": "a", "puller": "p0"},
        {"pusher": "a", "puller": "p0", "puller~rotated": "p1"},  # the rotation: the old password still on the name
        {"pusher": "a", "puller": "p1", "puller~rotated": "p1"},
        {"pusher": "a", "puller": "p2", "puller~rotated": "p1"},  # back to the user's own name
        {"pusher": "a", "puller": "p2"},
    ]


def test_logins_of_a_state_from_before_rotations_are_the_configured_users() -> None:
    assert htpasswd.logins({"admin": "a", "ci": "c"}, None) == {"admin": "a", "ci": "c"}


class Rotating(program_harness.RegistryMocks):
    """The program's mocks, its pull credential as in the `up` that rotates: the pull user `admin`
    had the password `old` (the file keeps it under `admin`, the new one goes under `admin~rotated`).
    """

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ != "pulumi-python:dynamic/private-registry:PullCredential":
            return super().new_resource(args)
        state = {k: program_harness.unwrap_secrets(v) for k, v in args.inputs.items()}
        before = Entry("admin", "old", htpasswd.hash_password("old", COST))
        return f"{args.name}-id", htpasswd.PullCredentialProvider._outs(state, before)


IMAGE = "pulumi-python:dynamic/private-registry:Image"
ROTATING_STACK = {
    "hostnames": ["localhost"],
    "users": [{"name": "admin", "password": "new"}],
    "kubernetes": {"context": "c"},
    "pullImage": False,
    "bcryptCost": COST,
}


def test_the_stack_outputs_in_the_up_that_rotates_log_in_as_the_file_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """`usernames` and `passwords` name the old password under `admin` and the new one under
    `admin~rotated`, as the file holds them, and agree with what `dockerConfigJson` carries.
    """
    monkeypatch.setattr(program_harness, "RegistryMocks", Rotating)
    run = program_harness.evaluate(ROTATING_STACK)
    assert run.outputs["usernames"] == ["admin", "admin~rotated"]
    assert run.outputs["passwords"] == {"admin": "old", "admin~rotated": "new"}
    assert {"passwords", "dockerConfigJson"} <= run.secret_outputs and "usernames" not in run.secret_outputs
    auth = json.loads(run.outputs["dockerConfigJson"])["auths"]["localhost:5000"]
    assert run.outputs["passwords"][auth["username"]] == auth["password"] == "new"


def test_images_are_copied_with_the_password_the_push_user_logs_in_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """The push user is the pull user, rotating: the file (the writer's too) still has its old
    password under its name, so a copy in that `up` logs in with that one.
    """
    stack = {**ROTATING_STACK, "images": [{"source": "busybox:1.37"}]}
    (image,) = program_harness.evaluate(stack).of_type(IMAGE)  # no rotation: the configured password
    assert (image.inputs["username"], image.inputs["password"]) == ("admin", "new")
    monkeypatch.setattr(program_harness, "RegistryMocks", Rotating)
    (image,) = program_harness.evaluate(stack).of_type(IMAGE)
    assert (image.inputs["username"], image.inputs["password"]) == ("admin", "old") and "password" in image.secret_inputs
