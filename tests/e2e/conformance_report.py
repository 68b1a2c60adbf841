"""Reading the OCI distribution-spec conformance suite's JUnit report: results per workflow.

Pure functions over the XML text, so that the counting is unit-tested without a registry
(tests/test_conformance_report.py).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

SUITE = "OCI Distribution Conformance Tests"
WORKFLOWS = ("Pull", "Push", "Content Discovery", "Content Management")
OTHER = "other"  # suite-level nodes such as the HTML reporter's ReportAfterSuite


@dataclass
class WorkflowResult:
    """Spec outcomes of one workflow; failures keep their name (without suite and workflow)."""

    passed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def line(self, workflow: str) -> str:
        return f"{workflow}: passed {self.passed}, failed {self.failed}, skipped {self.skipped}"


def _locate(name: str) -> tuple[str, str]:
    """(workflow, spec text) of a Ginkgo JUnit test case name like `[It] <suite> <workflow> <context> <spec>`."""
    text = name.split("] ", 1)[1] if name.startswith("[") and "] " in name else name
    if text.startswith(SUITE + " "):
        rest = text[len(SUITE) + 1 :]
        for workflow in WORKFLOWS:
            if rest.startswith(workflow + " "):
                return workflow, rest[len(workflow) + 1 :]
    return OTHER, name


def parse_junit(xml_text: str) -> dict[str, WorkflowResult]:
    """Results per workflow (and `other`) from the suite's junit.xml."""
    results = {name: WorkflowResult() for name in (*WORKFLOWS, OTHER)}
    root = ET.fromstring(xml_text)
    cases = root.iter("testcase")
    for case in cases:
        workflow, spec = _locate(case.get("name", ""))
        result = results[workflow]
        status = case.get("status", "")
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if status == "passed" and problem is None:
            result.passed += 1
        elif status == "skipped" and problem is None:
            result.skipped += 1
        else:  # failed, panicked, timedout, interrupted, aborted, or an unknown status
            result.failures.append(spec)
            text = "" if problem is None else f"{problem.get('message', '')}\n{problem.text or ''}"
            result.messages[spec] = f"[{status}] {text}".strip()
    return results
