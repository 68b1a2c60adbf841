"""Benchmark: evaluate the dev stack program under mocks in fresh processes; print where time goes.

Run: venv/bin/python bench/mock_eval.py [runs]. Prints per-phase figures (median of the runs) for a
cold Python process: SDK imports, then one evaluation of __main__.py with the dev stack's settings.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import pulumi
t1 = time.perf_counter()
import pulumi_tls, pulumi_docker
t2 = time.perf_counter()
sys.path.insert(0, ".")
import components.private_registry  # the program's own imports, pulumi_kubernetes among them
t3 = time.perf_counter()
import yaml
from tests.program_harness import evaluate
dev = yaml.safe_load(open("Pulumi.dev.yaml"))["config"]
settings = {k.split(":", 1)[1]: v for k, v in dev.items()}
t4 = time.perf_counter()
run = evaluate(settings)
t5 = time.perf_counter()
assert len(run.registrations) == 16, len(run.registrations)  # 5 components, 11 resources
assert "pulumi_kubernetes.core.v1" not in sys.modules
import pulumi_kubernetes.core.v1  # not used by the program: measured for comparison only
t6 = time.perf_counter()
print(json.dumps({"import pulumi": t1 - t0, "import pulumi_tls+pulumi_docker": t2 - t1,
                  "import components (+pulumi_kubernetes)": t3 - t2, "evaluate program": t5 - t4, "total": t5 - t0,
                  "(avoided) import pulumi_kubernetes.core.v1": t6 - t5}))
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, check=True, capture_output=True, text=True).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    print(f"dev stack under mocks, {runs} fresh processes, median seconds:")
    for phase in samples[0]:
        values = [s[phase] for s in samples]
        print(f"  {phase:44s} {statistics.median(values):6.3f}  (min {min(values):.3f}, max {max(values):.3f})")


if __name__ == "__main__":
    main()
