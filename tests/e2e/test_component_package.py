"""End to end: the registry as a component package other programs install and import.

The repository is installed with pip into a fresh virtualenv of the example platform program
(`examples/platform`, a separate Pulumi project); its own program tests run there under mocks, then
its two registries go up on the sandbox's dockerd with the real engine and providers (the dynamic
providers now pickled as `private_registry.*`, loaded from that virtualenv), answer over TLS with
their own CAs, a second preview is clean, and destroy removes both containers. mypy, run against
that virtualenv, reads the installed package's types (`py.typed`): a misspelt settings key is
reported. And the documented release install (`pip install git+<url>@v<version>`) works from a
local git URL (the repository's release tag when the clone has it, checked to be annotated and of this version).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import REGISTRY_IMAGE, REPO, Stack, free_port, record, run


def repository_copy(target: Path) -> Path:
    """The repository's files as a clone would have them (tracked and new, never ignored ones)."""
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    return target


def fresh_virtualenv(path: Path, *requirements: str) -> Path:
    """A new virtualenv at `path` with `requirements` installed by pip; returns its python."""
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements])
    return python


def assert_program_tests_pass(python: Path, program: Path) -> None:
    """The program's own tests (`program/tests`, under mocks) pass with `python` and what it has installed."""
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=program,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the package, not this checkout
    )
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(workdir: Path) -> Path:
    """The example platform program with a virtualenv of its own, the package installed from the repository."""
    source = repository_copy(workdir / "source")
    project = source / "examples" / "platform"
    started = time.perf_counter()
    fresh_virtualenv(project / "venv", str(source), "-r", str(project / "requirements.txt"))
    record(f"component package: a fresh virtualenv with the package from the repository in {time.perf_counter() - started:.1f} s")
    return project


@pytest.fixture(scope="module")
def platform(workdir: Path, project: Path) -> Iterator[Stack]:
    name = f"e2e-pkg-{os.urandom(3).hex()}"
    stack = Stack(workdir, name, project_dir=project)
    stack.init(
        {
            "imagesPort": free_port(),
            "cachePort": free_port(),
            "common": {"image": REGISTRY_IMAGE, "pullImage": False, "retainData": False},
        }
    )
    try:
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        for instance in ("images", "cache"):
            run(["docker", "rm", "-f", f"registry-{name}-{instance}"], check=False)
            run(["docker", "volume", "rm", f"registry-data-{name}-{instance}"], check=False)


def test_the_consumers_program_tests_pass_with_the_installed_package(platform: Stack) -> None:
    python = platform.project_dir / "venv" / "bin" / "python"
    assert_program_tests_pass(python, platform.project_dir)
    imported = run([str(python), "-c", "import private_registry; print(private_registry.__file__)"], cwd="/").stdout
    assert str(platform.project_dir / "venv") in imported, imported


def test_two_registries_of_one_program_go_up_and_answer(platform: Stack) -> None:
    seconds = platform.up()
    record(f"component package: two registries of one program up in {seconds:.1f} s")
    out: dict[str, Any] = platform.outputs()
    for prefix, user in (("images", "ci"), ("cache", "builder")):
        endpoint, ca = out[f"{prefix}Endpoint"], out[f"{prefix}CaCertificate"]
        assert out[f"{prefix}ContainerName"] == f"registry-{platform.name}-{prefix}"
        assert RegistryClient(endpoint, ca, user, "wrong").request("GET", "/v2/")[0] == 401
        assert RegistryClient(endpoint, ca, user, out[f"{prefix}Passwords"][user]).authenticated(), prefix
    assert out["imagesCaCertificate"] != out["cacheCaCertificate"]  # each registry has its own CA
    state = platform.state_text()
    passwords = [p for prefix in ("images", "cache") for p in out[f"{prefix}Passwords"].values()]
    assert len(passwords) == 3 and not [p for p in passwords if p in state], "a password in plaintext in the state"
    platform.pulumi("preview", "--expect-no-changes")


def test_destroy_removes_both(platform: Stack) -> None:
    platform.pulumi("destroy", "--yes")
    for prefix in ("images", "cache"):
        assert run(["docker", "inspect", f"registry-{platform.name}-{prefix}"], check=False).returncode != 0


def test_a_handed_in_provider_is_the_cluster(project: Path, workdir: Path) -> None:
    """A program holding its cluster's kubeconfig hands the component its provider (examples/own-cluster):
    the pull secret lands in that cluster through it, with no `kubernetes.context`, no provider of
    the component's own and no KUBECONFIG in the environment, and destroy removes it there.
    """
    kubeconfig = Path(os.environ["KUBECONFIG"]).read_text()
    name = f"e2e-pkg-own-{os.urandom(3).hex()}"
    secret = f"{name}-pull"
    stack = Stack(workdir, name, project_dir=project.parent / "own-cluster")
    stack.env.pop("KUBECONFIG")  # only the program's provider knows the cluster
    settings = {"image": REGISTRY_IMAGE, "pullImage": False, "retainData": False}
    settings["pullSecret"] = {"name": secret}  # the example's pull user, behind its pullPort
    stack.init({"port": free_port(), "pullPort": free_port(), "registry": settings})
    stack.set_secret("kubeconfig", kubeconfig)
    kubectl = ["kubectl", "-n", "default", "get", "secret", secret, "-o", "jsonpath={.type}"]
    try:
        seconds = stack.up()
        record(f"component package: a registry with a handed-in kubernetes provider up in {seconds:.1f} s")
        assert run(kubectl).stdout == "kubernetes.io/dockerconfigjson"
        state = json.loads(stack.pulumi("stack", "export").stdout)
        providers = [r["urn"] for r in state["deployment"]["resources"] if r["type"] == "pulumi:providers:kubernetes"]
        assert [urn.rsplit("::", 1)[1] for urn in providers] == ["cluster"], providers
        longest = max(kubeconfig.splitlines(), key=len).strip()  # certificate or key data: no JSON escaping
        assert len(longest) > 40 and longest not in stack.state_text(), "the kubeconfig in plaintext in the state"
        assert stack.outputs()["pullSecretNamespaces"] == ["default"]
        stack.pulumi("preview", "--expect-no-changes")
        stack.pulumi("destroy", "--yes")
        assert run(kubectl, check=False).returncode != 0, "the pull secret outlived destroy"
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "rm", "-f", f"registry-{name}-images", f"registry-{name}-images-pull"], check=False)
        run(["docker", "volume", "rm", f"registry-data-{name}-images"], check=False)
        run(["kubectl", "-n", "default", "delete", "secret", secret, "--ignore-not-found"], check=False)


def mypy_errors(program: str, python: Path, where: Path) -> tuple[int, list[str]]:
    """mypy's exit code and error lines for `program`, seeing the packages installed for `python`."""
    (where / "program.py").write_text(program)
    result = subprocess.run(
        # No project config here (the directory is empty), mypy's defaults: as in another team's repository.
        [sys.executable, "-m", "mypy", "--python-executable", str(python), "--no-error-summary", "program.py"],
        cwd=where,
        capture_output=True,
        text=True,
    )
    return result.returncode, [line for line in result.stdout.splitlines() if ": error: " in line]


def test_mypy_reads_the_installed_packages_types(project: Path, workdir: Path) -> None:
    """The TypedDict promise holds only if mypy analyses the installed package (PEP 561 `py.typed`):
    without the marker it skips `private_registry` and a misspelt key passes unnoticed.
    """
    python = project / "venv" / "bin" / "python"
    where = workdir / "mypy"
    where.mkdir()
    head = "from private_registry import PrivateRegistryArgs, RegistrySettings\n"
    good = mypy_errors(
        head + 'settings: RegistrySettings = {"port": 5000, "kubernetes": {"context": "prod"}}\n'
        'PrivateRegistryArgs.of(settings, instance="x")\n',
        python,
        where,
    )
    assert good == (0, []), good
    code, errors = mypy_errors(head + 'PrivateRegistryArgs.of({"prot": 5000}, instance="x")\n', python, where)
    assert code == 1 and len(errors) == 1 and 'Extra key "prot" for TypedDict "RegistrySettings"' in errors[0], errors


def test_the_release_tag_installs_from_a_git_url(workdir: Path) -> None:
    """The documented install, `pip install git+<url>@v<version>`, from a local git URL: a bare copy of
    the repository with its tags, the tag of the version in pyproject.toml, a fresh virtualenv; the
    tagged release's own example program tests run against what pip installed.
    """
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    tag = f"v{version}"
    mirror = workdir / "release.git"
    run(["git", "clone", "-q", "--mirror", str(REPO), str(mirror)])
    git = ["git", "--git-dir", str(mirror)]
    kind = run([*git, "cat-file", "-t", tag], check=False).stdout.strip()
    if kind:
        # The repository carries the release tag: it must be annotated and on a commit of this version.
        assert kind == "tag", f"{tag} is a lightweight tag; releases are annotated: git tag -a {tag} <commit> -m '...'"
        tagged = tomllib.loads(run([*git, "show", f"{tag}:pyproject.toml"]).stdout)["project"]["version"]
        assert tagged == version, f"{tag} points at a commit of version {tagged}"
        origin = "the repository's own tag"
    else:
        # A clone of the branch alone (CI's) carries no tags: the bare copy gets the annotated tag the
        # release would have, on this commit, whose pyproject.toml is of that version by construction.
        identity = ["-c", "user.name=e2e", "-c", "user.email=e2e@localhost"]  # CI's machine may have none
        run([*git, *identity, "tag", "-a", tag, "HEAD", "-m", f"release {version} (made by the test: the clone has no tags)"])
        origin = "a tag the test put on HEAD of a bare copy (this clone has no tags)"
    started = time.perf_counter()
    python = fresh_virtualenv(workdir / "release-venv", f"git+file://{mirror}@{tag}")
    elapsed = time.perf_counter() - started
    record(f"component package: {tag} ({origin}) installed from a git URL into a fresh virtualenv in {elapsed:.1f} s")
    shown = run([str(python), "-c", "import private_registry as p; print(p.__version__, p.__file__)"], cwd="/").stdout.split()
    assert shown[0] == version and shown[1].startswith(str(workdir / "release-venv")), shown
    # The example program of that release, with its program tests under mocks, on the installed package.
    tree = workdir / "release-tree"
    tree.mkdir()
    run([*git, "archive", "--format=tar", "-o", str(workdir / "release.tar"), tag, "examples/platform"])
    run(["tar", "-xf", str(workdir / "release.tar"), "-C", str(tree)])
    example = tree / "examples" / "platform"
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(example / "requirements.txt")])
    assert_program_tests_pass(python, example)
