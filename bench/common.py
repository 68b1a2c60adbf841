"""What every benchmark shares: side-by-side sampling (A B A B ...), medians, ratios against targets.

The machines are shared and noisy, so no benchmark judges an absolute time: each compares two sides
measured alternately in the same run. A ratio above its target prints MISS and the run goes on
(benchmarks are not timed tests); a benchmark that crashes fails the run.
"""

from __future__ import annotations

import json
import os
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

# Where each benchmark leaves its ratios for bench/run_all.py's summary and the README table.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", REPO / ".bench"))


def samples_from_env(default: int) -> int:
    """How many samples per side: BENCH_SAMPLES overrides the benchmark's (small) default."""
    return int(os.environ.get("BENCH_SAMPLES", default))


def timed(action: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def alternate(
    sides: dict[str, Callable[[], object]], n: int, between: Callable[[], object] | None = None
) -> dict[str, list[float]]:
    """Time each side once per round, in turn (A B A B ...), for `n` rounds; `between` runs untimed
    after every round but the last (e.g. a destroy before the next create).
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(n):
        for name, action in sides.items():
            times[name].append(timed(action))
        if between is not None and round_ < n - 1:
            between()
    return times


@dataclass(frozen=True)
class Ratio:
    """One measured ratio `numerator / denominator` (medians) and the target it is held to."""

    name: str
    numerator: str
    denominator: str
    numerator_s: float
    denominator_s: float
    target: float
    samples: int

    @property
    def value(self) -> float:
        return self.numerator_s / self.denominator_s

    @property
    def verdict(self) -> str:
        return "PASS" if self.value <= self.target else "MISS"

    def line(self) -> str:
        return (
            f"{self.name}: {self.numerator_s:.2f} s / {self.denominator_s:.2f} s = {self.value:.2f}"
            f" (target <= {self.target:.2f}, median of {self.samples}) {self.verdict}"
        )


def ratio(name: str, times: dict[str, list[float]], numerator: str, denominator: str, target: float) -> Ratio:
    """The ratio of the two sides' medians, printed at once."""
    result = Ratio(
        name=name,
        numerator=numerator,
        denominator=denominator,
        numerator_s=statistics.median(times[numerator]),
        denominator_s=statistics.median(times[denominator]),
        target=target,
        samples=min(len(times[numerator]), len(times[denominator])),
    )
    print(f"  {result.line()}", flush=True)
    return result


def print_times(times: dict[str, list[float]]) -> None:
    """Every side's samples and median, so a ratio can be checked against its parts."""
    for name, values in times.items():
        shown = " ".join(f"{v:.2f}" for v in values)
        print(f"    {name:58s} median {statistics.median(values):6.2f} s   [{shown}]", flush=True)


def save(benchmark: str, ratios: list[Ratio], notes: list[str] | None = None) -> None:
    """Keep one benchmark's ratios (and figures that are not ratios) for the summary."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": benchmark, "ratios": [asdict(r) for r in ratios], "notes": notes or []}
    (RESULTS_DIR / f"{benchmark}.json").write_text(json.dumps(document, indent=2))


def load_all() -> list[dict[str, Any]]:
    """Every saved benchmark result, in file-name order."""
    return [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("*.json"))]
