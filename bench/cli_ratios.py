"""Benchmark: the real CLI on throwaway stacks in the sandbox, each ratio measured side by side.

Run (sandbox up, its environment and the toolchain's exported, as scripts/test.sh does):
    venv/bin/python bench/cli_ratios.py [samples]
Ratios (medians of alternated samples, A B A B ...):
  - dev stack / minimal program (bench/minimal: one tls key, one docker volume, one kubernetes Secret),
    both in cluster mode against the sandbox: `pulumi up` (create), no-op `pulumi preview`, no-op
    `pulumi up`; the minimal program with one trivial dynamic-provider resource added is a third side
    of the preview round, pricing the dynamic provider's own Python process;
  - no-op preview with 50 users and 50 namespaces / with 1 and 1 (both in render mode);
  - no-op preview with 5 users at bcrypt cost 14 / at cost 4 (no pull secrets on either side).
Every stack has its own file backend, container, volume, port and pull secret name, and is destroyed
at the end, whatever happens.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from common import REPO, Ratio, alternate, print_times, ratio, samples_from_env, save

from tests.e2e.helpers import Stack, copy_project, free_port, run, throwaway_registry_stack

MINIMAL = REPO / "bench" / "minimal"
# Keys throwaway_registry_stack sets itself (its own container, volume, port, a local image).
OWN_KEYS = {"image", "pullImage", "port", "containerName", "dataVolume", "retainData"}

TARGET_PREVIEW = 1.25
TARGET_UP = 1.25
TARGET_NOOP_UP = 1.25
TARGET_USERS = 1.3
TARGET_COST = 1.1


def dev_settings(suffix: str) -> dict[str, Any]:
    """The dev stack's settings (Pulumi.dev.yaml), with a pull secret name no other stack uses."""
    config = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    settings = {key.split(":", 1)[1]: value for key, value in config.items()}
    settings = {k: v for k, v in settings.items() if k not in OWN_KEYS}
    pull = dict(settings.get("pullSecret") or {})
    pull["name"] = f"bench-pull-{suffix}"
    if "pullPort" in settings:  # the read-only instance gets a host port of its own too
        settings["pullPort"] = free_port()
    return {**settings, "pullSecret": pull}


def render_mode(stack: Stack, folder: Path) -> dict[str, Any]:
    """Render settings; the stack also loses its cluster access, as the render e2e test does."""
    stack.env["KUBECONFIG"] = str(folder.parent / "no-such-kubeconfig")
    return {"kubernetes": {"mode": "render", "renderDirectory": str(folder)}}


@contextmanager
def minimal_stack(workdir: Path, name: str, config: dict[str, Any]) -> Iterator[Stack]:
    """A stack of bench/minimal with its own volume and Secret name; destroyed and removed after."""
    suffix = os.urandom(3).hex()
    volume = f"bench-{name}-{suffix}"
    stack = Stack(workdir, name, project_dir=copy_project(workdir / "project", MINIMAL, names=("Pulumi.yaml", "__main__.py")))
    stack.init({"volumeName": volume, "secretName": f"bench-{name}-{suffix}", **config})
    try:
        yield stack
    finally:
        stack.pulumi("destroy", "--yes", check=False)
        run(["docker", "volume", "rm", volume], check=False)


def step_durations(transcript: list[str], at_least: float = 0.5) -> dict[str, list[float]]:
    """The create steps the CLI reported taking `at_least` seconds (`+  type name created (3s)`),
    per resource type and name, from a stack's transcript.
    """
    found: dict[str, list[float]] = {}
    for text in transcript:
        for kind, name, seconds in re.findall(r"\+\s+(\S+) (\S+) created \(([\d.]+)s\)", text):
            if float(seconds) >= at_least and not kind.startswith("pulumi:pulumi:Stack"):
                found.setdefault(f"{kind.rsplit(':', 1)[-1]} {name}", []).append(float(seconds))
    return found


def preview(stack: Stack) -> None:
    stack.pulumi("preview", "--expect-no-changes")


def noop_up(stack: Stack) -> None:
    stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes")


def destroy(*stacks: Stack) -> None:
    for stack in stacks:
        stack.pulumi("destroy", "--yes")


def in_parallel(*actions: Any) -> None:
    """Set-up steps that are not timed, two at a time (this machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(a) for a in actions]:
            future.result()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else samples_from_env(3)
    suffix = os.urandom(3).hex()
    dev_config = dev_settings(suffix)
    minimal_config = {"rsaBits": dev_config["rsaBits"]} if "rsaBits" in dev_config else {}  # else both default to 4096
    ratios: list[Ratio] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp, ExitStack() as stacks:
        root = Path(tmp)
        print(f"setting up throwaway stacks under {root} ...", flush=True)
        dev = stacks.enter_context(throwaway_registry_stack(root / "dev", "bench-dev", dev_config))
        minimal = stacks.enter_context(minimal_stack(root / "minimal", "bench-minimal", minimal_config))
        dynamic = stacks.enter_context(minimal_stack(root / "dynamic", "bench-dynamic", {**minimal_config, "dynamic": True}))

        print(f"pulumi up (create), {n} rounds, destroyed between rounds:", flush=True)
        creates = alternate(
            {"dev stack: up (create)": dev.up, "minimal program: up (create)": minimal.up},
            n,
            between=lambda: destroy(dev, minimal),
        )
        print_times(creates)
        ratios.append(ratio("pulumi up (create): dev stack / minimal program", creates, *creates, TARGET_UP))
        steps = step_durations(dev.transcript)
        shown = ", ".join(f"{name} {statistics.median(values):.1f} s" for name, values in sorted(steps.items()))
        notes.append(f"`pulumi up` (create) of the dev stack, the slowest steps as the CLI reports them (medians): {shown}")
        print(f"  {notes[-1]}", flush=True)

        # The other stacks, created (untimed) now that the create round is over.
        users50 = [{"name": f"user{i:02d}"} for i in range(50)]
        namespaces50 = [f"ns{i:02d}" for i in range(50)]
        many = stacks.enter_context(throwaway_registry_stack(root / "many", "bench-50x50", {}))
        one = stacks.enter_context(throwaway_registry_stack(root / "one", "bench-1x1", {}))
        many.configure(
            {
                "users": users50,
                "pullSecret": {"namespaces": namespaces50, "allowPushUser": True},
                **render_mode(many, root / "many" / "rendered"),
            }
        )
        one.configure(
            {
                "users": [{"name": "user00"}],
                "pullSecret": {"namespaces": ["ns00"], "allowPushUser": True},
                **render_mode(one, root / "one" / "rendered"),
            }
        )
        five = [{"name": f"user{i}"} for i in range(5)]
        cost14 = stacks.enter_context(
            throwaway_registry_stack(
                root / "cost14", "bench-cost14", {"users": five, "bcryptCost": 14, "pullSecret": {"namespaces": []}}
            )
        )
        cost4 = stacks.enter_context(
            throwaway_registry_stack(
                root / "cost4", "bench-cost4", {"users": five, "bcryptCost": 4, "pullSecret": {"namespaces": []}}
            )
        )
        print("creating the other stacks (untimed) ...", flush=True)
        in_parallel(dev.up, minimal.up)
        in_parallel(dynamic.up, many.up)
        in_parallel(one.up, cost4.up)
        cost14.up()

        print(f"no-op pulumi preview, {n} rounds:", flush=True)
        previews = alternate(
            {
                "dev stack: no-op preview": lambda: preview(dev),
                "minimal program: no-op preview": lambda: preview(minimal),
                "minimal program + 1 dynamic resource: no-op preview": lambda: preview(dynamic),
            },
            n,
        )
        print_times(previews)
        names = list(previews)
        ratios.append(ratio("no-op preview: dev stack / minimal program", previews, names[0], names[1], TARGET_PREVIEW))
        # Not targets: where the dev stack's extra time goes (its dynamic provider's own Python process).
        dynamic_alone = ratio(
            "  (reference) minimal + 1 dynamic resource / minimal", previews, names[2], names[1], TARGET_PREVIEW
        )
        dev_beyond = ratio("  (reference) dev stack / minimal + 1 dynamic resource", previews, names[0], names[2], TARGET_PREVIEW)
        notes.append(
            "no-op preview, not targets: one dynamic-provider resource added to the minimal program "
            f"{dynamic_alone.value:.2f} ({dynamic_alone.cpu_text() or 'no CPU figure'}); the dev stack against that "
            f"{dev_beyond.value:.2f} ({dev_beyond.cpu_text() or 'no CPU figure'})"
        )

        print(f"no-op pulumi up, {n} rounds:", flush=True)
        ups = alternate({"dev stack: no-op up": lambda: noop_up(dev), "minimal program: no-op up": lambda: noop_up(minimal)}, n)
        print_times(ups)
        ratios.append(ratio("no-op up: dev stack / minimal program", ups, *ups, TARGET_NOOP_UP))

        print(f"no-op pulumi preview, 50 users and 50 namespaces / 1 and 1 (render mode), {n} rounds:", flush=True)
        users = alternate(
            {
                "50 users, 50 namespaces: no-op preview": lambda: preview(many),
                "1 user, 1 namespace: no-op preview": lambda: preview(one),
            },
            n,
        )
        print_times(users)
        ratios.append(ratio("no-op preview: 50 users and 50 namespaces / 1 and 1", users, *users, TARGET_USERS))

        print(f"no-op pulumi preview, 5 users at bcrypt cost 14 / cost 4, {n} rounds:", flush=True)
        costs = alternate(
            {"bcrypt cost 14: no-op preview": lambda: preview(cost14), "bcrypt cost 4: no-op preview": lambda: preview(cost4)}, n
        )
        print_times(costs)
        ratios.append(ratio("no-op preview: 5 users at bcrypt cost 14 / cost 4", costs, *costs, TARGET_COST))
        print("destroying the throwaway stacks ...", flush=True)
    save("cli_ratios", ratios, notes)


if __name__ == "__main__":
    main()
