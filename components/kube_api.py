"""The Kubernetes API for the program's own steps on a cluster, through the maintained Python client.

Two steps of `pulumi up` talk to the cluster outside the kubernetes provider: the pull gate
(pull_gate.py) reads each replica's htpasswd file (`pods/exec`), and the node-trust cleanup
(node_trust.py) runs a DaemonSet and waits for it. They reach the cluster exactly as the stack's
provider does (kube_provider.py): the kubeconfig of `$KUBECONFIG` (several files joined by `:`) or
`~/.kube/config`, and the stack's context. Whatever that kubeconfig authenticates with works here too
(client certificates, tokens, exec plugins such as `aws eks get-token`), since the client reads it
the way kubectl does. No `kubectl` on the machine.

Answers come back as the JSON the API server sent (the shape `kubectl get -o json` prints), so the
decisions on them stay plain functions on dicts. Errors are `KubeApiError` with the API's status and
message (never a request body: a Secret's data would be in it). The client is imported only when a
step runs: the provider processes import this module on every run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXEC_TIMEOUT_SECONDS = 60


class KubeApiError(RuntimeError):
    """The API server refused or could not be reached; `status` is its HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _reason(err: Exception) -> str:
    """A short reason from the client's exception: the API's Status message, else its text."""
    body = getattr(err, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return str(message)[:500]
    return (getattr(err, "reason", None) or str(err)).strip()[:500]


def kubeconfig_files(environ: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files as kubectl and the provider read them: `$KUBECONFIG` (joined by `:`), else ~/.kube/config."""
    listed = [Path(p).expanduser() for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [Path("~/.kube/config").expanduser()]


def impersonation(documents: Sequence[Mapping[str, Any]], context: str | None) -> dict[str, str]:
    """The `Impersonate-*` headers of the context's user (`as`, `as-groups`, `as-uid` in the kubeconfig),
    which the Python client does not read itself: the first file naming a context, or a user, wins,
    as in kubectl. More than one group cannot be sent as one header here: refused by name."""
    first: dict[str, dict[str, Any]] = {"contexts": {}, "users": {}}
    current = None
    for document in documents:
        current = current or document.get("current-context")
        for section in first:
            for entry in document.get(section) or []:
                first[section].setdefault(entry.get("name"), entry.get(section[:-1]) or {})
    chosen = first["contexts"].get(str(context or current), {})
    user = first["users"].get(str(chosen.get("user")), {})
    headers = {}
    if user.get("as"):
        headers["Impersonate-User"] = str(user["as"])
    if user.get("as-uid"):
        headers["Impersonate-Uid"] = str(user["as-uid"])
    groups = user.get("as-groups") or []
    if len(groups) > 1:
        raise KubeApiError(
            f"the kubeconfig user of context {context!r} impersonates several groups (as-groups); "
            "the program's own steps send one: keep one group, or impersonate a user without groups"
        )
    if groups:
        headers["Impersonate-Group"] = str(groups[0])
    return headers


def _scrub_credential_plugins() -> None:
    """A kubeconfig's `exec` credential plugin (`aws eks get-token`, `kubelogin`, ...) gets what kubectl
    would get from the program (child_env.py: the cloud identity, never `PULUMI_*` or a passphrase),
    plus the variables its own kubeconfig entry sets. The client would hand it this whole process's
    environment; its module's `ExecProvider` is swapped once for a subclass that narrows it."""
    from kubernetes.config import kube_config  # type: ignore[import-untyped]
    from kubernetes.config.exec_provider import ExecProvider  # type: ignore[import-untyped]

    from .child_env import child_env

    if getattr(kube_config.ExecProvider, "scrubbed", False):
        return

    class ScrubbedExecProvider(ExecProvider):  # type: ignore[misc]
        scrubbed = True

        def __init__(self, exec_config: Any, cwd: Any, cluster: Any = None) -> None:
            super().__init__(exec_config, cwd, cluster)
            own = {item["name"]: item["value"] for item in (exec_config.safe_get("env") or [])}
            self.env = {**child_env("kubectl"), **own}

    kube_config.ExecProvider = ScrubbedExecProvider


@dataclass
class KubeApi:
    """One kubeconfig context's API server; `context` None is the kubeconfig's current context."""

    context: str | None

    def __post_init__(self) -> None:
        from kubernetes import config  # type: ignore[import-untyped]
        from kubernetes.config.config_exception import ConfigException  # type: ignore[import-untyped]

        _scrub_credential_plugins()
        try:
            self._client = config.new_client_from_config(context=self.context, persist_config=False)
        except (ConfigException, OSError, ValueError) as err:
            where = f"context {self.context!r}" if self.context else "the current context"
            raise KubeApiError(f"cannot read the kubeconfig for {where} ($KUBECONFIG or ~/.kube/config): {err}") from err
        import yaml

        documents = []
        for file in kubeconfig_files(os.environ):
            if file.is_file():
                documents.append(yaml.safe_load(file.read_text()) or {})
        for header, value in impersonation(documents, self.context).items():
            self._client.set_default_header(header, value)

    def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, **kwargs)
        except ApiException as err:
            raise KubeApiError(f"{what}: HTTP {err.status}: {_reason(err)}", err.status) from err
        except (HTTPError, OSError) as err:
            raise KubeApiError(f"{what}: the API server did not answer: {err}") from err

    def _json(self, what: str, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = self._call(what, method, *args, _preload_content=False, _request_timeout=30, **kwargs)
        return dict(json.loads(answer.data))

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self._client)

    def _apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self._client)

    def pods(self, namespace: str, selector: str) -> dict[str, Any]:
        """The Pods matching a label selector, as a `PodList`."""
        return self._json(
            f"list pods -l {selector} in {namespace}", self._core().list_namespaced_pod, namespace, label_selector=selector
        )

    def read_file(self, namespace: str, pod: str, container: str, path: str) -> str:
        """`cat path` inside a container, through `pods/exec` (a websocket to the API server)."""
        from kubernetes.stream import stream  # type: ignore[import-untyped]

        what = f"exec cat {path} in pod {pod} of {namespace}"
        session = self._call(
            what,
            stream,
            self._core().connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=["cat", path],
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        try:
            session.run_forever(timeout=EXEC_TIMEOUT_SECONDS)
            if session.is_open():
                raise KubeApiError(f"{what}: no end after {EXEC_TIMEOUT_SECONDS} s")
            out, err, code = session.read_stdout(), session.read_stderr(), session.returncode
        finally:
            session.close()
        if code != 0:
            raise KubeApiError(f"{what}: exit {code}: {err.strip()[:300]}")
        return str(out)

    def daemonset(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A DaemonSet, or None when there is none of that name."""
        try:
            return self._json(f"get daemonset {name} in {namespace}", self._apps().read_namespaced_daemon_set, name, namespace)
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise

    def create_daemonset(self, namespace: str, manifest: dict[str, Any]) -> None:
        """Create a DaemonSet from its manifest, replacing one of that name left by an interrupted run."""
        name = manifest["metadata"]["name"]
        if self.daemonset(namespace, name) is not None:
            self.delete_daemonset(namespace, name, wait_seconds=EXEC_TIMEOUT_SECONDS)
        self._call(
            f"create daemonset {name} in {namespace}",
            self._apps().create_namespaced_daemon_set,
            namespace,
            manifest,
            _request_timeout=30,
        )

    def delete_daemonset(self, namespace: str, name: str, wait_seconds: float) -> None:
        """Delete a DaemonSet in the foreground (its Pods first) and wait until it is gone."""
        import time

        try:
            self._call(
                f"delete daemonset {name} in {namespace}",
                self._apps().delete_namespaced_daemon_set,
                name,
                namespace,
                propagation_policy="Foreground",
                _request_timeout=30,
            )
        except KubeApiError as err:
            if err.status != 404:
                raise
        deadline = time.monotonic() + wait_seconds
        while self.daemonset(namespace, name) is not None:
            if time.monotonic() > deadline:
                raise KubeApiError(f"daemonset {name} in {namespace} still there {wait_seconds:.0f} s after its deletion")
            time.sleep(1.0)

    def allowed(self, verb: str, resource: str, namespace: str | None) -> bool:
        """Whether this identity may `verb` a resource named as kubectl names it (`pods`, `pods/exec`,
        `deployments.apps`), in `namespace` (None: cluster-scoped): a SelfSubjectAccessReview, as
        `kubectl auth can-i` asks it."""
        from kubernetes import client

        kind, _, subresource = resource.partition("/")
        name, _, group = kind.partition(".")
        attributes = {"verb": verb, "resource": name, "group": group, "subresource": subresource}
        if namespace:
            attributes["namespace"] = namespace
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        authorization = client.AuthorizationV1Api(self._client)
        answer = self._json(f"can-i {verb} {resource}", authorization.create_self_subject_access_review, review)
        return bool(answer.get("status", {}).get("allowed"))
