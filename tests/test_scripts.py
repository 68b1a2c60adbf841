"""The shell environment's rules: the user's own Pulumi CLI, PULUMI_HOME, backend and login win; the
project's defaults (offline toolchain, file backend in the checkout, generated passphrase) apply only
where the user has none; an empty passphrase is refused; a generated passphrase file is 0600.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOW = (
    'echo "cli=$PRIVATE_REGISTRY_PULUMI default=$PRIVATE_REGISTRY_DEFAULT_BACKEND backend=$PULUMI_BACKEND_URL '
    'home=${PULUMI_HOME:-unset} file=${PULUMI_CONFIG_PASSPHRASE_FILE:-}"'
)
SCRIPTS = (
    "scripts/pulumi-env.sh",
    "scripts/pulumi_backend.py",
    "scripts/pulumi-cli.sh",
    "toolchain/env.sh",
    "toolchain/versions.env",
)


def checkout_copy(tmp_path: Path) -> Path:
    """A copy of the scripts involved, so that a test writes nothing into this checkout."""
    repo = tmp_path / "checkout"
    for name in SCRIPTS:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, repo / name)
    return repo


def fake_cli(tmp_path: Path, version: str) -> Path:
    """A folder with a `pulumi` that only answers `pulumi version`, standing in for a user's CLI."""
    folder = tmp_path / f"user-bin-{version}"
    folder.mkdir()
    cli = folder / "pulumi"
    cli.write_text(f'#!/bin/sh\n[ "$1" = version ] && echo v{version}\n')
    cli.chmod(0o755)
    return folder


def shell(script: str, env: dict[str, str], tmp_path: Path, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "PRIVATE_REGISTRY_"))}
    # no pulumi of this machine on PATH unless a test puts one there; a HOME without ~/.pulumi
    clean["PATH"] = ":".join(p for p in clean["PATH"].split(":") if not (Path(p) / "pulumi").exists())
    if path_first:
        clean["PATH"] = f"{path_first}:{clean['PATH']}"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(["bash", "-c", script], env={**clean, "HOME": str(home), **env}, capture_output=True, text=True)


def source_env(env: dict[str, str], tmp_path: Path, path_first: Path | None = None) -> subprocess.CompletedProcess[str]:
    repo = checkout_copy(tmp_path)
    return shell(f'. "{repo}/scripts/pulumi-env.sh" && {SHOW}', env, tmp_path, path_first)


def fields(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    return dict(item.split("=", 1) for item in result.stdout.split())


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    # on the project's default backend; on the user's own an empty one is unset (tests/test_pulumi_env.py)
    result = source_env({"PULUMI_CONFIG_PASSPHRASE": ""}, tmp_path)
    assert result.returncode != 0 and "empty passphrase" in result.stderr


def test_empty_passphrase_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "passphrase"
    empty.write_text("  \n")
    result = source_env({"PULUMI_CONFIG_PASSPHRASE_FILE": str(empty)}, tmp_path)
    assert result.returncode != 0 and "empty passphrase is refused" in result.stderr


def test_supplied_passphrase_file_is_used(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.write_text("a real passphrase\n")
    got = fields(source_env({"PULUMI_CONFIG_PASSPHRASE_FILE": str(mine)}, tmp_path))
    assert got["file"] == str(mine) and got["default"] == "1"


def test_without_any_setup_the_project_defaults_apply_and_the_passphrase_file_is_owner_only(tmp_path: Path) -> None:
    result = source_env({}, tmp_path)
    got = fields(result)
    repo = tmp_path / "checkout"
    assert got["cli"] == "offline" and got["default"] == "1"
    assert got["backend"] == f"file://{repo}/.pulumi-state" and got["home"] == f"{repo}/.pulumi-home"
    path = Path(got["file"])
    assert path == repo / ".secrets" / "passphrase"
    assert "created a passphrase" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip()


def test_the_users_backend_home_and_cli_are_kept_and_no_passphrase_is_made(tmp_path: Path) -> None:
    user_home = tmp_path / "my-pulumi-home"
    got = fields(
        source_env(
            {"PULUMI_BACKEND_URL": "s3://team-state?region=eu-west-1", "PULUMI_HOME": str(user_home)},
            tmp_path,
            path_first=fake_cli(tmp_path, "3.274.1"),
        )
    )
    assert got == {
        "cli": "user",
        "default": "0",
        "backend": "s3://team-state?region=eu-west-1",
        "home": str(user_home),
        "file": "",
    }
    assert not (tmp_path / "checkout" / ".secrets").exists() and not (tmp_path / "checkout" / ".pulumi-state").exists()


def test_a_pulumi_login_is_the_users_backend(tmp_path: Path) -> None:
    # `pulumi login` writes the current backend into credentials.json of PULUMI_HOME (~/.pulumi)
    dot_pulumi = tmp_path / "home" / ".pulumi"
    dot_pulumi.mkdir(parents=True)
    (dot_pulumi / "credentials.json").write_text('{"current": "s3://team-state", "accessTokens": {}}')
    got = fields(source_env({}, tmp_path))
    # the offline toolchain, but the user's ~/.pulumi (login, plugins) and their backend
    assert got["cli"] == "offline" and got["default"] == "0" and got["backend"] == ""
    assert got["home"] == "unset" and got["file"] == ""


def test_a_dot_pulumi_folder_without_a_login_is_not_a_users_setup(tmp_path: Path) -> None:
    # any pulumi command run without PULUMI_HOME leaves ~/.pulumi/logs behind
    (tmp_path / "home" / ".pulumi" / "logs").mkdir(parents=True)
    got = fields(source_env({}, tmp_path))
    assert got["home"] == f"{tmp_path}/checkout/.pulumi-home" and got["default"] == "1"


@pytest.mark.parametrize(
    ("version", "usable", "message"),
    [
        ("3.274.1", True, ""),
        ("3.182.0", True, ""),
        ("3.181.9", False, "supported are 3.x from 3.182.0"),
        ("4.0.0", False, "supported are 3.x from 3.182.0"),
    ],
)
def test_a_users_cli_is_used_from_the_supported_version_on(tmp_path: Path, version: str, usable: bool, message: str) -> None:
    folder = fake_cli(tmp_path, version)
    result = shell(f"bash {REPO}/scripts/pulumi-cli.sh", {}, tmp_path, path_first=folder)
    assert (result.returncode == 0) is usable, result.stderr
    assert message in result.stderr
    if usable:
        assert result.stdout.split() == [str(folder / "pulumi"), version]


def test_no_cli_and_the_projects_own_toolchain_are_not_a_users_cli(tmp_path: Path) -> None:
    result = shell(f"bash {REPO}/scripts/pulumi-cli.sh", {}, tmp_path)
    assert result.returncode == 1 and "no pulumi CLI on PATH" in result.stderr
    cache = tmp_path / "cache"
    (cache / "toolchain" / "bin").mkdir(parents=True)
    ours = fake_cli(tmp_path, "3.274.1") / "pulumi"
    shutil.copy2(ours, cache / "toolchain" / "bin" / "pulumi")
    result = shell(
        f"bash {REPO}/scripts/pulumi-cli.sh",
        {"PRIVATE_REGISTRY_CACHE": str(cache)},
        tmp_path,
        path_first=cache / "toolchain" / "bin",
    )
    assert result.returncode == 1 and "offline toolchain, not a CLI of your own" in result.stderr


def test_the_gc_job_is_the_registry_pod_without_its_service_labels_probes_or_retries() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from gc_job import gc_job

    container = {
        "name": "registry",
        "image": "registry:3.1.2",
        "ports": [{"name": "https", "containerPort": 5000}],
        "env": [{"name": "REGISTRY_STORAGE", "value": "s3"}],
        "readinessProbe": {"exec": {"command": ["wget"]}},
        "livenessProbe": {"tcpSocket": {"port": 5000}},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/registry"}],
    }
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "registry-data"}}]
    labels = {"app.kubernetes.io/name": "registry"}
    deployment = {
        "metadata": {"name": "registry", "namespace": "registry-dev"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "volumes": volumes, "affinity": {"podAntiAffinity": {}}},
            },
        },
    }
    job = gc_job(deployment, ["--delete-untagged"])
    assert (job["kind"], job["metadata"]["namespace"], job["spec"]["backoffLimit"]) == ("Job", "registry-dev", 0)
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "registry-gc"  # the registry's Service never selects it
    (run,) = pod["spec"]["containers"]
    assert not {"readinessProbe", "livenessProbe", "lifecycle", "ports"} & set(run)
    assert run["command"][:3] == ["/bin/busybox", "sh", "-c"] and run["command"][-1] == "--delete-untagged"
    assert run["image"] == "registry:3.1.2" and {"name": "REGISTRY_STORAGE", "value": "s3"} in run["env"]
    assert pod["spec"]["volumes"] == volumes and pod["spec"]["restartPolicy"] == "Never"
    assert "affinity" not in pod["spec"]
    with pytest.raises(ValueError, match="unknown argument"):
        gc_job(deployment, ["--force"])


def test_images_save_reads_a_stacks_config_or_a_list_and_refuses_bad_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from images import config_settings, list_settings, main

    config = {
        "private-registry:images": {
            "value": '[{"source":"busybox:1"}]',
            "objectValue": [{"source": "busybox:1"}],
            "secret": False,
        },
        "private-registry:sourceRegistries": {"value": '{"quay.io":{"username":"u","password":"p"}}', "secret": True},
        "private-registry:port": {"value": "5000", "secret": False},
    }
    assert config_settings(config) == {
        "images": [{"source": "busybox:1"}],
        "sourceRegistries": {"quay.io": {"username": "u", "password": "p"}},
    }
    assert list_settings("# base images\nbusybox:1\n\nquay.io/org/tool:2\n") == {
        "images": [{"source": "busybox:1"}, {"source": "quay.io/org/tool:2"}]
    }
    assert list_settings("- source: busybox:1\n  name: base/busybox:1\n") == {
        "images": [{"source": "busybox:1", "name": "base/busybox:1"}]
    }
    listing = tmp_path / "images.yaml"
    listing.write_text("images:\n  - source: Bad/Name\nsourceRegistries:\n  quay.io: {username: u}\n")
    assert main(["save", "--list", str(listing), str(tmp_path / "out.tar")]) == 1
    assert not (tmp_path / "out.tar").exists()
    refused = capsys.readouterr().err
    assert "images[0].source: repository 'Bad/Name' is not a valid name" in refused
    assert "sourceRegistries.quay.io: needs both username and password" in refused


def test_the_gc_job_is_locked_down_as_the_registrys_own_pods_whatever_the_template_says() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from gc_job import gc_job

    from tests.program_harness import evaluate
    from tests.test_program_kube import DEPLOYMENT, S3

    declared = evaluate(S3).one(DEPLOYMENT).inputs
    own = declared["spec"]["template"]["spec"]
    (registry,) = own["containers"]
    job = gc_job({**declared, "metadata": {**declared["metadata"], "namespace": "r"}}, [])["spec"]["template"]["spec"]
    assert job["containers"][0]["securityContext"] == registry["securityContext"]  # as the registry, no more
    assert job["securityContext"] == {**own["securityContext"], "runAsNonRoot": True}
    assert job["automountServiceAccountToken"] is False

    # A template loosened outside Pulumi (kubectl edit) gives the collection nothing more.
    loose = {"privileged": True, "runAsUser": 0, "allowPrivilegeEscalation": True, "readOnlyRootFilesystem": False}
    template = {"metadata": {}, "spec": {"containers": [{**registry, "securityContext": loose}], "hostNetwork": True,
                "securityContext": {"fsGroup": 1000}, "automountServiceAccountToken": True}}  # fmt: skip
    job_doc = gc_job({"metadata": {"name": "registry", "namespace": "r"}, "spec": {"template": template}}, [])
    pod = job_doc["spec"]["template"]["spec"]
    assert pod["containers"][0]["securityContext"] == registry["securityContext"]  # `privileged` gone too
    assert pod["securityContext"] == {"fsGroup": 1000, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert "hostNetwork" not in pod and job_doc["spec"]["activeDeadlineSeconds"] == 3600


FAKE_PULUMI = """#!/bin/bash
case "$1 $2" in
  "version "*) echo v3.274.1 ;;
  "whoami "*) echo "{\\"user\\": \\"u\\", \\"url\\": \\"$PULUMI_BACKEND_URL\\"}" ;;
  "stack output")
    case $3 in target) echo docker ;; containerName) echo registry ;; dataVolume) echo registry-data ;; *) exit 1 ;; esac ;;
  *) exit 1 ;;
esac
"""
# Records each call, what its environment holds of the secrets, and the locks while the registry is stopped
# (its paths written in: it gets no variable of the test's).
FAKE_DOCKER = """#!/bin/bash
GC_LOG=@LOG@ GC_STATE=@STATE@
echo "$*" >> "$GC_LOG"
env | grep -E '^(PULUMI_|AWS_SECRET|GITHUB_TOKEN)' | sed 's/=.*//' >> "$GC_LOG.secrets"
echo "DOCKER_HOST=${DOCKER_HOST:-}" >> "$GC_LOG.docker-host"
case $1 in
  inspect) case "$*" in *Health*) echo healthy ;; *) echo "sha256:abc always running 268435456 1000:1000" ;; esac ;;
  stop) find "$GC_STATE/.pulumi" -name '*.json' >> "$GC_LOG.locks" 2>/dev/null; true ;;
  run) case "$*" in *"du -sk"*) printf '100\\t/var/lib/registry\\n' ;; esac ;;
esac
"""
LOCK_FOLDER = ".pulumi/locks/organization/private-registry/dev"


def gc_with_fakes(tmp_path: Path, *args: str, backend: str = "") -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """scripts/gc.sh on stack `dev` of a file backend (or `backend`), with a fake `pulumi` and `docker` (which record)."""
    bin_dir, state, project = tmp_path / "bin", tmp_path / "state", tmp_path / "project"
    for folder in (bin_dir, state, project):
        folder.mkdir(exist_ok=True)
    (project / "Pulumi.yaml").write_text("name: private-registry\nruntime: python\n")
    log = tmp_path / "docker.log"
    for name, text in (
        ("pulumi", FAKE_PULUMI),
        ("docker", FAKE_DOCKER.replace("@LOG@", str(log)).replace("@STATE@", str(state))),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log.unlink(missing_ok=True)
    env = {
        "PULUMI_BACKEND_URL": backend or f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "the-stacks-passphrase",
        "AWS_SECRET_ACCESS_KEY": "the-backends-key",
        "GITHUB_TOKEN": "ci-token",
        "DOCKER_HOST": "unix:///run/fake.sock",
        "PROJECT_DIR": str(project),
    }
    result = shell(f'bash "{REPO}/scripts/gc.sh" dev {" ".join(args)}', env, tmp_path, path_first=bin_dir)
    return result, log, state


def test_gc_runs_locked_down_holds_the_stacks_lock_and_gives_docker_no_secret(tmp_path: Path) -> None:
    result, log, state = gc_with_fakes(tmp_path)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    runs = [c for c in calls if c.startswith("run ")]
    assert len(runs) == 4  # du, garbage-collect, the time of the collection, du
    for run in runs:
        for option in ("--network none", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges:true",
                       "--user 1000:1000", "--memory 268435456 --memory-swap 268435456", "--tmpfs /tmp:rw,noexec"):  # fmt: skip
            assert option in run, (option, run)
    assert (tmp_path / "docker.log.secrets").read_text() == ""  # no passphrase, backend key or CI token
    assert set((tmp_path / "docker.log.docker-host").read_text().split()) == {"DOCKER_HOST=unix:///run/fake.sock"}
    (held,) = (tmp_path / "docker.log.locks").read_text().split()  # gc's own lock while the registry was stopped
    assert held.startswith(f"{state}/{LOCK_FOLDER}/")
    assert not list(state.rglob("*.json"))  # and released


@pytest.mark.parametrize("folder", [LOCK_FOLDER, ".pulumi/locks/dev"])
def test_gc_refuses_while_a_pulumi_operation_holds_the_stack_and_changes_nothing(tmp_path: Path, folder: str) -> None:
    lock = tmp_path / "state" / folder / "8d0f2c1e.json"
    lock.parent.mkdir(parents=True)
    lock.write_text('{"pid":4242,"username":"ana","hostname":"ci-7","timestamp":"2026-12-07T19:40:00.1Z"}')
    result, log, _ = gc_with_fakes(tmp_path)
    assert result.returncode == 1
    assert "stack 'dev' is locked by a running pulumi operation" in result.stderr
    assert "created by ana@ci-7 (pid 4242)" in result.stderr and "nothing was changed" in result.stderr
    assert not log.exists()  # no docker call at all: nothing stopped, no restart policy touched
    assert [p.name for p in lock.parent.iterdir()] == ["8d0f2c1e.json"]  # the other's lock is left alone


def test_gc_on_a_backend_whose_locks_it_cannot_read_refuses_unless_told(tmp_path: Path) -> None:
    result, log, _ = gc_with_fakes(tmp_path, backend="gs://team-state")
    assert result.returncode == 1 and not log.exists()
    assert "the locks of a gs:// backend cannot be read here (file:// and s3:// can)" in result.stderr
    assert "nothing was changed (--no-lock-check collects anyway" in result.stderr
    result, log, _ = gc_with_fakes(tmp_path, "--no-lock-check", backend="gs://team-state")
    assert result.returncode == 0, result.stderr
    assert "gc: freed" in result.stdout and "run " in log.read_text()


def test_gcs_lock_is_one_the_cli_reads_and_two_at_once_both_back_off(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    import stack_lock

    bucket = stack_lock.FileBucket(tmp_path)
    folders = stack_lock.lock_folders("private-registry", "organization/private-registry/dev")
    assert folders == [f"{LOCK_FOLDER}/", ".pulumi/locks/dev/"]
    now = datetime.datetime(2026, 12, 7, 19, 40, tzinfo=datetime.UTC)
    key = stack_lock.take(bucket, folders, "dev", now)
    content = json.loads(bucket.read(key))
    assert set(content) == {"pid", "username", "hostname", "timestamp"}  # the CLI's lockContent
    assert content["timestamp"] == "2026-12-07T19:40:00Z" and content["username"].endswith("(private-registry scripts/gc.sh)")
    with pytest.raises(stack_lock.StackHeld, match=r"created by .* scripts/gc\.sh.* at 2026-12-07T19:40:00Z"):
        stack_lock.take(bucket, folders, "dev", now)
    assert stack_lock.held_by(bucket, folders, own=key) == []

    class Racing(stack_lock.FileBucket):
        """Another gc writes its lock between this one's check and its write."""

        def write(self, key: str, data: bytes) -> None:
            super().write(f"{folders[0]}other.json", data)
            super().write(key, data)

    bucket.delete(key)
    with pytest.raises(stack_lock.StackHeld):
        stack_lock.take(Racing(tmp_path), folders, "dev", now)
    assert [p.name for p in (tmp_path / LOCK_FOLDER).iterdir()] == ["other.json"]  # its own taken back


def test_the_lock_of_an_s3_backend_and_of_pulumi_cloud() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    import stack_lock

    url = "s3://team-state/registry?endpoint=http://10.0.0.1:9000&region=eu-west-1&use_path_style=true&profile=ci"
    assert stack_lock.s3_settings(url) == (
        "team-state",
        "registry/",
        "ci",
        {"region_name": "eu-west-1", "endpoint_url": "http://10.0.0.1:9000", "config": {"s3": {"addressing_style": "path"}}},
    )
    legacy = stack_lock.s3_settings("s3://b?endpoint=minio:9000&disableSSL=true&s3ForcePathStyle=true")
    assert legacy[0:3] == ("b", "", None) and legacy[3]["endpoint_url"] == "http://minio:9000"
    listed = json.dumps(
        [{"name": "dev", "updateInProgress": False}, {"name": "acme/private-registry/prod", "updateInProgress": True}]
    )
    assert stack_lock.cloud_in_progress(listed, "prod") and not stack_lock.cloud_in_progress(listed, "dev")
    with pytest.raises(ValueError, match="a name, or organization/<project>/<name>"):
        stack_lock.lock_folders("p", "a/b")


def test_the_locks_of_an_s3_backend_are_its_objects_under_the_stacks_lock_folder() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    import stack_lock

    class Client:
        """boto3's S3 client, as far as the lock takes it: one page of keys under a prefix."""

        def get_paginator(self, _name: str) -> Any:
            objects = ["team/.pulumi/locks/dev/a.json", "team/.pulumi/locks/dev/old/b.json", "team/other"]

            class Pages:
                def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # boto3's names
                    assert Bucket == "state"
                    return [{"Contents": [{"Key": k} for k in objects if k.startswith(Prefix)]}]

            return Pages()

    bucket = stack_lock.S3Bucket(Client(), "state", "team/")
    assert bucket.keys(".pulumi/locks/dev/") == [".pulumi/locks/dev/a.json"]  # a deeper folder is another stack's
    assert bucket.keys(".pulumi/locks/prod/") == []
