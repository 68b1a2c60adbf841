"""End to end on the sandbox: the Docker target's containers run hardened, and stacks of the last
releases before it (main at 512e699, before capabilities were dropped, and at 3814098, before the
non-root user and the read-only root file system) move over in place with their images.

What `docker inspect` and `docker exec` show: a non-root user (1000), a read-only root file system
with a tmpfs at /tmp, every capability dropped, `no-new-privileges`, the memory and CPU limits and
json-file log rotation of setting `container`, the key and htpasswd mode 0400 and the user's (the
cert 0444); push, pull and the health check as before; a plain and a `--refresh` preview stay
clean; `container.cpus: 0` lifts the CPU limit (the container replaced, its images kept).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.faults import RegistryClient
from tests.e2e.helpers import free_port, record, run, throwaway_registry_stack
from tests.e2e.test_images import on_bridge
from tests.e2e.test_upgrade import stack_of_old_program, upgrade

# main before the hardening, and before its second part (non-root, read-only root, the config volume)
MAINS_BEFORE = ("512e69939597f43dd2dc98d5f87f2f6422e9001e", "381409869b89cbadd538c9608a8be5583b851a21")


def hardened(container: str, memory_mib: int, log: tuple[str, str], cpus: float = 1) -> str:
    """Asserts what the container runs with; returns a one-line summary."""
    inspected = json.loads(run(["docker", "inspect", container]).stdout)[0]
    host = inspected["HostConfig"]
    assert host["CapDrop"] in (["ALL"], ["all"]), host["CapDrop"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"], host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] == memory_mib * 1024 * 1024, (host["Memory"], host["MemorySwap"])
    assert host["NanoCpus"] == round(cpus * 1e9) and not host["CpuQuota"], (host["NanoCpus"], host["CpuQuota"])
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": log[0], "max-file": log[1]}}, host["LogConfig"]
    assert inspected["State"]["Health"]["Status"] == "healthy"
    modes = run(
        ["docker", "exec", container, "/bin/busybox", "stat", "-c", "%a %u %n",
         "/etc/distribution/certs/tls.key", "/etc/distribution/auth/htpasswd", "/etc/distribution/certs/tls.crt"]
    ).stdout.split("\n")  # fmt: skip
    assert [m.split(" ")[:2] for m in modes if m] == [["400", "1000"], ["400", "1000"], ["444", "1000"]], modes
    assert (inspected["Config"]["User"], host["ReadonlyRootfs"]) == ("1000:1000", True), (inspected["Config"]["User"], host)
    assert host["Tmpfs"] == {"/tmp": "rw,noexec,nosuid,size=64m"}, host["Tmpfs"]
    refused = run(["docker", "exec", container, "/bin/busybox", "touch", "/etc/distribution/auth/x", "/x"], check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr, refused.stderr
    status = run(["docker", "exec", container, "/bin/busybox", "cat", "/proc/1/status"]).stdout
    effective = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {"1000"}, uids
    no_new = next(line.split()[1] for line in status.splitlines() if line.startswith("NoNewPrivs:"))
    assert effective == "0000000000000000" and no_new == "1", (effective, no_new)
    return (
        f"user {inspected['Config']['User']} (Uid {' '.join(uids)}), ReadonlyRootfs {host['ReadonlyRootfs']}, "
        f"CapDrop {host['CapDrop']}, CapEff {effective}, NoNewPrivs {no_new}, Memory {host['Memory']}, "
        f"NanoCpus {host['NanoCpus']}, "
        f"logs {host['LogConfig']['Config']}, key and htpasswd mode 400 owned by 1000"
    )


def test_the_registry_container_runs_hardened(workdir: Path) -> None:
    limits = {"memoryMiB": 256, "cpus": 0.5, "logMaxSize": "5m", "logMaxFiles": 2}
    settings = on_bridge(free_port(), container=limits)
    with throwaway_registry_stack(workdir / "hardened", "e2e-hardened", settings) as s:
        s.up()
        out: dict[str, Any] = s.outputs()
        summary = hardened(out["containerName"], 256, ("5m", "2"), cpus=0.5)
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        image = client.push_image("team/app", "1")
        client.assert_image("team/app", "1", image)
        s.pulumi("preview", "--expect-no-changes")
        s.pulumi("preview", "--refresh", "--expect-no-changes")
        # `cpus: 0` lifts the CPU limit: the container is replaced (the provider's way for `cpus`), the images stay.
        s.configure({"container": {**limits, "cpus": 0}})
        planned = {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in s.preview_steps()}
        assert planned == {("replace", "registry-registry-container")}, planned
        s.up()
        lifted = hardened(out["containerName"], 256, ("5m", "2"), cpus=0)
        client.assert_image("team/app", "1", image)
        s.pulumi("preview", "--refresh", "--expect-no-changes")
        record(f"hardening, target docker: {summary}; with cpus 0: {lifted.split('NanoCpus ')[1].split(',')[0]} NanoCpus")


@pytest.mark.parametrize("commit", MAINS_BEFORE, ids=lambda c: c[:7])
def test_a_stack_of_an_earlier_main_moves_over_in_place_with_its_images(workdir: Path, commit: str) -> None:
    name = f"harden-{commit[:7]}"
    with stack_of_old_program(workdir, name, commit, {"users": [{"name": "ci"}]}) as (stack, container):
        stack.up()
        out: dict[str, Any] = stack.outputs()
        client = RegistryClient(out["endpoint"], out["caCertificate"], "ci", out["passwords"]["ci"])
        image = client.push_image("team/kept", "1")  # written as root by the old container
        upgrade(stack)
        steps = stack.preview_steps()
        planned = {(step["op"], step["urn"].rsplit("::", 1)[-1]) for step in steps}
        assert {("replace", "registry-registry-container"), ("create", "registry-registry-config-files")} <= planned, json.dumps(
            steps, indent=1
        )[:3000]
        # The target guard records what it now keeps (the pull secrets' namespaces) in place; nothing else is updated.
        moved = {(op, n) for op, n in planned if op not in ("create", "replace") or n.endswith("-data")}
        assert moved <= {("update", "registry-target")}, planned
        seconds = stack.up()
        after: dict[str, Any] = stack.outputs()
        assert (after["dataVolume"], after["passwords"]["ci"]) == (out["dataVolume"], out["passwords"]["ci"])
        client.assert_image("team/kept", "1", image)
        # The data volume now belongs to the registry's user: the non-root registry writes into it.
        owners = run(["docker", "exec", container, "/bin/busybox", "find", "/var/lib/registry", "!", "-user", "1000"]).stdout
        assert owners.strip() == "", owners[:500]
        client.assert_image("team/after", "1", client.push_image("team/after", "1"))
        summary = hardened(container, 512, ("10m", "3"))
        stack.pulumi("preview", "--expect-no-changes")
        record(
            f"hardening: a stack of main {commit[:7]} upgraded in place in {seconds:.1f} s "
            f"(the container replaced once, its images kept and the data volume given to user 1000): {summary}"
        )
