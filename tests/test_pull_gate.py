"""Unit tests: the gate reads which replicas run and whether each one's htpasswd accepts the credential."""

from __future__ import annotations

from typing import Any

import bcrypt
import pytest

from components import kube_api
from components.kube_api import KubeApiError
from components.pull_gate import ApiProbe, GateError, accepts, missing, running_pods, wait_until_accepted

HASH = bcrypt.hashpw(b"new", bcrypt.gensalt(rounds=4)).decode()
OLD = bcrypt.hashpw(b"old", bcrypt.gensalt(rounds=4)).decode()


def pod(name: str, phase: str = "Running", state: str = "running", deleting: bool = False) -> dict[str, object]:
    metadata: dict[str, object] = {"name": name, **({"deletionTimestamp": "2026-12-02T00:00:00Z"} if deleting else {})}
    return {
        "metadata": metadata,
        "status": {"phase": phase, "containerStatuses": [{"name": "registry", "state": {state: {}}}]},
    }


def test_only_running_replicas_that_stay_are_read() -> None:
    pods = {"items": [pod("a"), pod("b", deleting=True), pod("c", phase="Pending"), pod("d", state="waiting")]}
    assert running_pods(pods) == ["a"]


def test_a_file_accepts_only_the_matching_name_and_password() -> None:
    content = f"pusher:{OLD}\npuller~rotated:{HASH}\n"
    assert accepts(content, "puller~rotated", "new")
    assert not accepts(content, "puller~rotated", "old")
    assert not accepts(content, "puller", "new")
    assert missing({"a": content, "b": f"puller~rotated:{OLD}\n"}, "puller~rotated", "new") == ["b"]


def test_the_wait_ends_when_every_replica_accepts_and_names_the_late_ones_on_timeout() -> None:
    files = iter([{"a": f"u:{OLD}\n", "b": f"u:{HASH}\n"}, {"a": f"u:{HASH}\n", "b": f"u:{HASH}\n"}])
    now = iter([0.0, 0.0, 1.5])
    waited = wait_until_accepted(lambda: next(files), "u", "new", 10, clock=lambda: next(now), sleep=lambda _s: None)
    assert waited == 1.5
    ticks = iter([0.0, 0.0, 11.0])
    with pytest.raises(GateError, match=r"replica\(s\) a .*keep the credential they had"):
        wait_until_accepted(lambda: {"a": f"u:{OLD}\n"}, "u", "new", 10, clock=lambda: next(ticks), sleep=lambda _s: None)


class FakeApi:
    """The Kubernetes API as the probe sees it: two Pods, one of them not running; exec denied when `denied`."""

    denied = False
    made = 0

    def __init__(self, context: str | None) -> None:
        self.context = context
        FakeApi.made += 1

    def pods(self, namespace: str, selector: str) -> dict[str, Any]:
        running = {"phase": "Running", "containerStatuses": [{"name": "registry", "state": {"running": {}}}]}
        return {"items": [{"metadata": {"name": f"{selector}-a"}, "status": running},
                          {"metadata": {"name": f"{selector}-b"}, "status": {"phase": "Pending"}}]}  # fmt: skip

    def read_file(self, namespace: str, pod: str, container: str, path: str) -> str:
        if FakeApi.denied:
            raise KubeApiError(f"exec cat {path} in pod {pod} of {namespace}: HTTP 403: forbidden", 403)
        return f"{pod}:{container}:{path}"


def test_the_probe_reads_each_running_replica_through_the_api_and_names_the_rights_it_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kube_api, "KubeApi", FakeApi)
    probe = ApiProbe("registry-prod", ["app=w", "app=r"], "prod")
    assert probe.contents() == {
        "app=w-a": "app=w-a:registry:/etc/distribution/auth/htpasswd",
        "app=r-a": "app=r-a:registry:/etc/distribution/auth/htpasswd",
    }
    assert probe.contents() == probe.contents() and FakeApi.made == 1  # one client (one kubeconfig read) per wait
    FakeApi.denied = True
    try:
        with pytest.raises(GateError, match=r"create on pods/exec in namespace registry-prod.*keep the credential"):
            probe.contents()
    finally:
        FakeApi.denied = False
