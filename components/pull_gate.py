"""Target `kubernetes`: the pull secrets switch to a new credential only once every replica accepts it.

A rotation (components/htpasswd.py) writes the new credential into the users Secret beside the old
one. Each replica accepts it once the kubelet has refreshed its mounted copy of that Secret (up to
its sync period, about a minute) and Distribution has re-read the file (on the next request after
the file changed). Switching the pull secrets earlier would send the new credential to a replica
that does not know it yet: a failed pull. So between the users Secret and the pull secrets there is
this gate: on an update it reads the htpasswd file inside every running replica that serves pulls
(`cat` through the Kubernetes API's `pods/exec`, the same kubeconfig and context as the stack's
provider: components/kube_api.py) until each accepts the new credential (its line's bcrypt hash
verifies the password, as the registry checks it), then hands the credential on to the pull secrets.
It probes; it never sleeps a fixed time. The files hold hashes, never passwords; nothing read is printed.

On create there is nothing to wait for: the Pods of a new Deployment mount the Secret as it is.
Target `docker` needs no gate: its htpasswd file is rewritten in place in the config volume
(config_volume.py) and read at the registry's next request, so the pull secrets only wait for that
write.

The decisions are plain functions (`running_pods`, `accepts`, `missing`); `ApiProbe` adapts the
Kubernetes API.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from .distribution import HTPASSWD_PATH
from .ordering import when_applying

CONTAINER = "registry"  # the registry's container in each Pod (registry_kube.registry_container)
WAIT_SECONDS = 300  # the kubelet's sync period (1 min) plus its Secret cache, several times over
INTERVAL_SECONDS = 1.0


class GateError(RuntimeError):
    """The new credential did not reach every replica in time, or the replicas cannot be read."""


def running_pods(pods: Mapping[str, Any]) -> list[str]:
    """The Pods of a `PodList` (as `kubectl get pods -o json` prints it) whose registry container runs and that are not
    going away: the ones serving (or about to serve) pulls. A Pod that starts later mounts the
    Secret as it is then.
    """
    names = []
    for pod in pods.get("items", []):
        if pod["metadata"].get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":
            continue
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses", [])}
        if "running" in statuses.get(CONTAINER, {}).get("state", {}):
            names.append(pod["metadata"]["name"])
    return names


def accepts(content: str, username: str, password: str) -> bool:
    """Whether an htpasswd file lets `username` in with `password`, as Distribution decides it."""
    import bcrypt  # only when a gate waits: the provider process imports this module on every run

    hashes = dict(line.split(":", 1) for line in content.splitlines() if ":" in line)
    found = hashes.get(username)
    return found is not None and bcrypt.checkpw(password.encode(), found.encode())


def missing(contents: Mapping[str, str], username: str, password: str) -> list[str]:
    """The Pods whose htpasswd file does not accept the credential yet."""
    return sorted(pod for pod, content in contents.items() if not accepts(content, username, password))


@dataclass(frozen=True)
class ApiProbe:
    """Reads the replicas' htpasswd files through the Kubernetes API (as the stack's provider reaches
    the cluster: its kubeconfig context), `pods/exec` on each running replica."""

    namespace: str
    selectors: Sequence[str]
    context: str | None

    @functools.cached_property
    def api(self) -> Any:
        """One client for the whole wait: the kubeconfig is read (and a credential plugin run) once."""
        from .kube_api import KubeApi  # the client only when a gate waits

        return KubeApi(self.context)

    def contents(self) -> dict[str, str]:
        """Pod -> its htpasswd file, for every running replica of each selector."""
        from .kube_api import KubeApiError

        try:
            api = self.api
            found: dict[str, str] = {}
            for selector in self.selectors:
                for pod in running_pods(api.pods(self.namespace, selector)):
                    found[pod] = api.read_file(self.namespace, pod, CONTAINER, HTPASSWD_PATH)
            return found
        except KubeApiError as err:
            raise GateError(
                f"reading the registry replicas' htpasswd files failed ({err}); the identity of the stack's kubeconfig "
                f"context needs get/list on pods and create on pods/exec in namespace {self.namespace}. The pull "
                "secrets keep the credential they had, which stays valid: fix it, then run `pulumi up` again"
            ) from err


def wait_until_accepted(
    contents: Callable[[], dict[str, str]],
    username: str,
    password: str,
    timeout: float = WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Seconds until every replica's file accepts the credential; GateError naming the late ones after `timeout`."""
    started = clock()
    while True:
        late = missing(contents(), username, password)
        if not late:
            return clock() - started
        if clock() - started > timeout:
            raise GateError(
                f"after {timeout:.0f} s the new pull credential has not reached replica(s) {', '.join(late)} "
                "(the kubelet refreshes mounted Secrets within its sync period); the pull secrets keep the credential "
                "they had, which stays valid. Look at those Pods, then run `pulumi up` again"
            )
        sleep(INTERVAL_SECONDS)


def changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Only the credential matters (not the provider's own serialization, nor where it looks)."""
    return any(olds.get(key) != news.get(key) for key in ("username", "password"))


class PullGateProvider(ResourceProvider):
    """Dynamic provider of `PullGate`; see the module docstring."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"pull-gate-{secrets.token_hex(8)}", outs={**props, "waitedSeconds": 0.0})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=changed(olds, news), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        probe = ApiProbe(news["namespace"], news["selectors"], news.get("context"))
        timeout = float(news.get("timeoutSeconds") or WAIT_SECONDS)
        waited = wait_until_accepted(probe.contents, news["username"], news["password"], timeout)
        return UpdateResult(outs={**news, "waitedSeconds": round(waited, 1)})


@dataclass(frozen=True)
class PullGateArgs:
    """The credential the pull secrets switch to, and the replicas (label selectors in one
    namespace) that must accept it first.
    """

    username: pulumi.Input[str]
    password: pulumi.Input[str]
    namespace: str
    selectors: Sequence[str]
    context: str | None
    after: Sequence[pulumi.Resource]  # what writes the users Secrets


class PullGate(Resource, module="private-registry", name="PullGate"):
    """The gate as a resource: `username` and `password` come out once every replica accepts them."""

    username: pulumi.Output[str]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: PullGateArgs, opts: pulumi.ResourceOptions) -> None:
        props = {
            "username": args.username,
            "password": pulumi.Output.secret(args.password),
            "namespace": args.namespace,
            "selectors": list(args.selectors),
            "context": args.context,
            "timeoutSeconds": WAIT_SECONDS,
            "waitedSeconds": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password"], depends_on=when_applying(args.after))
        super().__init__(PullGateProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
