"""The component package: one version everywhere, the same pins as requirements.txt, the right layout."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import components

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def pins(lines: list[str]) -> dict[str, str]:
    """name -> version of each `name==version` line (one with extras is not taken as a plain pin)."""
    return {name: version for name, (version, extras) in requirement_lines(lines).items() if not extras}


def test_one_version_in_pyproject_package_and_changelog() -> None:
    changelog = re.search(r"^## (\S+) \(", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert changelog, "CHANGELOG.md has no release heading"
    assert PROJECT["project"]["version"] == components.__version__ == changelog.group(1)


def test_dependencies_are_exact_and_agree_with_requirements() -> None:
    declared = pins(PROJECT["project"]["dependencies"])
    assert len(declared) == len(PROJECT["project"]["dependencies"]), "every dependency pinned with =="
    required = pins((REPO / "requirements.txt").read_text().splitlines())
    assert {name: required.get(name) for name in declared} == declared
    assert set(declared) == {
        *("pulumi", "pulumi-tls", "pulumi-docker", "pulumi-kubernetes", "bcrypt", "cryptography"),
        *("docker", "paramiko"),  # the Docker Engine API for target docker's own steps, ssh:// hosts
        "kubernetes",  # the Kubernetes API for the pull gate and the node-trust cleanup (kube_api.py)
    }


def test_the_directory_components_is_installed_as_private_registry() -> None:
    setuptools = PROJECT["tool"]["setuptools"]
    assert setuptools["packages"] == ["private_registry"]
    assert setuptools["package-dir"] == {"private_registry": "components"}
    assert PROJECT["build-system"]["requires"] == ["setuptools==84.2.1"]


def test_the_package_imports_only_relatively() -> None:
    """Absolute `components.` imports would break once installed as `private_registry`."""
    offenders = [
        f"{path.name}:{number}"
        for path in sorted((REPO / "components").glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*(from|import)\s+components\b", line)
    ]
    assert not offenders, offenders


def test_the_package_ships_its_type_marker() -> None:
    """PEP 561: without `py.typed` mypy skips the installed package (tests/e2e/test_component_package.py runs it)."""
    assert (REPO / "components" / "py.typed").is_file()
    assert PROJECT["tool"]["setuptools"]["package-data"] == {"private_registry": ["py.typed"]}


def requirement_pins(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (version, extras) of each `name[extras]==version` line of a requirements file."""
    return requirement_lines(path.read_text().splitlines())


def requirement_lines(lines: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[([\w,]+)\])?==([^\s#;]+)\s*(#.*)?", line)
        if match:
            extras = tuple(match.group(2).split(",")) if match.group(2) else ()
            found[normalized(match.group(1))] = (match.group(3), extras)
    return found


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(roots: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """name -> installed version of `roots` (name -> extras) and all they require, as the venv holds them."""
    import importlib.metadata

    from packaging.requirements import Requirement

    found: dict[str, str] = {}
    todo = list(roots.items())
    while todo:
        name, extras = todo.pop()
        if normalized(name) in found:
            continue
        dist = importlib.metadata.distribution(name)
        found[normalized(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or ("",)):
                continue
            todo.append((req.name, tuple(req.extras)))
    return found


# scripts/stack_lock.py reads an S3 state backend's lock with boto3 (gc.sh): run time, not the package's
SCRIPTS_RUNTIME = {"boto3": ()}


def test_requirements_hold_exactly_what_runs_and_the_dev_file_the_rest() -> None:
    runtime = requirement_pins(REPO / "requirements.txt")
    dev_text = (REPO / "requirements-dev.txt").read_text()
    dev = requirement_pins(REPO / "requirements-dev.txt")
    package = {normalized(name): () for name in pins(PROJECT["project"]["dependencies"])}
    wanted = installed_closure({**package, **SCRIPTS_RUNTIME})
    assert {name: version for name, (version, _) in runtime.items()} == wanted, (
        "requirements.txt must pin the package's dependencies, boto3 and all they need, nothing else"
    )
    assert re.search(r"^-r requirements\.txt$", dev_text, re.MULTILINE)
    assert not set(runtime) & set(dev), "a run-time pin repeated in requirements-dev.txt"
    everything = {name: version for name, (version, _) in {**runtime, **dev}.items()}
    needed = installed_closure({name: extras for name, (_, extras) in dev.items()})
    assert {name: everything.get(name) for name in needed} == needed, "a development dependency is not pinned"
