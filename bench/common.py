"""What every benchmark shares: side-by-side sampling (A B A B ...), medians, ratios against targets.

The machines are shared and noisy, so no benchmark judges an absolute time: each compares two sides
measured alternately in the same run. A ratio above its target prints MISS and the run goes on
(benchmarks are not timed tests); a benchmark that crashes fails the run.

Besides wall time, each sample's CPU time is taken where the kernel offers per-group accounting (a
cgroup v1 `cpuacct` group of this process and everything it starts): on a loaded two-core machine
wall time also measures the neighbours, CPU time much less so. Targets are judged on wall time.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests.*` and `components.*` import from the project root
    sys.path.insert(0, str(REPO))

# Where each benchmark leaves its ratios for bench/run_all.py's summary and docs/figures.md.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", REPO / ".bench"))

# A shell starts background jobs (`cmd &`, nohup) with SIGINT ignored, and that survives exec: the
# pulumi CLI stops its plugins with SIGINT and kills them only after a 5 s grace period, so every
# pulumi command run from such a job takes 5 s longer (measured: 6.5 s instead of 1.7 s for a no-op
# preview). A handler of our own is reset to the default in every child.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuAccount:
    """CPU seconds of this process and all it starts, from a cpuacct group of its own (accounting
    only: that hierarchy schedules nothing). `seconds()` is None where the group cannot be made.
    """

    def __init__(self) -> None:
        self.group: Path | None = CPUACCT / f"private-registry-bench-{os.getpid()}"
        self.home = CPUACCT
        try:
            for line in Path("/proc/self/cgroup").read_text().splitlines():  # "4:cpuacct:/some/group"
                _, controllers, path = line.split(":", 2)
                if "cpuacct" in controllers.split(","):
                    self.home = CPUACCT / path.lstrip("/")
            self.group.mkdir()
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.group = None
            return
        atexit.register(self.close)

    def seconds(self) -> float | None:
        if self.group is None:
            return None
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """Move back to the group we came from and remove ours (left if a stray child still runs)."""
        if self.group is None:
            return
        try:
            (self.home / "cgroup.procs").write_text(str(os.getpid()))
            self.group.rmdir()
        except OSError:
            pass
        self.group = None


CPU = CpuAccount()
CPU_TIMES: dict[str, list[float]] = {}  # CPU seconds per side, filled by `alternate` alongside wall times


def samples_from_env(default: int) -> int:
    """How many samples per side: BENCH_SAMPLES overrides the benchmark's (small) default."""
    return int(os.environ.get("BENCH_SAMPLES", default))


def timed(action: Callable[[], object], name: str | None = None) -> float:
    """Wall-clock seconds of one call; with `name`, its CPU seconds go to CPU_TIMES[name]."""
    cpu_before = CPU.seconds()
    started = time.perf_counter()
    action()
    wall = time.perf_counter() - started
    cpu_after = CPU.seconds()
    if name is not None and cpu_before is not None and cpu_after is not None:
        CPU_TIMES.setdefault(name, []).append(cpu_after - cpu_before)
    return wall


def alternate(
    sides: dict[str, Callable[[], object]], n: int, between: Callable[[], object] | None = None
) -> dict[str, list[float]]:
    """Time each side once per round, in turn (A B A B ...), for `n` rounds; `between` runs untimed
    after every round but the last (e.g. a destroy before the next create).
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(n):
        for name, action in sides.items():
            times[name].append(timed(action, name))
        if between is not None and round_ < n - 1:
            between()
    return times


@dataclass(frozen=True)
class Ratio:
    """One measured ratio `numerator / denominator` (medians of wall time) and the target it is held
    to; the same ratio of CPU time where it was measured.
    """

    name: str
    numerator: str
    denominator: str
    numerator_s: float
    denominator_s: float
    target: float
    samples: int
    cpu_numerator_s: float | None = None
    cpu_denominator_s: float | None = None

    @property
    def value(self) -> float:
        return self.numerator_s / self.denominator_s

    @property
    def cpu_value(self) -> float | None:
        if self.cpu_numerator_s is None or not self.cpu_denominator_s:
            return None
        return self.cpu_numerator_s / self.cpu_denominator_s

    @property
    def verdict(self) -> str:
        return "PASS" if self.value <= self.target else "MISS"

    def cpu_text(self) -> str:
        cpu = self.cpu_value
        if cpu is None:
            return ""
        return f"CPU {self.cpu_numerator_s:.2f} s / {self.cpu_denominator_s:.2f} s = {cpu:.2f}"

    def line(self) -> str:
        cpu = f"; {self.cpu_text()}" if self.cpu_value is not None else ""
        return (
            f"{self.name}: {self.numerator_s:.2f} s / {self.denominator_s:.2f} s = {self.value:.2f}"
            f" (target <= {self.target:.2f}, median of {self.samples}{cpu}) {self.verdict}"
        )


def ratio(name: str, times: dict[str, list[float]], numerator: str, denominator: str, target: float) -> Ratio:
    """The ratio of the two sides' medians, printed at once (with the CPU ratio when measured)."""
    cpu = {side: statistics.median(CPU_TIMES[side]) for side in (numerator, denominator) if CPU_TIMES.get(side)}
    result = Ratio(
        name=name,
        numerator=numerator,
        denominator=denominator,
        numerator_s=statistics.median(times[numerator]),
        denominator_s=statistics.median(times[denominator]),
        target=target,
        samples=min(len(times[numerator]), len(times[denominator])),
        cpu_numerator_s=cpu.get(numerator),
        cpu_denominator_s=cpu.get(denominator),
    )
    print(f"  {result.line()}", flush=True)
    return result


def print_times(times: dict[str, list[float]]) -> None:
    """Every side's samples and median (wall, then CPU where measured), so a ratio can be checked."""
    for name, values in times.items():
        shown = " ".join(f"{v:.2f}" for v in values)
        line = f"    {name:58s} median {statistics.median(values):6.2f} s   [{shown}]"
        if CPU_TIMES.get(name):
            line += f"   CPU median {statistics.median(CPU_TIMES[name]):.2f} s"
        print(line, flush=True)


def save(benchmark: str, ratios: list[Ratio], notes: list[str] | None = None) -> None:
    """Keep one benchmark's ratios (and figures that are not ratios) for the summary."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": benchmark, "ratios": [asdict(r) for r in ratios], "notes": notes or []}
    (RESULTS_DIR / f"{benchmark}.json").write_text(json.dumps(document, indent=2))


def load_all() -> list[dict[str, Any]]:
    """Every saved benchmark result, in file-name order."""
    return [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
