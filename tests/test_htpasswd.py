"""Unit tests: htpasswd lines verify with bcrypt, and hashing happens only when a password changes."""

from __future__ import annotations

from unittest import mock

import bcrypt
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc

from components import htpasswd
from components.htpasswd import Entry, HtpasswdProvider, htpasswd_content, needs_update, reconcile, state_outputs

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
        assert reconcile(users, COST, first, COST) == first


def test_changing_one_password_changes_only_that_line() -> None:
    before = reconcile([{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}], COST)
    changed = [{"name": "a", "password": "pa"}, {"name": "b", "password": "new"}]
    assert needs_update(changed, COST, before, COST)
    after = reconcile(changed, COST, before, COST)
    assert after[0] == before[0]
    assert after[1].hash != before[1].hash and bcrypt.checkpw(b"new", after[1].hash.encode())


def test_adding_a_user_keeps_the_others() -> None:
    before = reconcile([{"name": "a", "password": "pa"}], COST)
    after = reconcile([{"name": "a", "password": "pa"}, {"name": "b", "password": "pb"}], COST, before, COST)
    assert after[0] == before[0] and after[1].name == "b"


def test_cost_change_rehashes_everyone() -> None:
    before = reconcile([{"name": "a", "password": "pa"}], COST)
    assert needs_update([{"name": "a", "password": "pa"}], 5, before, COST)
    after = reconcile([{"name": "a", "password": "pa"}], 5, before, COST)
    assert after[0].hash.startswith("$2b$05$")


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
