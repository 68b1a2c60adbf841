"""Unit tests: what the two GitHub workflows promise and linters do not check (the pins' form, the
tested CLI version, where secrets go). scripts/lint-workflows.sh runs actionlint and zizmor."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def the_tested_cli_version() -> str:
    text = (REPO / "toolchain" / "versions.env").read_text()
    found = re.search(r"^PULUMI_CLI_VERSION=(\S+)$", text, re.M)
    assert found
    return found[1]


def test_there_are_the_two_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["pr-check.yml", "up.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_a_version_and_the_cli_is_the_tested_one(path: Path) -> None:
    uses = [line for line in path.read_text().splitlines() if "uses:" in line]
    assert uses and all(PINNED.match(line) for line in uses), uses
    steps = [step for job in load(path)["jobs"].values() for step in job.get("steps", [])]
    versions = [step["with"]["pulumi-version"] for step in steps if str(step.get("uses", "")).startswith("pulumi/actions@")]
    assert versions == [the_tested_cli_version()]
    checkouts = [step for step in steps if str(step.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_reach_only_steps_and_every_job_says_its_permissions(path: Path) -> None:
    document = load(path)
    assert document["permissions"] == {} and "env" not in document
    for name, job in document["jobs"].items():
        assert "permissions" in job, name
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), name
        for step in job.get("steps", []):
            if "secrets." in yaml.safe_dump(step.get("with", {})):
                pytest.fail(f"{name}: a secret as an action's input")


def test_the_pr_check_runs_in_an_environment_skips_forks_and_edits_one_comment() -> None:
    document = load(REPO / ".github" / "workflows" / "pr-check.yml")
    assert document["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in document["concurrency"]["group"]
    jobs = document["jobs"]
    assert jobs["preview"]["environment"] == "pr-preview"
    assert jobs["preview"]["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert jobs["fork"]["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert "pull-requests" not in jobs["preview"]["permissions"]  # the branch's code never holds a write token
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    script = jobs["comment"]["steps"][0]["run"]
    assert "--method PATCH" in script and "<!-- private-registry-pr-check -->" in script


def test_up_runs_on_the_default_branch_behind_production_without_cancelling() -> None:
    document = load(REPO / ".github" / "workflows" / "up.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    assert document["concurrency"]["cancel-in-progress"] is False
    assert document["jobs"]["up"]["environment"] == "production"


FAKE_GH = """#!/bin/sh
# gh api as the comment step calls it: a listing prints the ids of earlier comments (FAKE_IDS)
echo "$*" >> "$GH_LOG"
case "$*" in
  *--paginate*) [ -z "$FAKE_IDS" ] || printf '%s\\n' $FAKE_IDS ;;
esac
"""


@pytest.mark.parametrize(("earlier", "call"), [("", "api --method POST repos/o/r/issues/7/comments"),
                                               ("111 222", "api --method PATCH repos/o/r/issues/comments/111")])  # fmt: skip
def test_the_comment_step_edits_its_earlier_comment_or_makes_the_first(tmp_path: Path, earlier: str, call: str) -> None:
    """The comment step's own script, run as the runner runs it, with a `gh` that records its calls."""
    job = load(REPO / ".github" / "workflows" / "pr-check.yml")["jobs"]["comment"]
    (tmp_path / "gh").write_text(FAKE_GH)
    (tmp_path / "gh").chmod(0o755)
    log = tmp_path / "calls"
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "GH_LOG": str(log),
        "FAKE_IDS": earlier,
        "REPO": "o/r",
        "PR": "7",
        "SUMMARY": "<!-- private-registry-pr-check -->\n### Registry stack `prod`: no changes\n",
    }
    script = job["steps"][0]["run"]
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and calls[1].startswith(call) and calls[1].endswith("-F body=@body.md"), calls
    assert (tmp_path / "body.md").read_text() == env["SUMMARY"] + "\n"
    env["SUMMARY"] = "an error page without the marker"
    refused = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == 1 and "does not start with its marker" in refused.stderr
