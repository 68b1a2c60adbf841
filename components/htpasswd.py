"""The registry's users: passwords and a bcrypt htpasswd file computed in Python, stable across runs.

A bcrypt hash has a random salt, so hashing on every run would change the file (and replace the
registry container) on every `pulumi up`. The file is therefore a resource of a small dynamic
provider that keeps each user's password and hash in state and hashes again only for a user whose
password changed (or when the cost changes). Its logic lives in plain functions, tested without
Pulumi; the provider class only adapts them to the dynamic provider protocol.

A user without a configured password gets one generated once, as a resource of its own: what
depends on one user's password (a pull secret) then does not depend on the other users.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bcrypt
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.generated_secret import GeneratedSecret
from components.settings import User

GENERATED_PASSWORD_BYTES = 24


@dataclass(frozen=True)
class Entry:
    """One htpasswd user as kept in state: the password (secret) and its bcrypt hash."""

    name: str
    password: str
    hash: str


def hash_password(password: str, cost: int) -> str:
    """A `$2b$` bcrypt hash of `password` at `cost`, as the registry's htpasswd auth accepts."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2b")).decode()


def htpasswd_line(entry: Entry) -> str:
    """`name:hash`, one line of an htpasswd file."""
    return f"{entry.name}:{entry.hash}"


def htpasswd_content(entries: Sequence[Entry]) -> str:
    """The whole htpasswd file, one line per user in the configured order."""
    return "".join(htpasswd_line(e) + "\n" for e in entries)


def reconcile(
    users: Sequence[Mapping[str, Any]],
    cost: int,
    previous: Sequence[Entry] = (),
    previous_cost: int | None = None,
) -> list[Entry]:
    """The entries for `users` (`name`, `password`), reusing each previous hash whose password and
    cost are unchanged: only users whose password (or the cost) changed are hashed again.
    """
    before = {e.name: e for e in previous}
    entries = []
    for user in users:
        name, password = user["name"], user["password"]
        old = before.get(name)
        if old and old.password == password and previous_cost == cost:
            entries.append(old)
        else:
            entries.append(Entry(name=name, password=password, hash=hash_password(password, cost)))
    return entries


def needs_update(users: Sequence[Mapping[str, Any]], cost: int, previous: Sequence[Entry], previous_cost: int | None) -> bool:
    """Whether `reconcile` would change anything, computed without hashing."""
    if cost != previous_cost or [u["name"] for u in users] != [e.name for e in previous]:
        return True
    return any(u["password"] != e.password for u, e in zip(users, previous, strict=True))


def entries_from_state(outs: Mapping[str, Any]) -> list[Entry]:
    """The entries a previous create or update stored in its outputs."""
    return [Entry(name=e["name"], password=e["password"], hash=e["hash"]) for e in outs.get("entries") or []]


def state_outputs(cost: int, entries: Sequence[Entry]) -> dict[str, Any]:
    """The provider's outputs: the cost and entries (for the next diff) and the file content."""
    return {
        "cost": cost,
        "entries": [{"name": e.name, "password": e.password, "hash": e.hash} for e in entries],
        "content": htpasswd_content(entries),
    }


class HtpasswdProvider(ResourceProvider):
    """Dynamic provider for `HtpasswdFile`; see the module docstring for why it exists."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        users, cost = props["users"], int(props["cost"])
        return CreateResult(id_=f"htpasswd-{secrets.token_hex(8)}", outs=state_outputs(cost, reconcile(users, cost)))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only the users and the cost matter: the serialized provider (`__provider`) changes with
        # every code change and must not turn into an update.
        changed = needs_update(news["users"], int(news["cost"]), entries_from_state(olds), olds.get("cost"))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        cost = int(news["cost"])
        return UpdateResult(outs=state_outputs(cost, reconcile(news["users"], cost, entries_from_state(olds), olds.get("cost"))))


SECRET_OUTPUTS = ["entries", "content"]


class HtpasswdFile(Resource):
    """The htpasswd file as a resource; `content` and `entries` are secret outputs."""

    content: pulumi.Output[str]

    def __init__(self, name: str, users: pulumi.Input[list[dict[str, Any]]], cost: int, opts: pulumi.ResourceOptions) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(
            HtpasswdProvider(),
            name,
            {"users": users, "cost": cost, "entries": None, "content": None},
            opts,
        )


@dataclass(frozen=True)
class HtpasswdArgs:
    """Users (password from config, or None to generate one) and the bcrypt cost."""

    users: Sequence[User]
    cost: int


class Htpasswd(pulumi.ComponentResource):
    """The registry's users: each user's password and a stable htpasswd file (all secret)."""

    content: pulumi.Output[str]
    passwords: pulumi.Output[dict[str, str]]
    user_passwords: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: HtpasswdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("private-registry:index:Htpasswd", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.user_passwords = {
            u.name: pulumi.Output.secret(u.password)
            if u.password is not None
            else GeneratedSecret(f"{name}-{u.name}-password", GENERATED_PASSWORD_BYTES, child).value
            for u in args.users
        }
        users = pulumi.Output.all(*[pulumi.Output.all(name=n, password=p) for n, p in self.user_passwords.items()])
        self._file = HtpasswdFile(f"{name}-file", pulumi.Output.secret(users), args.cost, child)
        self.content = pulumi.Output.secret(self._file.content)
        self.passwords = pulumi.Output.secret(pulumi.Output.all(**self.user_passwords))
        self.register_outputs({"content": self.content, "passwords": self.passwords})
