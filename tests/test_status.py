"""scripts/status.py without a registry: what it reads from Docker and kubectl, and how it reports."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from status import TAGS, Report, Tag, collect, days_left, human, page, push_times  # noqa: E402

NOW = datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC)
OUTPUTS = {
    "target": "docker",
    "endpoint": "127.0.0.1:1",  # nothing answers there
    "caCertificate": "",
    "usernames": ["ci"],
    "passwords": {"ci": "never-printed-password"},
    "certificateExpiresAt": "2026-12-20T00:00:00Z",
    "containerName": "registry-dev",
    "pullContainerName": "registry-dev-pull",
}


def fake(answers: dict[str, tuple[int, str]]) -> object:
    def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        for key, (code, out) in answers.items():
            if key in " ".join(args):
                return subprocess.CompletedProcess(list(args), code, out, "")
        return subprocess.CompletedProcess(list(args), 1, "", "not found")

    return run


def test_expiry_is_read_as_pulumi_tls_and_your_own_certificate_give_it() -> None:
    assert days_left("2026-12-20T00:00:00Z", NOW) == 18
    assert days_left("2026-12-20T00:00:00.123456789Z", NOW) == 18
    assert days_left("2026-11-30T00:00:00Z", NOW) == -2


def test_push_times_come_from_the_tags_current_links() -> None:
    text = (
        f"1764633600 {TAGS}/team/app/_manifests/tags/1/current/link\n"
        f"1764637200 {TAGS}/base/_manifests/tags/v2/current/link\nnoise\n"
    )
    assert push_times(text) == {("team/app", "1"): "2025-12-02T00:00:00Z", ("base", "v2"): "2025-12-02T01:00:00Z"}


def test_every_problem_is_named_and_no_secret_is_printed() -> None:
    run = fake(
        {
            "inspect -f {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} registry-dev-pull": (
                0,
                "exited \n",
            ),
            "inspect -f": (0, "running healthy\n"),
            "du -sk": (0, "2048\t/var/lib/registry\n"),
            "cat /var/lib/registry/.private-registry-last-gc": (0, "2026-12-01T10:00:00Z\n"),
        }
    )
    report = collect("dev", OUTPUTS, 30, None, run=run, now=NOW)  # type: ignore[arg-type]
    assert [(i.name, i.healthy) for i in report.instances] == [("registry-dev", True), ("registry-dev-pull", False)]
    assert report.storage_used_bytes == 2048 * 1024 and report.last_gc == "2026-12-01T10:00:00Z"
    assert report.certificate_days_left == 18
    assert report.attention == [
        "the certificate expires in 18 day(s), inside the early-renewal window (30 days): the next pulumi up renews it",
        "container registry-dev-pull (read-only) is exited, not running and healthy",
        "the registry does not answer on 127.0.0.1:1 (GET /v2/ with the stack's users)",
    ]
    for text in (human(report), page(report), json.dumps(report.__dict__, default=str)):
        assert "never-printed-password" not in text


def test_the_page_needs_no_server_and_escapes_what_it_shows() -> None:
    report = Report("dev", "docker", "r.example.com:5000", True, "HTTP 200", "2027-01-01T00:00:00Z", 30)
    report.tags = [Tag("team/<app>", "1", "sha256:" + "a" * 64, 3 * 1048576, 2, "2026-12-01T00:00:00Z")]
    shown = page(report)
    assert "team/&lt;app&gt;" in shown and "<script" not in shown and "http" not in shown.replace("HTTP 200", "")
    assert "3.0 MiB" in shown and "healthy" in shown
    assert "nothing needs attention" in human(report)
