"""The audit: pick checks for a target, run them, store findings, compare runs, gate CI.

``alignkit.audit.run(target=..., checks=..., ...)`` returns the
:class:`~alignkit.core.AuditResult` that ``alignkit audit`` renders.
"""

from alignkit.audit._compare import Change, MetricChange, compare, gate
from alignkit.audit._run import AuditOptions, default_out_dir, new_run_id, run
from alignkit.audit._runner import BUDGET_EXHAUSTED, AttemptLog, ProgressFn
from alignkit.audit._select import Selection, match_checks, select_checks

__all__ = [
    "BUDGET_EXHAUSTED",
    "AttemptLog",
    "AuditOptions",
    "Change",
    "MetricChange",
    "ProgressFn",
    "Selection",
    "compare",
    "default_out_dir",
    "gate",
    "match_checks",
    "new_run_id",
    "run",
    "select_checks",
]
