"""The environment a child process gets: only what its tool reads, never the stack's secrets.

Why: `pulumi up`, `scripts/gc.sh` and `scripts/status.sh` run with the Pulumi environment
(`PULUMI_CONFIG_PASSPHRASE`, `PULUMI_ACCESS_TOKEN`, the backend's `AWS_SECRET_ACCESS_KEY`, a CI's
`GITHUB_TOKEN`, ...), and every process they start inherits it unless told otherwise: a `docker` or
`kubectl` (or a kubeconfig's credential plugin, a Docker credential helper) that logs its
environment, crashes with a core dump or is not the binary the user thinks would hold the key to
every secret of the stack. So each child gets an allow-list per tool, in this one place:

- `docker`: the Docker CLI's own variables (host, context, config, TLS folder), `SSH_AUTH_SOCK` for an
  `ssh://` host; no cloud key (the collection pulls nothing).
- `kubectl`: `KUBECONFIG` and `KUBECTL_*`, and the cloud identity a kubeconfig's `exec` credential
  plugin reads (`aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`): the kubeconfig is the
  user's, and it may need them to reach the cluster at all.
- `plain` (python3, awk, date, ...): the basics only.

All of them keep the basics (PATH, HOME, locale, time zone, temporary folder, proxies, the system's
CA files). Nothing starting with `PULUMI_` is in any list. Standard library only: the shell scripts
run it with the system's python3 (`python3 components/child_env.py drop docker` prints, one a line,
the names the current environment has that `docker` must not get; the script unsets them).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

BASICS = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TERM", "NO_COLOR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
)  # fmt: skip
# What a kubeconfig's exec credential plugin may read to log in to the cluster's cloud.
CLOUD_IDENTITY = ("AWS_*", "CLOUDSDK_*", "GOOGLE_APPLICATION_CREDENTIALS", "USE_GKE_GCLOUD_AUTH_PLUGIN", "AZURE_*", "AAD_*")
TOOLS: dict[str, tuple[str, ...]] = {
    "plain": BASICS,
    "docker": (*BASICS, "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
               "DOCKER_API_VERSION", "SSH_AUTH_SOCK"),
    "kubectl": (*BASICS, "KUBECONFIG", "KUBECTL_*", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", *CLOUD_IDENTITY),
}  # fmt: skip
# Never handed on, whatever a pattern above says (a wildcard must not let one through).
NEVER = re.compile(r"PULUMI_.*|.*PASSPHRASE.*")


def allowed(tool: str, name: str) -> bool:
    """Whether the child `tool` gets the variable `name`."""
    if NEVER.fullmatch(name):
        return False
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in _patterns(tool))


def _patterns(tool: str) -> tuple[str, ...]:
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(sorted(TOOLS))}")
    return TOOLS[tool]


def child_env(tool: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child `tool` (see TOOLS): `environ` (default: this process's) filtered."""
    _patterns(tool)
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if allowed(tool, name)}


def dropped(tool: str, environ: Mapping[str, str]) -> list[str]:
    """The names of `environ` the child `tool` does not get (for a shell to unset)."""
    _patterns(tool)
    return sorted(name for name in environ if not allowed(tool, name))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "drop" or argv[1] not in TOOLS:
        print(f"usage: child_env.py drop {{{','.join(sorted(TOOLS))}}}", file=sys.stderr)
        return 2
    # Only names a shell can unset: exported functions (BASH_FUNC_x%%) are code, not values.
    names = [n for n in dropped(argv[1], os.environ) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
    sys.stdout.write("".join(f"{n}\n" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
