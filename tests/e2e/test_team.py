"""End to end: a team on one shared S3 backend (README "A team").

Three checkouts, each at its own path with its own `PULUMI_HOME` (plugins installed there), share
the sandbox's S3 store as their backend (`pulumi login s3://<bucket>?endpoint=...`) and one
passphrase, handed to each as a CI secret would be (`PULUMI_CONFIG_PASSPHRASE`):

- platform: a `git clone` of this repository runs `pulumi up` of the registry stack;
- cluster: the consumer example, copied out of the repository, reads the registry stack's outputs,
  secrets included, through a `StackReference` on that backend and deploys a workload whose Pod
  pulls the image the platform pushed;
- pr-check: a third clone runs `scripts/pr-check.sh` against the same stack: clean.

Two `pulumi up` of the registry stack at once, from two checkouts: the second is refused by the
backend's lock, the first completes, and the stack is intact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import CERTS_D, REGISTRY_HOST, REGISTRY_IMAGE, REPO, SANDBOX_CLUSTER, TEST_IMAGE, free_port, record, run
from tests.e2e.test_cluster_pull import NODE_CERTS_D
from tests.e2e.test_sandbox_services import bucket_keys

STACK = "team"
S3_ENDPOINT = os.environ.get("SANDBOX_S3_ENDPOINT", "")
S3_REGION = os.environ.get("SANDBOX_S3_REGION", "")


@dataclass
class Checkout:
    """One member's checkout: its folder (the project), its own PULUMI_HOME, the team's backend."""

    path: Path
    env: dict[str, str]

    def pulumi(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--cwd", str(self.path), "--non-interactive"]
        return run(cmd, env=self.env, check=check, input=stdin)

    def start_up(self, stack: str) -> subprocess.Popen[str]:
        cmd = ["pulumi", "up", "--yes", "--skip-preview", "--stack", stack, "--cwd", str(self.path), "--non-interactive"]
        return subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def write_config(stack_file: Path, project: str, settings: dict[str, Any]) -> None:
    """Merge settings into a stack file, as a member editing Pulumi.<stack>.yaml would."""
    document = yaml.safe_load(stack_file.read_text()) if stack_file.exists() else None
    document = document or {}
    document.setdefault("config", {}).update({f"{project}:{k}": v for k, v in settings.items()})
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def team(workdir: Path) -> Iterator[dict[str, Checkout]]:
    bucket = f"e2e-team-{os.urandom(3).hex()}"
    run(["bash", str(REPO / "sandbox" / "sandbox.sh"), "s3-bucket", bucket])
    shared = {
        "PULUMI_BACKEND_URL": f"s3://{bucket}?endpoint={S3_ENDPOINT}&region={S3_REGION}&use_path_style=true",
        "AWS_ACCESS_KEY_ID": os.environ["SANDBOX_S3_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": os.environ["SANDBOX_S3_SECRET_KEY"],
        "PULUMI_CONFIG_PASSPHRASE": "team-" + os.urandom(12).hex(),  # the CI secret
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    checkouts: dict[str, Checkout] = {}
    for member in ("platform", "cluster", "pr-check"):
        home = workdir / f"{member}-pulumi-home"
        env = {**base, **shared, "PULUMI_HOME": str(home)}
        run(["bash", str(REPO / "toolchain" / "install-plugins.sh")], env=env)  # into this member's own PULUMI_HOME
        path = workdir / f"{member}-checkout"
        if member == "cluster":  # the consumer example, out of the repository
            path.mkdir()
            for name in ("Pulumi.yaml", "__main__.py"):
                shutil.copy2(REPO / "examples" / "consumer" / name, path / name)
            text = (path / "Pulumi.yaml").read_text().replace("virtualenv: ../../venv", f"virtualenv: {REPO / 'venv'}")
            (path / "Pulumi.yaml").write_text(text)
        else:
            run(["git", "clone", "-q", str(REPO), str(path)])
            (path / "venv").symlink_to(REPO / "venv")  # the Python packages, not state
        checkouts[member] = Checkout(path, env)
    yield checkouts
    checkouts["cluster"].pulumi("destroy", "--yes", "--stack", "consumer", check=False)
    checkouts["platform"].pulumi("destroy", "--yes", "--stack", STACK, check=False)


def test_a_team_shares_the_registry_stack_through_one_s3_backend(team: dict[str, Checkout]) -> None:
    platform, cluster, pr = team["platform"], team["cluster"], team["pr-check"]
    port, suffix = free_port(), os.urandom(3).hex()
    endpoint = f"{REGISTRY_HOST}:{port}"
    container, volume = f"registry-team-{suffix}", f"registry-data-team-{suffix}"
    config = {
        "ipAddresses": [REGISTRY_HOST],
        "endpoint": endpoint,
        "users": [{"name": "puller"}, {"name": "pusher"}],
        "image": REGISTRY_IMAGE,
        "pullImage": False,
        "port": port,
        "containerName": container,
        "dataVolume": volume,
        "retainData": False,
        "pullSecret": {"name": f"pull-{suffix}", "namespaces": []},
        **SANDBOX_CLUSTER,
    }
    platform.pulumi("stack", "init", STACK)
    stack_file = platform.path / f"Pulumi.{STACK}.yaml"
    write_config(stack_file, "private-registry", config)
    pr_stack_file = pr.path / f"Pulumi.{STACK}.yaml"
    ca_dir, node_dir = CERTS_D / endpoint, NODE_CERTS_D / endpoint
    consumer_namespace = f"team-consumer-{suffix}"
    try:
        started = time.perf_counter()
        platform.pulumi("up", "--yes", "--stack", STACK)
        record(f"team: registry stack up on the shared S3 backend in {time.perf_counter() - started:.1f} s")
        outputs = json.loads(platform.pulumi("stack", "output", "--json", "--show-secrets", "--stack", STACK).stdout)
        # The platform pushes an image; the nodes get the trust a node provisioning step would install.
        ca_dir.mkdir(parents=True, exist_ok=True)
        (ca_dir / "ca.crt").write_text(outputs["caCertificate"])
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / "ca.crt").write_text(outputs["caCertificate"])
        (node_dir / "hosts.toml").write_text(outputs["containerdHostsToml"])
        docker = ["docker", "--config", str(platform.path / ".docker")]
        image = f"{endpoint}/team/app:1"
        run([*docker, "login", endpoint, "-u", "pusher", "--password-stdin"], input=outputs["passwords"]["pusher"])
        run([*docker, "tag", TEST_IMAGE, image])
        run([*docker, "push", image])
        # The stack file travels with the repository (its salt with it: the team shares the passphrase).
        shutil.copy2(stack_file, pr_stack_file)

        # The cluster stack, in its own checkout and PULUMI_HOME, reads the outputs through the backend.
        cluster.pulumi("stack", "init", "consumer")
        consumer_config = {
            "registryStack": f"organization/private-registry/{STACK}",
            "image": image,
            "namespace": consumer_namespace,
            "command": ["sh", "-c", "echo team; sleep 3600"],
        }
        write_config(cluster.path / "Pulumi.consumer.yaml", "registry-consumer", consumer_config)
        started = time.perf_counter()
        cluster.pulumi("up", "--yes", "--stack", "consumer")  # returns once the Deployment is Available
        record(f"team: consumer stack (StackReference over S3, Pod pulled and running) in {time.perf_counter() - started:.1f} s")
        mine = json.loads(cluster.pulumi("stack", "output", "--json", "--show-secrets", "--stack", "consumer").stdout)
        assert mine["registryEndpoint"] == endpoint
        same = mine["dockerConfigJson"] == outputs["dockerConfigJson"]  # a boolean: no secret in a report
        assert same, "the cluster stack does not see the registry stack's dockerConfigJson"
        pods = json.loads(run(["kubectl", "get", "pods", "-n", consumer_namespace, "-o", "json"]).stdout)["items"]
        assert [p["status"]["phase"] for p in pods] == ["Running"], [p["status"] for p in pods]
        assert pods[0]["spec"]["containers"][0]["image"] == image

        # The PR check from a third checkout: the plan is clean.
        summary = pr.path / "summary.md"
        check = run(["bash", str(pr.path / "scripts" / "pr-check.sh"), STACK, "--output", str(summary)], env=pr.env, check=False)
        assert check.returncode == 0, summary.read_text() if summary.exists() else check.stderr
        # the first line is the hidden marker the workflow finds its comment by; the heading follows
        marker, heading = summary.read_text().splitlines()[:2]
        assert marker == "<!-- private-registry-pr-check -->" and heading == f"### Registry stack `{STACK}`: no changes"
        assert not any(p in summary.read_text() + check.stdout + check.stderr for p in outputs["passwords"].values())

        # Two `up`s at once from two checkouts: a password change (the htpasswd file rewritten by a
        # one-shot container) from the platform, then a plain `up` from the PR checkout while the first
        # holds the lock.
        platform.pulumi("config", "set", "--secret", "--path", "users[1].password", "--stack", STACK,
                        stdin="pusher-" + os.urandom(6).hex())  # fmt: skip
        shutil.copy2(stack_file, pr_stack_file)  # the same config, as a pull of the change would bring it
        first = platform.start_up(STACK)
        bucket = platform.env["PULUMI_BACKEND_URL"].split("?", 1)[0].removeprefix("s3://")
        deadline = time.monotonic() + 30
        while not bucket_keys(".pulumi/locks/", bucket) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert bucket_keys(".pulumi/locks/", bucket), "the first up never took the backend's lock"
        second = pr.pulumi("up", "--yes", "--skip-preview", "--stack", STACK, check=False)
        out, _ = first.communicate(timeout=300)
        assert second.returncode != 0 and "the stack is currently locked" in second.stdout + second.stderr, second
        assert first.returncode == 0, out
        platform.pulumi("preview", "--expect-no-changes", "--stack", STACK)
        assert run(["docker", "inspect", "-f", "{{.State.Running}}", container]).stdout.strip() == "true"
    finally:
        run(["kubectl", "delete", "namespace", consumer_namespace, "--ignore-not-found", "--wait=false"], check=False)
        shutil.rmtree(ca_dir, ignore_errors=True)
        shutil.rmtree(node_dir, ignore_errors=True)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)
