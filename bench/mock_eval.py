"""Benchmark: the dev stack program under mocks in fresh processes, against the floor of its SDK imports.

Run: venv/bin/python bench/mock_eval.py [samples]. Each sample is two fresh Python processes, run
alternately: one imports the SDKs and the program and evaluates `__main__.py` with the dev stack's
settings (Pulumi.dev.yaml, bcrypt cost lowered: see EVALUATE) under `tests/program_harness.py`'s
mocks, printing where time goes; the other only imports the SDK modules that evaluation loaded
(the floor any program using them pays).
Times are CPU seconds of each process (`time.process_time`): on this shared, loaded machine wall
time mostly measures the neighbours. Prints the phases (medians), the ratio of the two, and what
the program registered (counted, never hard-coded here: tests/test_program.py asserts the graph).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from common import REPO, alternate, print_times, ratio, samples_from_env, save

TARGET = 1.5
SDK_PACKAGES = ("pulumi", "pulumi_tls", "pulumi_docker", "pulumi_kubernetes")

# One fresh process: SDK imports, the program's own imports, then one evaluation under mocks.
EVALUATE = r"""
import json, sys, time
t0 = time.process_time()
import pulumi
t1 = time.process_time()
import pulumi_tls, pulumi_docker
t2 = time.process_time()
sys.path.insert(0, ".")
import components.private_registry  # the program's own imports, the parts of pulumi_kubernetes it uses among them
t3 = time.process_time()
import yaml
from tests.program_harness import evaluate
t4 = time.process_time()
dev = yaml.safe_load(open("Pulumi.dev.yaml"))["config"]
settings = {k.split(":", 1)[1]: v for k, v in dev.items()}
# Under mocks the htpasswd stand-in hashes inline (a real run hashes in the provider process, on
# create only): the lowest cost keeps that provider work out of the program's evaluation time.
settings["bcryptCost"] = 4
run = evaluate(settings)
t5 = time.process_time()
sdk = sorted(m for m in sys.modules if m.split(".")[0] in PACKAGES)
types = {}
for r in run.registrations:
    types[r.type] = types.get(r.type, 0) + 1
assert "pulumi_kubernetes.core.v1" not in sys.modules
t6 = time.process_time()
import pulumi_kubernetes.core.v1  # not used by the program: measured for comparison only
t7 = time.process_time()
from components.htpasswd import hash_password
hash_password("x" * 24, int(dev.get("private-registry:bcryptCost", 10)))  # what the stand-in would add at the dev cost
t8 = time.process_time()
print(json.dumps({"phases": {
    "import pulumi": t1 - t0,
    "import pulumi_tls + pulumi_docker": t2 - t1,
    "import components (+ pulumi_kubernetes parts)": t3 - t2,
    "import harness (yaml, mocks)": t4 - t3,
    "evaluate program under mocks": t5 - t4,
    "total": t5 - t0,
    "(avoided) import pulumi_kubernetes.core.v1": t7 - t6,
    "(not counted) one bcrypt hash at the dev stack's cost": t8 - t7,
}, "registrations": len(run.registrations), "types": types, "sdk_modules": sdk}))
""".replace("PACKAGES", repr(SDK_PACKAGES))

# The floor: a fresh process importing only the SDK modules the evaluation above loaded.
IMPORT_ONLY = r"""
import importlib, json, sys, time
modules = json.loads(sys.argv[1])
t0 = time.process_time()
for name in modules:
    importlib.import_module(name)
print(json.dumps({"total": time.process_time() - t0}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else samples_from_env(5)
    first = child(EVALUATE)  # warms the bytecode caches and names the SDK modules the program loads
    modules = json.dumps(first["sdk_modules"])
    runs: list[dict] = []
    floors: list[dict] = []
    times = alternate(
        {
            "fresh process: program under mocks": lambda: runs.append(child(EVALUATE)),
            f"fresh process: import of the {len(first['sdk_modules'])} SDK modules it loads": lambda: floors.append(
                child(IMPORT_ONLY, modules)
            ),
        },
        n,
    )
    # The count is printed, not asserted: the program tests own the graph (tests/test_program.py).
    short = {"pulumi-python:dynamic:Resource": "dynamic", "pulumi:providers:kubernetes": "kubernetes provider"}
    kinds = ", ".join(f"{count} {short.get(kind, kind.rsplit(':', 1)[-1])}" for kind, count in sorted(first["types"].items()))
    print(f"dev stack under mocks: {first['registrations']} registrations ({kinds})")
    print(f"phases, {n} fresh processes, median CPU seconds (in-process, interpreter start excluded):")
    for phase in runs[0]["phases"]:
        values = [r["phases"][phase] for r in runs]
        print(f"  {phase:56s} {statistics.median(values):6.3f}  (min {min(values):.3f}, max {max(values):.3f})")
    inner = {
        "program under mocks (imports + evaluation)": [r["phases"]["total"] for r in runs],
        "SDK imports only": [f["total"] for f in floors],
    }
    print("in-process CPU seconds per sample (the ratio uses these):")
    print_times(inner)
    print("whole fresh processes, wall seconds, for reference:")
    print_times(times)
    result = ratio("program under mocks / import of the SDK modules it uses", inner, *inner, TARGET)
    phases = {p: statistics.median(r["phases"][p] for r in runs) for p in runs[0]["phases"]}
    note = (
        f"dev stack under mocks, fresh process (`bench/mock_eval.py`, median of {n}): {phases['total']:.2f} s CPU in total: "
        f"`import pulumi` {phases['import pulumi']:.2f}, pulumi_tls + pulumi_docker "
        f"{phases['import pulumi_tls + pulumi_docker']:.2f}, the program's own imports "
        f"{phases['import components (+ pulumi_kubernetes parts)']:.2f}, harness {phases['import harness (yaml, mocks)']:.2f}, "
        f"evaluation {phases['evaluate program under mocks']:.2f} ({first['registrations']} registrations); importing "
        f"`pulumi_kubernetes.core.v1` (avoided) would add {phases['(avoided) import pulumi_kubernetes.core.v1']:.2f}"
    )
    save("mock_eval", [result], [note])


if __name__ == "__main__":
    main()
