"""CPU limits of the registry on both targets: `container.cpus` (target docker) and the default of
`pods.resources` (target kubernetes), through the settings and the whole program under mocks.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from components.model import DockerTarget, SettingsError
from components.pods import DEFAULT_RESOURCES
from components.registry import cpus_option
from components.settings import load_settings
from components.settings_target import cpus_ok
from tests.program_harness import evaluate
from tests.test_program import CONTAINER, DEV
from tests.test_program_kube import DEPLOYMENT, S3


def cpus_of(container: dict[str, Any]) -> float:
    target = load_settings({"container": container}, "dev").target
    assert isinstance(target, DockerTarget)
    return target.limits.cpus


def test_a_registry_container_gets_one_cpu_unless_the_stack_says_otherwise() -> None:
    assert cpus_of({}) == 1
    assert (cpus_of({"cpus": 1.5}), cpus_of({"cpus": 0.1}), cpus_of({"cpus": 2})) == (1.5, 0.1, 2)
    assert cpus_of({"cpus": 0}) == 0  # no limit
    assert cpus_option(0) is None and cpus_option(0.0) is None  # left out: Docker's own "no limit"


@pytest.mark.parametrize(
    ("cpus", "read_back"),
    [(1, "1.0"), (1.0, "1.0"), (0.5, "0.5"), (1.5, "1.5"), (2, "2.0"), (10, "10."), (10.5, "10.5"), (1024, "1024.")],
)
def test_the_limit_is_written_as_the_docker_provider_reads_it_back(cpus: float, read_back: str) -> None:
    # The provider's nanoInt64ToDecimalString of the container's NanoCpus: any other text is a
    # change in every preview, and a change of `cpus` replaces the container.
    assert cpus_option(cpus) == read_back and Fraction(read_back) == Fraction(str(cpus))


@pytest.mark.parametrize("bad", [-1, 0.01, 0.05, 0.25, 1.05, 2048, "1", True, None, [1]])
def test_a_cpu_limit_docker_would_refuse_is_named_before_anything_is_created(bad: Any) -> None:
    assert not cpus_ok(bad)
    with pytest.raises(SettingsError) as caught:
        load_settings({"container": {"cpus": bad}}, "dev")
    (problem,) = caught.value.problems
    assert problem.startswith(
        f"private-registry:container.cpus = {bad!r}: must be a number of CPUs in 0.1..1024 in steps of 0.1"
    ), problem
    assert "or 0: no limit" in problem


def test_every_registry_container_runs_with_the_cpu_limit() -> None:
    run = evaluate({**DEV, "pullPort": 5001, "users": [{"name": "ci"}, {"name": "puller", "access": "pull"}]})
    containers = run.of_type(CONTAINER)
    assert len(containers) == 2 and all(c.inputs["cpus"] == "1.0" for c in containers)  # the registry and its reader
    lifted = evaluate({**DEV, "container": {"cpus": 0}})
    assert "cpus" not in lifted.one(CONTAINER).inputs
    assert evaluate({**DEV, "container": {"cpus": 1.5}}).one(CONTAINER).inputs["cpus"] == "1.5"


def test_the_registry_pods_get_a_cpu_limit_by_default_and_a_stacks_own_resources_as_given() -> None:
    assert DEFAULT_RESOURCES["limits"] == {"cpu": "1", "memory": "512Mi"}
    run = evaluate(S3, secret_keys=["private-registry:storage"])
    resources = run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    own = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}}  # no CPU limit: lifted
    run = evaluate({**S3, "pods": {"resources": own}}, secret_keys=["private-registry:storage"])
    assert run.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]["resources"] == own
