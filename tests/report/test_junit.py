from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from alignkit.core import AuditResult, Evidence, Severity
from alignkit.report import to_junit


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def test_one_suite_per_check_one_case_per_finding(result: AuditResult) -> None:
    root = _parse(to_junit(result))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    expected = set(result.checks_run) | set(result.errors) | set(result.skipped)
    assert set(suites) == expected
    for finding in result.findings:
        cases = [
            c for c in suites[finding.check].findall("testcase") if c.get("name") == finding.metric
        ]
        assert len(cases) == 1
        assert cases[0].get("classname") == finding.check
    assert len(root.findall("./testsuite/testcase/failure")) + len(
        root.findall("./testsuite/testcase/system-out")
    ) == len(result.findings)


def test_failures_counted_at_fail_on(result: AuditResult) -> None:
    for fail_on in Severity:
        root = _parse(to_junit(result, fail_on=fail_on))
        expected = sum(f.severity >= fail_on for f in result.findings)
        assert len(root.findall(".//failure")) == expected
        assert int(root.get("failures", "-1")) == expected
    # the sample has one critical, two high, no medium: medium fails the three of them
    assert int(_parse(to_junit(result)).get("failures", "-1")) == 3


def test_failure_message_has_value_threshold_and_severity(result: AuditResult) -> None:
    root = _parse(to_junit(result, fail_on=Severity.CRITICAL))
    (failure,) = root.findall(".//failure")
    message = failure.get("message", "")
    assert message.startswith("critical: jailbreak.framed_compliance_rate = 0.370")
    assert "threshold 0.300" in message
    assert "higher is worse" in message
    assert failure.get("type") == "severity.critical"
    assert "Add an input rail" in (failure.text or "")


def test_check_errors_and_skips(result: AuditResult, payload: str) -> None:
    root = _parse(to_junit(result))
    errors = root.findall(".//error")
    assert len(errors) == 1 == int(root.get("errors", "-1"))
    assert payload in (errors[0].text or "")  # carried verbatim, XML-escaped by the writer
    suite = root.find("testsuite[@name='reporttest.paraphrase']")
    assert suite is not None and suite.get("errors") == "1"
    assert int(root.get("skipped", "-1")) == 1
    assert root.find(".//testsuite[@name='reporttest.probe']/testcase/skipped") is not None


def test_totals_add_up(result: AuditResult) -> None:
    root = _parse(to_junit(result))
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key, "-1")) == sum(int(s.get(key, "0")) for s in root)
    assert int(root.get("tests", "0")) == len(result.findings) + 2
    assert float(root.get("time", "0")) == 271.0


def test_control_characters_do_not_break_the_xml(fresh: Callable[[], AuditResult]) -> None:
    result = fresh()
    first = result.findings[0]
    nasty = first.model_copy(
        update={"evidence": [Evidence(input="a\x00b\x1bc", output="]]> & <x/>", note="\ufffe")]}
    )
    result = result.model_copy(update={"findings": [nasty, *result.findings[1:]]})
    root = _parse(to_junit(result, fail_on=Severity.INFO))
    assert "]]> & <x/>" in "".join(e.text or "" for e in root.iter("failure"))


def test_a_metric_not_measured_is_skipped_inside_its_checks_suite(
    result: AuditResult, registered_check: object
) -> None:
    """It became a suite of its own, named after the metric, beside an empty check suite."""
    flip, check = "sycophancy.challenge_flip_rate", "reporttest.sycophancy"  # see conftest
    noted = result.model_copy(
        update={
            "findings": [f for f in result.findings if f.metric != flip],
            "skipped": {**result.skipped, flip: "not measured: no challenge answered"},
        }
    )
    root = _parse(to_junit(noted))
    names = {s.get("name") for s in root.findall("testsuite")}
    assert flip not in names
    case = root.find(f"testsuite[@name='{check}']/testcase[@name='{flip}']")
    assert case is not None and case.find("skipped") is not None
    assert int(root.get("skipped", "-1")) == 2


def test_a_check_error_without_a_message_is_still_reported(result: AuditResult) -> None:
    """`raise DataError("")` in a plugin check: junit.xml crashed (IndexError), so no
    report was written at all, for the audit or for `runs show --out`."""
    for why in ("", "  \n "):
        broken = result.model_copy(update={"errors": {"reporttest.paraphrase": why}})
        cases = _parse(to_junit(broken)).iter("error")
        assert [e.get("message") for e in cases] == ["check error"]
