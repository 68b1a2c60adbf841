"""Which Pulumi backend a shell will use, decided the way the Pulumi CLI decides it.

scripts/pulumi-env.sh runs this (with the system `python3`: the project's venv may not exist yet)
and acts on its answer. The CLI takes the first of: a non-empty `PULUMI_BACKEND_URL`; `backend.url`
in the project's Pulumi.yaml; the `current` backend of a `pulumi login` (credentials.json in
PULUMI_HOME, else ~/.pulumi); and without any of them Pulumi Cloud, which `PULUMI_ACCESS_TOKEN`
authenticates. Only when the user named no backend in any of those ways does the project put its
own file backend in the checkout and a generated passphrase; a user who named one keeps it and
keeps its secrets provider (passphrase, KMS, ...), so nothing here may demand a passphrase then.

An empty variable counts as unset, as it does for the CLI: a GitHub workflow whose secret is absent
still sets the variable, to "". An empty `PULUMI_CONFIG_PASSPHRASE` is dropped on the user's backend
(a KMS stack never reads it, and a passphrase stack then gets the CLI's own "passphrase must be set"
instead of silently encrypting with ""); on the project's default backend, where the passphrase is
what protects the secrets, it is refused.

Prints `key=value` lines for the shell: source, backend, default (1: the project's default backend),
unset (variables to drop) and error (a message; the shell stops).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The ways a user names a backend, in the CLI's order of precedence.
SOURCES = ("PULUMI_BACKEND_URL", "backend.url", "login", "PULUMI_ACCESS_TOKEN")  # the login: credentials.json `current`
CLOUD = "https://api.pulumi.com"
PASSPHRASE_VARS = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


@dataclass(frozen=True)
class Decision:
    """What pulumi-env.sh does: the backend and where it came from, variables to drop, or an error."""

    source: str  # one of SOURCES, or "none" (the project's default)
    backend: str  # the URL the CLI will use
    default: bool  # the checkout's file backend with the generated passphrase
    unset: tuple[str, ...] = field(default=())
    error: str = ""


def decide(env: Mapping[str, str], project_backend: str, login: str, default_url: str) -> Decision:
    """The backend the CLI will use and what the environment must lose for it.

    `project_backend` is Pulumi.yaml's backend.url ("" when none), `login` the `current` of
    credentials.json ("" when not logged in), `default_url` the checkout's file backend. A
    PULUMI_BACKEND_URL equal to `default_url` is the project's default set by an earlier sourcing
    of pulumi-env.sh in the same shell, not the user's own.
    """
    empty = tuple(name for name in ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", *PASSPHRASE_VARS) if env.get(name) == "")
    url = env.get("PULUMI_BACKEND_URL", "")
    if url and url != default_url:
        source, backend = SOURCES[0], url
    elif project_backend:
        source, backend = SOURCES[1], project_backend
    elif login:
        source, backend = SOURCES[2], login
    elif env.get("PULUMI_ACCESS_TOKEN"):
        source, backend = SOURCES[3], CLOUD
    else:
        if "PULUMI_CONFIG_PASSPHRASE" in empty:
            return Decision(
                "none",
                default_url,
                True,
                error=(
                    "PULUMI_CONFIG_PASSPHRASE is set but empty, and the project's default backend encrypts its "
                    "secrets with the passphrase: an empty passphrase is refused (set one, or unset the variable "
                    "to use the generated .secrets/passphrase)"
                ),
            )
        return Decision("none", default_url, True, unset=tuple(n for n in empty if n != "PULUMI_BACKEND_URL"))
    return Decision(source, backend, False, unset=empty)


def project_backend_url(project_dir: Path) -> str:
    """`backend.url` of the project file (Pulumi.yaml or Pulumi.yml) in `project_dir`, "" when none."""
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_dir / name
        if path.is_file():
            return backend_url_of(path.read_text())
    return ""


def backend_url_of(text: str) -> str:
    """`backend.url` of a project file's text; PyYAML when the system Python has it, else the block form."""
    try:
        import yaml
    except ImportError:
        return block_backend_url(text)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return ""
    backend = document.get("backend") if isinstance(document, dict) else None
    url = backend.get("url") if isinstance(backend, dict) else None
    return url if isinstance(url, str) else ""


def block_backend_url(text: str) -> str:
    """The block form `backend:` / indented `url: ...` without a YAML library (how `pulumi new` writes it)."""
    inside = False
    for line in text.splitlines():
        content = line.split(" #", 1)[0].rstrip()
        if not content.strip() or content.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = content.startswith("backend:")
            continue
        key, _, value = content.strip().partition(":")
        if inside and key == "url":
            return value.strip().strip("'\"")
    return ""


def current_login(pulumi_home: Path) -> str:
    """The backend of the user's `pulumi login` (credentials.json `current`), "" when none or unreadable."""
    try:
        current = json.loads((pulumi_home / "credentials.json").read_text()).get("current")
    except (OSError, ValueError, AttributeError):
        return ""
    return current if isinstance(current, str) else ""


def main(env: Mapping[str, str], project_dir: Path, default_url: str) -> int:
    home = Path(env.get("PULUMI_HOME") or Path(env.get("HOME", "~")).expanduser() / ".pulumi")
    decision = decide(env, project_backend_url(project_dir), current_login(home), default_url)
    print(f"source={decision.source}")
    print(f"backend={decision.backend}")
    print(f"default={int(decision.default)}")
    print(f"unset={' '.join(decision.unset)}")
    print(f"error={decision.error}")
    return 0


if __name__ == "__main__":
    import os

    if len(sys.argv) != 3:
        sys.exit("usage: pulumi_backend.py PROJECT_DIR DEFAULT_BACKEND_URL")
    sys.exit(main(os.environ, Path(sys.argv[1]), sys.argv[2]))
