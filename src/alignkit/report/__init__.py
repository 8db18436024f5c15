"""Render an audit result as HTML, JSON and JUnit XML, with figures as inline SVG.

``report.json`` is the audit JSON contract of DESIGN §4; ``report.html`` is one
self-contained offline page organised by failure mode, with a NIST AI RMF governance
view; ``junit.xml`` lets any CI system show and gate on the findings. This package
renders a :class:`alignkit.core.AuditResult` and depends only on core and taxonomy.

Example::

    from alignkit.report import write_reports

    paths = write_reports(result, Path("out"), fail_on=Severity.HIGH)
    paths["html"]  # Path("out/report.html")
"""

from alignkit.report._html import to_html
from alignkit.report._json import CONTRACT_KEYS, to_json
from alignkit.report._junit import to_junit
from alignkit.report._svg import svg_plot
from alignkit.report._write import REPORT_FILES, write_reports

__all__ = [
    "CONTRACT_KEYS",
    "REPORT_FILES",
    "svg_plot",
    "to_html",
    "to_json",
    "to_junit",
    "write_reports",
]
