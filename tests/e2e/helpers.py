"""End-to-end helpers: the real `pulumi` CLI against a file (or the team's S3 and KMS) backend, the
sandbox's dockerd and API server, the project copied per test. The fixtures are in conftest.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import FIGURES

REPO = Path(__file__).resolve().parents[2]


TEST_IMAGE = os.environ.get("SANDBOX_TEST_IMAGE", "private-registry/busybox:local")


REGISTRY_IMAGE = os.environ.get("SANDBOX_REGISTRY_IMAGE", "private-registry/registry:3.1.2-local")


# dockerd treats 127.0.0.0/8 as an insecure registry and skips certificate checks there, so the
# tests reach the registry on the sandbox bridge address, where the CA really is verified.
REGISTRY_HOST = os.environ.get("SANDBOX_REGISTRY_HOST", "172.31.250.1")


# The stacks that write into the sandbox cluster name its kubeconfig context (a stack naming none writes into none).
SANDBOX_CLUSTER = {"kubernetes": {"context": "sandbox"}}


CERTS_D = Path(os.environ.get("SANDBOX_DOCKER_CERTS_D", "/etc/docker/certs.d"))  # dockerd's registry CAs


def record(figure: str) -> None:
    """Keep a measured figure for the summary at the end of the run (tests/conftest.py prints it)."""
    FIGURES.append(figure)


def run(cmd: list[str], env: dict[str, str] | None = None, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, failing with its output when it fails and `check` is set."""
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components")


def copy_project(target: Path, source: Path = REPO, link_venv: bool = True, names: tuple[str, ...] = PROJECT_FILES) -> Path:
    """A copy of the program in `target` (stack files and state stay out of the repository); `names`
    for another project (bench/minimal has no components/).
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / name, target / name)
    if link_venv:
        (target / "venv").symlink_to(REPO / "venv")
    return target


KMS_ENDPOINT = os.environ.get("SANDBOX_KMS_ENDPOINT", "")


S3_ENDPOINT = os.environ.get("SANDBOX_S3_ENDPOINT", "")


AWS_REGION = "us-east-1"


def aws(service: str) -> Any:
    """A boto3 client of the sandbox's KMS API or S3 store, with the S3 store's keys (moto takes any)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=KMS_ENDPOINT if service == "kms" else S3_ENDPOINT,
        region_name=AWS_REGION,
        aws_access_key_id=os.environ["SANDBOX_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["SANDBOX_S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass(frozen=True)
class TeamBackend:
    """A team's state and secrets, as the README's team path sets them up: the sandbox's S3 store as the
    backend (a bucket of its own) and a KMS key of the sandbox's KMS API as the secrets provider. No
    passphrase anywhere."""

    bucket: str
    key: str  # the KMS key's id
    secrets_provider: str  # awskms://alias/...
    env: dict[str, str]

    @staticmethod
    def create(label: str) -> TeamBackend:
        assert KMS_ENDPOINT and S3_ENDPOINT, "the sandbox's KMS API and S3 store: sandbox.sh up (env exports them)"
        suffix = os.urandom(3).hex()
        bucket, alias = f"e2e-{label}-{suffix}", f"alias/e2e-{label}-{suffix}"
        run(["bash", str(REPO / "sandbox" / "sandbox.sh"), "s3-bucket", bucket])
        kms = aws("kms")
        key = kms.create_key(Description=f"e2e {label} stack secrets")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=alias, TargetKeyId=key)
        env = {
            "PULUMI_BACKEND_URL": f"s3://{bucket}?endpoint={S3_ENDPOINT}&region={AWS_REGION}&use_path_style=true",
            "AWS_ACCESS_KEY_ID": os.environ["SANDBOX_S3_ACCESS_KEY"],
            "AWS_SECRET_ACCESS_KEY": os.environ["SANDBOX_S3_SECRET_KEY"],
            "AWS_ENDPOINT_URL_KMS": KMS_ENDPOINT,  # the S3 backend keeps its own endpoint (in its URL)
        }
        return TeamBackend(bucket, key, f"awskms://{alias}?region={AWS_REGION}", env)

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` without any passphrase variable, with this backend's."""
        return {**{k: v for k, v in base.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}, **self.env}

    def state_text(self, project: str, stack: str) -> str:
        answer = aws("s3").get_object(Bucket=self.bucket, Key=f".pulumi/stacks/{project}/{stack}.json")
        return str(answer["Body"].read().decode())


class Stack:
    """One stack of a copy of the project, with its own file backend and passphrase file, or on a
    team's backend (S3 and KMS, no passphrase)."""

    def __init__(self, workdir: Path, name: str, project_dir: Path | None = None, backend: TeamBackend | None = None) -> None:
        self.workdir = workdir
        self.name = name
        self.project_dir = project_dir or copy_project(workdir / "project")
        self.state_dir = workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        passphrase = workdir / "passphrase"
        if not passphrase.exists():
            passphrase.write_text(os.urandom(24).hex())
            passphrase.chmod(0o600)
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{self.state_dir}",
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
        }
        self.env.pop("PULUMI_CONFIG_PASSPHRASE", None)
        self.backend = backend
        if backend is not None:
            self.env = backend.environment(dict(os.environ))
        self.transcript: list[str] = []  # everything the CLI printed, except `stack output --show-secrets`

    def pulumi(
        self, *args: str, check: bool = True, record_output: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--cwd", str(self.project_dir), "--stack", self.name, "--non-interactive"]
        result = run(cmd, env=self.env, check=False, input=stdin)
        if record_output:
            self.transcript += [result.stdout, result.stderr]
        if check and result.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def init(self, config: dict[str, Any]) -> None:
        """Create the stack and write its (non-secret) config, project keys without the prefix."""
        provider = self.backend.secrets_provider if self.backend else "passphrase"
        cmd = ["pulumi", "stack", "init", self.name, "--cwd", str(self.project_dir), "--secrets-provider", provider]
        run([*cmd, "--non-interactive"], env=self.env)
        self.configure(config)

    def configure(self, config: dict[str, Any]) -> None:
        """Merge settings into the stack file, as a user editing Pulumi.<stack>.yaml would."""
        path = self.project_dir / f"Pulumi.{self.name}.yaml"
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        document = document or {}
        section = document.setdefault("config", {})
        project = yaml.safe_load((self.project_dir / "Pulumi.yaml").read_text())["name"]
        for key, value in config.items():
            section[key if ":" in key else f"{project}:{key}"] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secret(self, path_key: str, value: str) -> None:
        """`pulumi config set --secret --path <key>` with the value on stdin: never on a command line
        (where a failure message or `ps` would show it).
        """
        self.pulumi("config", "set", "--secret", "--path", path_key, stdin=value)

    def up(self) -> float:
        started = time.perf_counter()
        self.pulumi("up", "--yes", "--skip-preview")
        return time.perf_counter() - started

    def preview_steps(self) -> list[dict[str, Any]]:
        """The resource operations `pulumi preview --json` plans, without the unchanged ones."""
        result = self.pulumi("preview", "--json")
        return [s for s in json.loads(result.stdout).get("steps", []) if s.get("op") != "same"]

    def outputs(self) -> dict[str, Any]:
        result = self.pulumi("stack", "output", "--json", "--show-secrets", record_output=False)
        return json.loads(result.stdout)

    def state_text(self) -> str:
        """The stack's checkpoint as the backend stores it."""
        if self.backend is not None:
            project = yaml.safe_load((self.project_dir / "Pulumi.yaml").read_text())["name"]
            return self.backend.state_text(project, self.name)
        files = [f for f in self.state_dir.rglob("*.json") if f.stem == self.name and "stacks" in f.parts]
        assert files, f"no checkpoint for {self.name} under {self.state_dir}"
        return "\n".join(f.read_text() for f in files)


def node_image_by_digest() -> str:
    """The node's preloaded busybox (`SANDBOX_NODE_TEST_IMAGE`, `repo:tag` under docker.io) named by
    digest, as `nodeTrust.image` must be: the digest its containerd holds. The CRI finds a local image
    by a digest reference only under that name, so the name is added (`ctr images tag`) where missing.
    """
    name = os.environ.get("SANDBOX_NODE_TEST_IMAGE", TEST_IMAGE)
    repository = name.rsplit(":", 1)[0]
    ctr = [os.environ.get("SANDBOX_CTR", "ctr"), "--address", os.environ.get("SANDBOX_CONTAINERD_ADDRESS", ""), "-n", "k8s.io"]
    listed = run([*ctr, "images", "ls", f"name==docker.io/{name}"]).stdout.splitlines()
    assert len(listed) == 2, f"docker.io/{name} is not in the node's containerd: {listed}"
    digest = listed[1].split()[2]  # REF TYPE DIGEST ...
    if len(run([*ctr, "images", "ls", f"name==docker.io/{repository}@{digest}"]).stdout.splitlines()) < 2:
        run([*ctr, "images", "tag", f"docker.io/{name}", f"docker.io/{repository}@{digest}"])
    return f"{repository}@{digest}"


def path_without(tool: str, path: str, folder: Path) -> str:
    """`path` with each folder that holds `tool` replaced by links to everything else in it: a
    machine where that client is not installed, for one command's environment."""
    folders = []
    for index, entry in enumerate(path.split(os.pathsep)):
        if entry and (Path(entry) / tool).exists():
            shadow = folder / f"path-without-{tool}-{index}"
            shadow.mkdir(parents=True, exist_ok=True)
            for name in os.listdir(entry):
                if name != tool and not (shadow / name).is_symlink():
                    (shadow / name).symlink_to(Path(entry) / name)
            entry = str(shadow)
        folders.append(entry)
    assert shutil.which(tool, path=os.pathsep.join(folders)) is None, f"{tool} still on the PATH"
    return os.pathsep.join(folders)


def free_port() -> int:
    """A TCP port nothing listens on right now, from below the kernel's ephemeral range.

    A port the kernel handed out for port 0 can be handed out again at once: to the gRPC servers
    `pulumi up` starts for its plugins, just before dockerd binds the registry's port (CI saw
    `bind: address already in use` that way). Below the ephemeral range only explicit binds compete.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(20000, min(low, 30000)), 200):  # 30000..: NodePorts
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # dockerd's proxy binds every address
            except OSError:
                continue
            return port
    raise AssertionError("no free TCP port in 20000..29999")


@contextmanager
def throwaway_registry_stack(
    workdir: Path, name: str, settings: dict[str, Any], backend: TeamBackend | None = None
) -> Iterator[Stack]:
    """A stack of the program with its own container, volume and port; destroyed and removed after."""
    suffix = os.urandom(3).hex()
    container, volume = f"registry-{name}-{suffix}", f"registry-data-{name}-{suffix}"
    stack = Stack(workdir, name, backend=backend)
    base = {
        "image": REGISTRY_IMAGE,
        "pullImage": False,
        "port": free_port(),
        "containerName": container,
        "dataVolume": volume,
        "localRegistryHosting": False,  # one stack per cluster may own it: tests/e2e/test_cluster_pull.py
    }
    stack.init({**base, "retainData": False, **settings})
    try:
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", container], check=False)
        run(["docker", "volume", "rm", volume, f"{container}-config"], check=False)
