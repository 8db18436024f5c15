"""``junit.xml``: an audit as JUnit XML, so any CI system can show and gate on it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from alignkit.core import CHECKS, AuditResult, ConfigError, Finding, Severity
from alignkit.report._format import clean, direction_text, fmt_ci, fmt_num, truncate

__all__ = ["to_junit"]

_EVIDENCE_CHARS = 400
_EVIDENCE_ITEMS = 3


def to_junit(result: AuditResult, *, fail_on: Severity = Severity.MEDIUM) -> str:
    """The audit as JUnit XML.

    One ``<testsuite>`` per check (those that ran, produced findings, failed or were
    skipped), one ``<testcase>`` per finding with ``classname`` the check id and ``name``
    the metric. A finding whose severity is at or above ``fail_on`` carries a
    ``<failure>`` with the value, threshold and severity; a check that raised (an entry of
    ``result.errors``) is a test case with an ``<error>``; a skipped check is a test case
    with ``<skipped>``.

    Args:
        result: The audit result to render.
        fail_on: The mildest severity that counts as a failure.

    Returns:
        A UTF-8 XML document as text.
    """
    try:
        fail_on = Severity(fail_on)
    except ValueError:
        raise ConfigError(
            f"fail_on {fail_on!r}: one of info, low, medium, high, critical"
        ) from None
    root = ET.Element("testsuites", name=clean(f"alignkit audit {result.run_id}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    by_check: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_check.setdefault(finding.check, []).append(finding)
    for check_id in _suite_order(result):
        suite = _suite(result, check_id, by_check.get(check_id, []), fail_on)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, count in totals.items():
        root.set(key, str(count))
    if result.finished_at is not None:
        seconds = (result.finished_at - result.started_at).total_seconds()
        root.set("time", f"{max(seconds, 0.0):.3f}")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _suite_order(result: AuditResult) -> list[str]:
    """Check ids in run order, then any that only appear in findings, errors or skips."""
    order: dict[str, None] = dict.fromkeys(result.checks_run)
    order.update(dict.fromkeys(f.check for f in result.findings))
    order.update(dict.fromkeys(result.errors))
    order.update(dict.fromkeys(_owner(key, result) for key in result.skipped))
    return list(order)


def _owner(key: str, result: AuditResult) -> str:
    """The check a ``skipped`` key belongs to: itself, or the check declaring that metric."""
    if key in CHECKS:
        return key
    owners = [cid for cid, spec in CHECKS.items() if any(m.name == key for m in spec.metrics)]
    ran = [cid for cid in owners if cid in result.checks_run]
    return (ran or owners or [key])[0]


def _suite(
    result: AuditResult, check_id: str, findings: list[Finding], fail_on: Severity
) -> ET.Element:
    suite = ET.Element("testsuite", name=clean(check_id))
    suite.set("timestamp", result.started_at.isoformat())
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", result.run_id),
        ("target", result.target),
        ("alignkit_version", result.alignkit_version),
        ("seed", str(result.seed)),
        ("fail_on", fail_on.value),
    ):
        ET.SubElement(props, "property", name=name, value=clean(value))
    failures = 0
    for finding in findings:
        case = ET.SubElement(
            suite, "testcase", classname=clean(check_id), name=clean(finding.metric)
        )
        case.set("time", "0")
        if finding.severity >= fail_on:
            failures += 1
            failure = ET.SubElement(case, "failure", type=f"severity.{finding.severity.value}")
            failure.set("message", clean(_message(finding)))
            failure.text = clean(_details(finding))
        else:
            ET.SubElement(case, "system-out").text = clean(_message(finding))
    errors = 0
    if check_id in result.errors:
        errors = 1
        case = ET.SubElement(suite, "testcase", classname=clean(check_id), name="check error")
        case.set("time", "0")
        error = ET.SubElement(case, "error", type="CheckError")
        first = (result.errors[check_id].strip().splitlines() or ["check error"])[0]
        error.set("message", clean(truncate(first, 300)))  # a stored run may hold ""
        error.text = clean(result.errors[check_id])
    skipped = 0
    for key, why in result.skipped.items():  # the check itself, or a metric it did not measure
        if _owner(key, result) != check_id:
            continue
        skipped += 1
        name = "check skipped" if key == check_id else key
        case = ET.SubElement(suite, "testcase", classname=clean(check_id), name=clean(name))
        case.set("time", "0")
        ET.SubElement(case, "skipped", message=clean(why))
    suite.set("tests", str(len(findings) + errors + skipped))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def _message(finding: Finding) -> str:
    """One line: severity, metric, value, direction, threshold, CI and n."""
    parts = [direction_text(finding.direction)]
    if finding.threshold is not None:
        parts.append(f"threshold {fmt_num(finding.threshold)}")
    if finding.ci_low is not None and finding.ci_high is not None:
        parts.append(f"95% CI {fmt_ci(finding.ci_low, finding.ci_high)}")
    parts.append(f"n = {finding.n}")
    return (
        f"{finding.severity.value}: {finding.metric} = {fmt_num(finding.value)} "
        f"({'; '.join(parts)})"
    )


def _details(finding: Finding) -> str:
    """The failure body: the message, the failure mode, evidence and the mitigation."""
    lines = [_message(finding), f"failure mode: {finding.failure_mode}"]
    for item in finding.evidence[:_EVIDENCE_ITEMS]:
        lines.append(f"- input: {truncate(item.input, _EVIDENCE_CHARS)}")
        lines.append(f"  output: {truncate(item.output, _EVIDENCE_CHARS)}")
        if item.note:
            lines.append(f"  note: {truncate(item.note, _EVIDENCE_CHARS)}")
    if len(finding.evidence) > _EVIDENCE_ITEMS:
        lines.append(f"  … {len(finding.evidence) - _EVIDENCE_ITEMS} more evidence items")
    if finding.mitigation:
        lines.append(f"mitigation: {finding.mitigation}")
    return "\n".join(lines)
