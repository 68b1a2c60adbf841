"""End-to-end fixtures: the real `pulumi` CLI against a file backend, the sandbox's dockerd and API server.

`scripts/test.sh` builds the toolchain, starts the sandbox and exports its environment before these
tests run; without that environment they fail (they are never skipped).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

# Run from a background job (`cmd &`, as CI runners and nohup do), SIGINT arrives ignored and stays
# ignored in every child: the pulumi CLI stops its plugins with SIGINT and kills them only after 5 s,
# so each pulumi command would take 5 s longer. A handler of our own is reset in children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def e2e_environment() -> None:
    missing = [tool for tool in ("pulumi", "docker", "kubectl", "skopeo") if shutil.which(tool) is None]
    missing += [var for var in ("DOCKER_HOST", "KUBECONFIG") if not os.environ.get(var)]
    if missing:
        pytest.fail(
            f"end-to-end environment incomplete ({', '.join(missing)}): run them through scripts/test.sh, "
            "which builds the toolchain and starts the sandbox",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("e2e")
