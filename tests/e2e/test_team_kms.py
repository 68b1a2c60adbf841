"""End to end: a team on the shared S3 backend with a KMS secrets provider and no passphrase (docs/team.md).

The sandbox's KMS API (moto's server, `sandbox.sh kms`) stands in for AWS KMS: the key is made
through its API, and the CLI's AWS SDK (gocloud.dev's awskms on aws-sdk-go-v2, which reads
`AWS_ENDPOINT_URL_KMS`) is pointed at it. Three checkouts, each with its own PULUMI_HOME:

- platform: a `git clone` of this repository; `pulumi stack init --secrets-provider awskms://...`,
  a password set with `config set --secret` (a `secure:` value in the stack file, encrypted by KMS),
  `pulumi up`, then the project's scripts status.sh and gc.sh on the stack;
- cluster: a small cluster project, out of the repository, whose stack (KMS as well) reads the
  registry stack's secret output through a `StackReference` on the same backend;
- pr-check: a second clone with the committed stack file runs `scripts/pr-check.sh`: clean.

No passphrase anywhere: PULUMI_CONFIG_PASSPHRASE* is absent for the cluster checkout and set to ""
(a workflow's absent secret) for the others, which scripts/pulumi-env.sh must treat as unset.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import CERTS_D, REGISTRY_HOST, REGISTRY_IMAGE, REPO, TEST_IMAGE, TeamBackend, aws, free_port, record, run
from tests.e2e.test_team import Checkout, write_config
from tests.test_fresh_clone import machine_bound

# The cluster stack: reads the registry stack's outputs (a secret among them) and keeps them as its own.
CONSUMER = """import pulumi

registry = pulumi.StackReference(pulumi.Config().require("registryStack"))
pulumi.export("registryEndpoint", registry.require_output("endpoint"))
pulumi.export("dockerConfigJson", registry.require_output("dockerConfigJson"))
"""


@pytest.fixture(scope="module")
def team_kms(workdir: Path) -> Iterator[dict[str, Any]]:
    team = TeamBackend.create("team-kms")
    suffix = os.urandom(3).hex()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    checkouts: dict[str, Checkout] = {}
    for member in ("platform", "cluster", "pr-check"):
        home = workdir / f"kms-{member}-pulumi-home"
        absent_secret = {} if member == "cluster" else {"PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_CONFIG_PASSPHRASE_FILE": ""}
        env = {**base, **team.env, **absent_secret, "PULUMI_HOME": str(home)}
        assert not any(v for k, v in env.items() if k.startswith("PULUMI_CONFIG_PASSPHRASE")), "a passphrase in the environment"
        run(["bash", str(REPO / "toolchain" / "install-plugins.sh")], env=env)
        path = workdir / f"kms-{member}-checkout"
        if member == "cluster":
            path.mkdir()
            (path / "Pulumi.yaml").write_text(
                f"name: kms-consumer\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / 'venv'}\n"
            )
            (path / "__main__.py").write_text(CONSUMER)
        else:
            run(["git", "clone", "-q", str(REPO), str(path)])
            (path / "venv").symlink_to(REPO / "venv")
        checkouts[member] = Checkout(path, env)
    stack, consumer = f"team-kms-{suffix}", f"consumer-{suffix}"
    yield {"checkouts": checkouts, "bucket": team.bucket, "key": team.key, "provider": team.secrets_provider, "stack": stack,
           "consumer": consumer, "suffix": suffix}  # fmt: skip
    checkouts["cluster"].pulumi("destroy", "--yes", "--stack", consumer, check=False)
    checkouts["platform"].pulumi("destroy", "--yes", "--stack", stack, check=False)


def test_a_kms_team_stack_works_in_every_script_with_no_passphrase(team_kms: dict[str, Any]) -> None:
    checkouts, stack, provider = team_kms["checkouts"], team_kms["stack"], team_kms["provider"]
    platform, cluster, pr = checkouts["platform"], checkouts["cluster"], checkouts["pr-check"]
    port, suffix = free_port(), team_kms["suffix"]
    container, volume = f"registry-team-kms-{suffix}", f"registry-data-team-kms-{suffix}"
    password = "kms-" + os.urandom(9).hex()
    said: list[str] = []  # everything the CLI and the scripts printed, except `--show-secrets` outputs

    def pulumi(checkout: Checkout, *args: str, stdin: str | None = None) -> Any:
        result = checkout.pulumi(*args, stdin=stdin)
        said.extend([result.stdout, result.stderr])
        return result

    def script(checkout: Checkout, name: str, *args: str) -> Any:
        result = run(["bash", str(checkout.path / "scripts" / name), *args], env=checkout.env, check=False)
        said.extend([result.stdout, result.stderr])
        return result

    pulumi(platform, "stack", "init", stack, "--secrets-provider", provider)
    stack_file = platform.path / f"Pulumi.{stack}.yaml"
    settings = {
        "ipAddresses": [REGISTRY_HOST],
        "endpoint": f"{REGISTRY_HOST}:{port}",
        "users": [{"name": "pusher"}],
        "image": REGISTRY_IMAGE,
        "pullImage": False,
        "port": port,
        "containerName": container,
        "dataVolume": volume,
        "retainData": False,
        "localRegistryHosting": False,
    }
    write_config(stack_file, "private-registry", settings)
    pulumi(platform, "config", "set", "--secret", "--path", "users[0].password", "--stack", stack, stdin=password)
    document = yaml.safe_load(stack_file.read_text())
    # The team's stack file: the KMS provider, its data key (encrypted by the KMS key), a secure value, no salt.
    assert document["secretsprovider"] == provider and "encryptionsalt" not in document
    assert document["config"]["private-registry:users"][0]["password"].keys() == {"secure"}
    assert machine_bound(stack_file.name, document) == [], "the fresh-clone test would refuse the team's stack file"
    # The data key was encrypted by the sandbox's KMS key: the CLI spoke to moto, not to AWS.
    decrypted = aws("kms").decrypt(CiphertextBlob=base64.b64decode(document["encryptedkey"]))
    assert decrypted["KeyId"].endswith(team_kms["key"])
    ca_dir = CERTS_D / str(settings["endpoint"])
    try:
        started = time.perf_counter()
        pulumi(platform, "up", "--yes", "--skip-preview", "--stack", stack)
        record(f"team kms: registry stack up on S3 with awskms://, no passphrase, in {time.perf_counter() - started:.1f} s")
        outputs = json.loads(platform.pulumi("stack", "output", "--json", "--show-secrets", "--stack", stack).stdout)
        assert outputs["passwords"] == {"pusher": password}
        state = aws("s3").get_object(Bucket=team_kms["bucket"], Key=f".pulumi/stacks/private-registry/{stack}.json")
        state_text = state["Body"].read().decode()
        assert password not in state_text and "ciphertext" in state_text

        # An image in the registry (for status.sh to list and gc.sh to mark), pushed as the team would.
        ca_dir.mkdir(parents=True, exist_ok=True)
        (ca_dir / "ca.crt").write_text(outputs["caCertificate"])
        docker = ["docker", "--config", str(platform.path / ".docker")]
        image = f"{settings['endpoint']}/team/app:1"
        run([*docker, "login", str(settings["endpoint"]), "-u", "pusher", "--password-stdin"], input=password)
        run([*docker, "tag", TEST_IMAGE, image])
        run([*docker, "push", image])

        # The project's scripts on the KMS stack, the passphrase variables set to "".
        status = script(platform, "status.sh", stack)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "team/app" in status.stdout
        gc = script(platform, "gc.sh", stack, "--dry-run")
        assert gc.returncode == 0, gc.stdout + gc.stderr
        # On the S3 backend too, a lock as the CLI writes it stops gc.sh before it changes anything; its own went.
        locks = f".pulumi/locks/organization/private-registry/{stack}/"
        assert aws("s3").list_objects_v2(Bucket=team_kms["bucket"], Prefix=locks).get("KeyCount") == 0
        held = '{"pid": 77, "username": "ana", "hostname": "ci-3", "timestamp": "2026-12-07T20:00:00Z"}'
        aws("s3").put_object(Bucket=team_kms["bucket"], Key=f"{locks}up.json", Body=held.encode())
        try:
            refused = script(platform, "gc.sh", stack, "--dry-run")
        finally:
            aws("s3").delete_object(Bucket=team_kms["bucket"], Key=f"{locks}up.json")
        assert refused.returncode == 1 and "created by ana@ci-3 (pid 77)" in refused.stderr, refused.stderr
        assert "gc: collecting" not in refused.stderr

        # The cluster stack reads the registry stack's secret output through the backend.
        pulumi(cluster, "stack", "init", f"{team_kms['consumer']}", "--secrets-provider", provider)
        write_config(cluster.path / f"Pulumi.{team_kms['consumer']}.yaml", "kms-consumer",
                     {"registryStack": f"organization/private-registry/{stack}"})  # fmt: skip
        pulumi(cluster, "up", "--yes", "--skip-preview", "--stack", team_kms["consumer"])
        masked = json.loads(pulumi(cluster, "stack", "output", "--json", "--stack", team_kms["consumer"]).stdout)
        assert masked["dockerConfigJson"] == "[secret]" and masked["registryEndpoint"] == settings["endpoint"]
        mine = json.loads(cluster.pulumi("stack", "output", "--json", "--show-secrets", "--stack", team_kms["consumer"]).stdout)
        same = mine["dockerConfigJson"] == outputs["dockerConfigJson"]  # a boolean: no secret in a report
        assert same, "the cluster stack does not see the registry stack's dockerConfigJson"

        # The PR check from a clone that has the committed stack file: a clean plan.
        shutil.copy2(stack_file, pr.path / stack_file.name)
        summary = pr.path / "summary.md"
        check = script(pr, "pr-check.sh", stack, "--output", str(summary))
        text = summary.read_text() if summary.exists() else ""
        assert check.returncode == 0, text or check.stderr
        assert f"`{stack}`: no changes" in text
        said.append(text)
        pulumi(platform, "preview", "--expect-no-changes", "--stack", stack)

        secrets = [password, *outputs["passwords"].values(), outputs["dockerConfigJson"]]
        secrets += [json.loads(outputs["dockerConfigJson"])["auths"][settings["endpoint"]]["auth"]]
        leaked = [i for i, secret in enumerate(secrets) if any(secret in text for text in said)]
        assert not leaked, f"secret #{leaked} appears in the CLI's or the scripts' output"
    finally:
        shutil.rmtree(ca_dir, ignore_errors=True)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume], check=False)
