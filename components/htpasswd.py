"""The registry's users: passwords and a bcrypt htpasswd file computed in Python, stable across runs.

A bcrypt hash has a random salt, so hashing on every run would change the file (and replace the
registry container) on every `pulumi up`. The file is therefore a resource of a small dynamic
provider that keeps each user's password and hash in state and hashes again only for a user whose
password (or cost) changed. Its logic lives in plain functions, tested without Pulumi; the provider
class only adapts them to the dynamic provider protocol.

A user without a configured password gets one generated once, as a resource of its own: what
depends on one user's password (a pull secret) then does not depend on the other users. Its hash
has bcrypt's lowest cost, whatever `bcryptCost` says (see GENERATED_PASSWORD_COST).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult
from pulumi.output import Unknown
from pulumi.runtime import rpc

from .generated_secret import GeneratedSecret

# This module is also imported by the dynamic provider's own Python process (the provider class is
# pickled by reference), on every preview and up: it imports only what `diff` needs. The settings
# module is needed for types only, and bcrypt only when a hash is computed (create, or a changed
# password), never on a no-op run (bench/cli_ratios.py).
if TYPE_CHECKING:
    from .settings import User

GENERATED_PASSWORD_BYTES = 24
# The bcrypt cost of a generated password's hash: bcrypt's lowest. The cost is there to slow down
# guessing a low-entropy (human) password from a stolen htpasswd file; a generated password is 24
# random bytes (192 bits), which no cost makes easier or harder to guess. It does cost every request:
# the registry checks the hash on each one (about 15 for a push and pull of a one-layer image), about
# 75 ms each at cost 10 on the 2-core test machine, more than TLS costs for a whole 100 MB transfer
# (bench/push_pull.py). Configured passwords keep `bcryptCost`.
GENERATED_PASSWORD_COST = 4


@dataclass(frozen=True)
class Entry:
    """One htpasswd user as kept in state: the password (secret) and its bcrypt hash."""

    name: str
    password: str
    hash: str


def hash_password(password: str, cost: int) -> str:
    """A `$2b$` bcrypt hash of `password` at `cost`, as the registry's htpasswd auth accepts."""
    import bcrypt  # here, not at the top: see the imports above

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost, prefix=b"2b")).decode()


def htpasswd_line(entry: Entry) -> str:
    """`name:hash`, one line of an htpasswd file."""
    return f"{entry.name}:{entry.hash}"


def hash_cost(hash_: str) -> int:
    """The cost a `$2b$<cost>$...` hash was made with."""
    return int(hash_.split("$")[2])


def wanted_cost(user: Mapping[str, Any], cost: int) -> int:
    """A user's own cost if it has one (a generated password), else the stack's `cost`."""
    return int(user.get("cost", cost))


def only_users(content: str, names: Collection[str]) -> str:
    """The lines of an htpasswd file whose user is one of `names`, in their order."""
    return "".join(line + "\n" for line in content.splitlines() if line.split(":", 1)[0] in names)


def htpasswd_content(entries: Sequence[Entry]) -> str:
    """The whole htpasswd file, one line per user in the configured order."""
    return "".join(htpasswd_line(e) + "\n" for e in entries)


def reconcile(users: Sequence[Mapping[str, Any]], cost: int, previous: Sequence[Entry] = ()) -> list[Entry]:
    """The entries for `users` (`name`, `password`, optionally their own `cost`), reusing each
    previous hash whose password and cost are unchanged: only those users are hashed again.
    """
    before = {e.name: e for e in previous}
    entries = []
    for user in users:
        name, password, user_cost = user["name"], user["password"], wanted_cost(user, cost)
        old = before.get(name)
        if old and old.password == password and hash_cost(old.hash) == user_cost:
            entries.append(old)
        else:
            entries.append(Entry(name=name, password=password, hash=hash_password(password, user_cost)))
    return entries


def needs_update(users: Sequence[Mapping[str, Any]], cost: int, previous: Sequence[Entry], previous_cost: int | None) -> bool:
    """Whether `reconcile` would change anything, computed without hashing."""
    if cost != previous_cost or [u["name"] for u in users] != [e.name for e in previous]:
        return True
    return any(
        u["password"] != e.password or wanted_cost(u, cost) != hash_cost(e.hash) for u, e in zip(users, previous, strict=True)
    )


def is_unknown(value: Any) -> bool:
    """Whether a dynamic-provider input (or anything inside it) is not known yet, as during a preview
    that adds a user whose password is generated by the same run.
    """
    if value == rpc.UNKNOWN or isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


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
        if is_unknown(news.get("users")) or is_unknown(news.get("cost")):
            # Known only once the run creates what they depend on (a generated password): a change.
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        changed = needs_update(news["users"], int(news["cost"]), entries_from_state(olds), olds.get("cost"))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        cost = int(news["cost"])
        return UpdateResult(outs=state_outputs(cost, reconcile(news["users"], cost, entries_from_state(olds))))


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
        costs = {u.name: args.cost if u.password is not None else GENERATED_PASSWORD_COST for u in args.users}
        users = pulumi.Output.all(*[pulumi.Output.all(name=n, password=p, cost=costs[n]) for n, p in self.user_passwords.items()])
        self._file = HtpasswdFile(f"{name}-file", pulumi.Output.secret(users), args.cost, child)
        self.content = pulumi.Output.secret(self._file.content)
        self.passwords = pulumi.Output.secret(pulumi.Output.all(**self.user_passwords))
        self.register_outputs({"content": self.content, "passwords": self.passwords})
