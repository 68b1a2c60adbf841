"""Unit: counting the conformance suite's JUnit report per workflow (tests/e2e/conformance_report.py)."""

from __future__ import annotations

from tests.e2e.conformance_report import OTHER, WORKFLOWS, parse_junit

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="7" failures="2">
  <testsuite name="conformance tests" tests="7">
    <testcase name="[It] OCI Distribution Conformance Tests Pull Setup Populate registry with test blob" status="passed"/>
    <testcase name="[It] OCI Distribution Conformance Tests Pull Setup Populate registry with test blob" status="passed"/>
    <testcase name="[It] OCI Distribution Conformance Tests Push Blob Upload Streamed PATCH request" status="skipped">
      <skipped message="skipped - you have skipped this test"/>
    </testcase>
    <testcase name="[It] OCI Distribution Conformance Tests Content Discovery Test listing GET referrers" status="failed">
      <failure message="Expected 404 to equal 200" type="failed">details</failure>
    </testcase>
    <testcase name="[It] OCI Distribution Conformance Tests Content Management Blob delete DELETE blob" status="panicked">
      <failure message="runtime error" type="panicked"/>
    </testcase>
    <testcase name="[It] OCI Distribution Conformance Tests Content Management Blob delete GET blob" status="passed"/>
    <testcase name="[ReportAfterSuite] html custom reporter" status="passed"/>
  </testsuite>
</testsuites>
"""


def test_counts_per_workflow_keep_duplicates_and_failure_names() -> None:
    results = parse_junit(REPORT)
    assert set(results) == {*WORKFLOWS, OTHER}
    assert (results["Pull"].passed, results["Pull"].failed, results["Pull"].skipped) == (2, 0, 0)
    assert (results["Push"].passed, results["Push"].failed, results["Push"].skipped) == (0, 0, 1)
    assert results["Content Discovery"].failures == ["Test listing GET referrers"]
    assert "Expected 404 to equal 200" in results["Content Discovery"].messages["Test listing GET referrers"]
    management = results["Content Management"]
    assert (management.passed, management.failures) == (1, ["Blob delete DELETE blob"])  # a panic counts as a failure
    assert results[OTHER].passed == 1
    assert results["Pull"].line("Pull") == "Pull: passed 2, failed 0, skipped 0"


def test_a_passed_status_with_a_failure_element_counts_as_failed() -> None:
    report = (
        "<testsuites><testsuite>"
        '<testcase name="[It] OCI Distribution Conformance Tests Push Manifest Upload PUT" status="passed">'
        '<failure message="inconsistent"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert parse_junit(report)["Push"].failures == ["Manifest Upload PUT"]
