"""Whether a `pulumi up` holds a stack right now, as its backend shows it; and gc.sh's own lock.

    stack_lock.py take BACKEND_URL PROJECT_DIR STACK   # prints the key of the lock it took ("" for none)
    stack_lock.py release BACKEND_URL KEY

`scripts/gc.sh` stops the registry and rewrites its storage: a `pulumi up` running meanwhile would
see a stopped container (and start or replace it), or start a new one on the storage being swept.
So gc refuses while the stack is held, and holds it itself while it runs, through the backend's
own lock, which every `pulumi up`, `refresh`, `destroy` and `stack import` takes:

- DIY backends (`file://`, `s3://`): the CLI writes `<backend>/.pulumi/locks/organization/<project>/
  <stack>/<id>.json` (`.pulumi/locks/<stack>/` in the legacy layout) when it starts and deletes it
  when it ends; it refuses to start while another file is there (a killed CLI's file stays until
  `pulumi cancel`). gc writes one of the same form and checks again afterwards, as the CLI does, so
  of two that start at once at least one backs off; a `pulumi up` meanwhile is refused with the
  CLI's own message naming gc.sh.
- Pulumi Cloud (`https://`): the service holds the lock; `pulumi stack ls --json` (on stdin) says
  `updateInProgress`. gc checks, but cannot hold it.
- Other DIY schemes (`gs://`, `azblob://`, `postgres://`): not readable here; gc refuses unless
  told `--no-lock-check`.

Exit 0 (taken or released), 3 (the stack is held: the message names each lock), 4 (cannot tell),
2 (usage). The decisions are plain functions; a `Bucket` is where the backend keeps its files.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import re
import socket
import sys
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

HELD, UNKNOWN = 3, 4
LOCKS = ".pulumi/locks"


class StackHeld(Exception):
    """A pulumi operation holds the stack."""


class CannotTell(Exception):
    """The backend's locks cannot be read from here."""


class Bucket(Protocol):
    """Where a DIY backend keeps its files, by key (`.pulumi/...`)."""

    def keys(self, prefix: str) -> list[str]: ...
    def read(self, key: str) -> bytes: ...
    def write(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class FileBucket:
    """A `file://` backend: a folder."""

    root: Path

    def keys(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        return sorted(f"{prefix}{p.name}" for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


@dataclass(frozen=True)
class S3Bucket:
    """An `s3://` backend through boto3 (the project's venv has it), with the URL's query settings."""

    client: Any
    bucket: str
    prefix: str

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        found = [o["Key"] for page in pages for o in page.get("Contents", [])]
        return sorted(k.removeprefix(self.prefix) for k in found if "/" not in k.removeprefix(self.prefix + prefix))

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read())

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def s3_settings(url: str) -> tuple[str, str, str | None, dict[str, Any]]:
    """Bucket, key prefix, profile and boto3 client arguments of an `s3://` backend URL (gocloud's query keys)."""
    parts = urllib.parse.urlsplit(url)
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
    yes = ("true", "1")
    path_style = query.get("use_path_style", query.get("s3ForcePathStyle", "")).lower() in yes
    plain = query.get("disable_https", query.get("disableSSL", "")).lower() in yes
    endpoint = query.get("endpoint", "")
    if endpoint and "://" not in endpoint:
        endpoint = f"{'http' if plain else 'https'}://{endpoint}"
    kwargs: dict[str, Any] = {"region_name": query.get("region") or None, "endpoint_url": endpoint or None}
    if path_style:
        kwargs["config"] = {"s3": {"addressing_style": "path"}}
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else "", query.get("profile") or None, kwargs


def bucket_of(url: str) -> Bucket:
    """The `Bucket` of a DIY backend URL; CannotTell for a scheme this script does not read."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "file":
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path) if not url.startswith("file://~") else url[7:]
        return FileBucket(Path(path).expanduser())
    if scheme == "s3":
        try:
            import boto3
            import botocore.config
        except ImportError:
            raise CannotTell("boto3 is not installed (bash scripts/setup-python.sh installs it into venv/)") from None
        name, prefix, profile, kwargs = s3_settings(url)
        if "config" in kwargs:
            kwargs["config"] = botocore.config.Config(**kwargs["config"])
        return S3Bucket(boto3.session.Session(profile_name=profile).client("s3", **kwargs), name, prefix)
    raise CannotTell(f"the locks of a {scheme or 'this'}:// backend cannot be read here (file:// and s3:// can)")


def lock_folders(project: str, stack: str) -> list[str]:
    """The lock folders the CLI may use for `stack` of `project` (both layouts).
    `stack` may be fully qualified (`organization/<project>/<stack>`)."""
    parts = stack.split("/")
    if len(parts) == 3:
        project, stack = parts[1], parts[2]
    elif len(parts) != 1:
        raise ValueError(f"stack {stack!r}: a name, or organization/<project>/<name>")
    return [f"{LOCKS}/organization/{project}/{stack}/", f"{LOCKS}/{stack}/"]


def describe(key: str, content: bytes) -> str:
    """One lock file as the CLI describes it: where, by whom, since when."""
    try:
        lock = json.loads(content)
        return f"{key}: created by {lock['username']}@{lock['hostname']} (pid {lock['pid']}) at {lock['timestamp']}"
    except (ValueError, KeyError, TypeError):
        return f"{key}: (unreadable)"


def held_by(bucket: Bucket, folders: Iterable[str], own: str = "") -> list[str]:
    """Each lock of the stack other than `own`, described."""
    return [describe(k, bucket.read(k)) for folder in folders for k in bucket.keys(folder) if k != own]


def refusal(stack: str, locks: list[str]) -> str:
    """What gc says when the stack is held: who holds it, that nothing changed, what to do."""
    listed = "".join(f"\n  {line}" for line in locks)
    return (
        f"stack '{stack}' is locked by a running pulumi operation (up, refresh, destroy or import): {listed}\n"
        "nothing was changed. Run gc.sh again once it has finished; a lock left behind by a killed pulumi "
        f"goes with `pulumi cancel --stack {stack}`"
    )


def lock_content(now: datetime.datetime) -> bytes:
    """A lock file as the CLI writes one (pid, username, hostname, timestamp), naming gc.sh."""
    who = f"{getpass.getuser()} (private-registry scripts/gc.sh)"
    stamp = now.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"pid": os.getppid(), "username": who, "hostname": socket.gethostname(), "timestamp": stamp}).encode()


def take(bucket: Bucket, folders: list[str], stack: str, now: datetime.datetime) -> str:
    """Write gc's lock into the stack's (current layout) folder when no other is there, and check
    again after writing (two that start at once both see the other: both back off). Its key."""
    if locks := held_by(bucket, folders):
        raise StackHeld(refusal(stack, locks))
    key = f"{folders[0]}{uuid.uuid4()}.json"
    bucket.write(key, lock_content(now))
    if locks := held_by(bucket, folders, own=key):
        bucket.delete(key)
        raise StackHeld(refusal(stack, locks))
    return key


def cloud_in_progress(stack_list: str, stack: str) -> bool:
    """Whether `pulumi stack ls --json` (Pulumi Cloud) says an update of `stack` is in progress."""
    name = stack.split("/")[-1]
    return any(s.get("name", "").split("/")[-1] == name and s.get("updateInProgress") for s in json.loads(stack_list or "[]"))


def project_name(project_dir: Path) -> str:
    """`name:` of the project file in `project_dir`."""
    for file in ("Pulumi.yaml", "Pulumi.yml"):
        if (project_dir / file).is_file():
            found = re.search(r"^name:\s*['\"]?([^'\"\s#]+)", (project_dir / file).read_text(), re.MULTILINE)
            if found:
                return found.group(1)
    raise CannotTell(f"no project name in {project_dir}/Pulumi.yaml")


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 4 and argv[0] == "take":
            url, project_dir, stack = argv[1:]
            if url.startswith(("https://", "http://")):
                if cloud_in_progress(sys.stdin.read(), stack):
                    raise StackHeld(refusal(stack, [f"{url}: an update is in progress"]))
                print("")
                return 0
            print(take(bucket_of(url), lock_folders(project_name(Path(project_dir)), stack), stack, datetime.datetime.now()))
            return 0
        if len(argv) == 3 and argv[0] == "release":
            if argv[2]:
                bucket_of(argv[1]).delete(argv[2])
            return 0
    except StackHeld as held:
        print(f"gc: ERROR: {held}", file=sys.stderr)
        return HELD
    except Exception as err:  # CannotTell, a bad name, OSError, and boto3's many (no credentials, no endpoint)
        print(f"gc: could not read the stack's locks on its backend: {err}", file=sys.stderr)
        return UNKNOWN
    print("usage: stack_lock.py take BACKEND_URL PROJECT_DIR STACK | release BACKEND_URL KEY", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
