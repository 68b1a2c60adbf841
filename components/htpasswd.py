"""The registry's users: passwords and a bcrypt htpasswd file computed in Python, stable across runs.

A bcrypt hash has a random salt, so hashing on every run would change the file (and replace the
registry container) on every `pulumi up`. The file is therefore a resource of a small dynamic
provider that keeps each user's password and hash in state and hashes again only for a user whose
password (or cost) changed. Its logic lives in plain functions, tested without Pulumi; the provider
class only adapts them to the dynamic provider protocol.

A user without a configured password gets one generated once, as a resource of its own: what
depends on one user's password (a pull secret) then does not depend on the other users. Its hash
has bcrypt's lowest cost, whatever `bcryptCost` says (see GENERATED_PASSWORD_COST).

A rotation of the pull secrets' credential that no pull notices (a new password of the pull user,
or another pull user): Distribution's htpasswd holds one hash per name, so the old and the new
credential can both be valid only under two names. The file keeps the credential the pull secrets
carry now, unchanged, and adds the new one under the other of two names, the user's own and
`<user>~rotated` (`plan_pull`); the pull secrets switch to it once every instance accepts it
(components/pull_gate.py), and the next run drops the old one. So after an odd number of rotations
the pull secrets carry `<user>~rotated` (with the user's password), after an even number `<user>`.
Between the run that rotates and the next, the user's own name still has the old password: the
outputs `usernames` and `passwords` therefore list the file's names and passwords (`logins`), not
the configured ones, so every pair they give logs in at every moment.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from .generated_secret import GeneratedSecret
from .names import ROTATED_SUFFIX
from .ordering import is_unknown

# This module is also imported by the dynamic provider's own Python process (the provider class is
# pickled by reference), on every preview and up: it imports only what `diff` needs. The settings
# module is needed for types only, and bcrypt only when a hash is computed (create, or a changed
# password), never on a no-op run (bench/cli_ratios.py).
if TYPE_CHECKING:
    from .model import User

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


def rotated_name(user: str) -> str:
    """The other name a pull user's credential takes in a rotation."""
    return user + ROTATED_SUFFIX


def user_of(name: str) -> str:
    """The user a name of the htpasswd file belongs to (`<user>~rotated` is `<user>`)."""
    return name.removesuffix(ROTATED_SUFFIX)


@dataclass(frozen=True)
class PullPlan:
    """What the pull secrets carry after this run (`pull`), and the credential they carried before,
    kept valid in the file until the next run (`kept`; None when nothing rotates).
    """

    pull: Entry
    kept: Entry | None = None


def next_pull_name(user: str, password: str, previous: Entry | None) -> tuple[str, bool]:
    """The name the pull secrets carry after this run, and whether that is a rotation (a new
    credential beside the one they carry now). `previous`: their credential as of the last run.
    """
    if previous is None or (user_of(previous.name) == user and previous.password == password):
        return (user if previous is None else previous.name), False
    return (rotated_name(user) if previous.name == user else user), True


def plan_pull(user: str, password: str, previous: Entry | None, hash_new: Callable[[], str]) -> PullPlan:
    """The pull credential for `user`'s `password`. Unchanged: the same as before (no hashing).
    Changed: the new password under the name the pull secrets do not carry now, the old one kept.
    """
    name, rotates = next_pull_name(user, password, previous)
    if not rotates and previous is not None:
        return PullPlan(previous)
    return PullPlan(Entry(name=name, password=password, hash=hash_new()), previous if rotates else None)


def extra_entries(plan: Mapping[str, Any] | None, configured: Mapping[str, str], served: Any = None) -> list[Entry]:
    """What the file holds besides the configured users' own lines (a pull plan's outputs; `configured`:
    name -> password): the kept credential (in place of its user's line) in the run that rotates
    only, not when the last run `served` it already nor when its user's own line accepts it anyway
    (another pull user chosen, this one unchanged), and `<user>~rotated` while the pull secrets carry it.
    """
    if not plan:
        return []
    kept = plan.get("kept")
    extra = []
    if kept and kept != served and configured.get(kept["name"]) != kept["password"]:
        extra.append(Entry(**kept))
    pull = Entry(**plan["pull"])
    if pull.name not in configured:
        extra.append(pull)
    return extra


def file_entries(configured: Sequence[Entry], extra: Sequence[Entry]) -> list[Entry]:
    """The lines of the file: the configured users in order, an extra entry in place of its user's
    line, the other extra entries after them.
    """
    by_name = {e.name: e for e in extra}
    lines = [by_name.pop(e.name, e) for e in configured]
    return lines + list(by_name.values())


def logins(configured: Mapping[str, str], extra: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """Each name the file accepts now -> its password, in the file's order (`file_entries`): the
    configured users (`configured`: name -> password), a kept credential in place of its user's (the
    old password, valid until the next run) and `<user>~rotated` while the file holds it. `extra`:
    the file's extra entries as its state has them (None for a state from before rotations).
    """
    lines = file_entries(
        [Entry(name, password, "") for name, password in configured.items()],
        [Entry(e["name"], e["password"], "") for e in extra or []],
    )
    return {e.name: e.password for e in lines}


def pull_changes(user: str, password: str, olds: Mapping[str, Any]) -> bool:
    """Whether a rotation starts (computed without hashing). The credential it keeps stays in this
    resource's state; the file drops it on the next run by itself (`extra_entries`).
    """
    previous = Entry(**olds["pull"]) if olds.get("pull") else None
    return next_pull_name(user, password, previous)[1]


class PullCredentialProvider(ResourceProvider):
    """Dynamic provider of `PullCredential`: the pull plan of one user (module docstring)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"pull-credential-{secrets.token_hex(8)}", outs=self._outs(props, None))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if is_unknown(news.get("password")):
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        changed = olds.get("user") != news["user"] or pull_changes(news["user"], news["password"], olds)
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._outs(news, Entry(**olds["pull"]) if olds.get("pull") else None))

    @staticmethod
    def _outs(props: Mapping[str, Any], previous: Entry | None) -> dict[str, Any]:
        user, password, cost = props["user"], props["password"], int(props["cost"])
        plan = plan_pull(user, password, previous, lambda: hash_password(password, cost))
        # No kept credential is "", not None: a null output is left out of the state, and a preview
        # takes a missing output for an unknown one (every preview would then plan the file's update).
        return {**props, "pull": as_dict(plan.pull), "kept": as_dict(plan.kept) or ""}


class PullCredential(Resource, module="private-registry", name="PullCredential"):
    """The credential the pull secrets carry (`pull`) and the one kept valid beside it (`kept`)."""

    pull: pulumi.Output[dict[str, str]]
    kept: pulumi.Output[dict[str, str] | str]  # "" when nothing is kept

    def __init__(self, name: str, user: str, password: pulumi.Input[str], cost: int, opts: pulumi.ResourceOptions) -> None:
        props = {"user": user, "password": pulumi.Output.secret(password), "cost": cost, "pull": None, "kept": None}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password", "pull", "kept"])
        super().__init__(PullCredentialProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))


def entries_from_state(outs: Mapping[str, Any]) -> list[Entry]:
    """The entries a previous create or update stored in its outputs."""
    return [Entry(name=e["name"], password=e["password"], hash=e["hash"]) for e in outs.get("entries") or []]


def as_dict(entry: Entry | None) -> dict[str, str] | None:
    return None if entry is None else {"name": entry.name, "password": entry.password, "hash": entry.hash}


def state_outputs(cost: int, entries: Sequence[Entry], extra: Sequence[Entry] = ()) -> dict[str, Any]:
    """The provider's outputs: the cost, entries and extra entries (for the next diff) and the file."""
    return {
        "cost": cost,
        "entries": [as_dict(e) for e in entries],
        "extra": [as_dict(e) for e in extra],
        "content": htpasswd_content(file_entries(entries, extra)),
    }


def served(olds: Mapping[str, Any]) -> Any:
    """The kept credential the last run wrote into the file, if any."""
    return (olds.get("pullPlan") or {}).get("kept") or None


def build(props: Mapping[str, Any], olds: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of a create (`olds` empty) or update: the configured entries and the pull plan's."""
    users, cost, plan = props["users"], int(props["cost"]), props.get("pullPlan")
    extra = extra_entries(plan, {u["name"]: u["password"] for u in users}, served(olds))
    return {**state_outputs(cost, reconcile(users, cost, entries_from_state(olds)), extra), "pullPlan": plan}


def extra_changes(news: Mapping[str, Any], olds: Mapping[str, Any]) -> bool:
    """Whether the extra entries change (names and passwords; a state from before has none)."""
    wanted = extra_entries(news.get("pullPlan"), {u["name"]: u["password"] for u in news["users"]}, served(olds))
    had = [Entry(**e) for e in olds.get("extra") or []]
    return [(e.name, e.password) for e in wanted] != [(e.name, e.password) for e in had]


class HtpasswdProvider(ResourceProvider):
    """Dynamic provider for `HtpasswdFile`; see the module docstring for why it exists."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"htpasswd-{secrets.token_hex(8)}", outs=build(props, {}))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Only the users, the cost and the pull plan matter: the serialized provider (`__provider`)
        # changes with every code change and must not turn into an update.
        if is_unknown(news.get("users")) or is_unknown(news.get("cost")) or is_unknown(news.get("pullPlan")):
            # Known only once the run creates what they depend on (a generated password): a change.
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        users = news["users"]
        changed = needs_update(users, int(news["cost"]), entries_from_state(olds), olds.get("cost")) or extra_changes(news, olds)
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=build(news, olds))


SECRET_OUTPUTS = ["entries", "extra", "pullPlan", "content"]


class HtpasswdFile(Resource):
    """The htpasswd file as a resource; `content` and `entries` are secret outputs."""

    content: pulumi.Output[str]
    extra: pulumi.Output[list[dict[str, str]] | None]  # what the file holds besides the configured users

    def __init__(
        self,
        name: str,
        users: pulumi.Input[list[dict[str, Any]]],
        cost: int,
        opts: pulumi.ResourceOptions,
        pull_plan: pulumi.Input[dict[str, Any]] | None = None,
    ) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        # A pull plan only when the stack switches pull secrets itself; without one the inputs stay as
        # they were (stacks without pull secrets keep their state as it is).
        rotation = {"pullPlan": pull_plan} if pull_plan is not None else {}
        super().__init__(
            HtpasswdProvider(),
            name,
            {"users": users, "cost": cost, **rotation, "entries": None, "extra": None, "content": None},
            opts,
        )


@dataclass(frozen=True)
class HtpasswdArgs:
    """Users (password from config, or None to generate one) and the bcrypt cost."""

    users: Sequence[User]
    cost: int
    # The user whose credential the pull secrets carry when the stack switches them itself (pull
    # secret namespaces): its password changes rotate (module docstring). None: no pull secrets.
    pull_user: str | None = None


class Htpasswd(pulumi.ComponentResource):
    """The registry's users: each user's password and a stable htpasswd file (all secret)."""

    content: pulumi.Output[str]
    passwords: pulumi.Output[dict[str, str]]  # each name the file accepts -> its password (`logins`)
    usernames: pulumi.Output[list[str]]  # those names, in the file's order
    user_passwords: dict[str, pulumi.Output[str]]
    pull_username: pulumi.Output[str]  # what the pull secrets carry: the pull user's name or `<user>~rotated`
    pull_password: pulumi.Output[str]

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
        plan: pulumi.Output[dict[str, Any]] | None = None
        if args.pull_user is not None:
            user = args.pull_user
            credential = PullCredential(f"{name}-pull-credential", user, self.user_passwords[user], costs[user], child)
            plan = pulumi.Output.secret(pulumi.Output.all(pull=credential.pull, kept=credential.kept))
            # The name is not a secret itself; it comes out of a secret output, so it is unwrapped here.
            self.pull_username = pulumi.Output.unsecret(credential.pull.apply(lambda p: p["name"]))
            self.pull_password = pulumi.Output.secret(credential.pull.apply(lambda p: p["password"]))
        self._file = HtpasswdFile(f"{name}-file", pulumi.Output.secret(users), args.cost, child, plan)
        self.content = pulumi.Output.secret(self._file.content)
        configured = pulumi.Output.all(**self.user_passwords)
        self._rotates = plan is not None
        if plan is None:  # no rotation: the file holds the configured users only
            self.passwords = pulumi.Output.secret(configured)
            self.usernames = pulumi.Output.from_input([u.name for u in args.users])
        else:
            accepted = pulumi.Output.all(configured, self._file.extra).apply(lambda both: logins(both[0], both[1]))
            self.passwords = pulumi.Output.secret(accepted)
            # The names are not secrets themselves; they come out of a secret output, so they are unwrapped here.
            self.usernames = pulumi.Output.unsecret(accepted.apply(list))
        self.register_outputs({"content": self.content, "passwords": self.passwords})

    def login_password(self, name: str) -> pulumi.Output[str]:
        """What the configured user `name` logs in with now: its password, or while a rotation keeps
        its old one under its name (`logins`), that one (a push user that is the pull user, copying images).
        """
        if not self._rotates:
            return self.user_passwords[name]
        return pulumi.Output.secret(self.passwords.apply(lambda accepted: accepted[name]))
