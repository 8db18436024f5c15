"""The run-time guard: rails, safety circuit breakers, the audit log, and the server (DESIGN §9).

In-process::

    from alignkit.guard import Guard
    from alignkit.models import connect

    guard = Guard("guard.yaml", model=connect("openai:http://127.0.0.1:8000/v1#m"))
    result = await guard.run([{"role": "user", "content": "hello"}], user="alice")

Built-in rails (registered in :data:`alignkit.core.RAILS` at import): ``regex``,
``keywords``, ``pii``, ``secrets``, ``unsafe-markers``, ``injection``,
``output-classifier`` and ``llm-judge``. Other packages add rails with
:func:`alignkit.core.rail`.
"""

from alignkit.guard._breaker import BreakerRefusal, BreakerState, CircuitBreakers, scope_keys
from alignkit.guard._config import (
    DEFAULT_GUARD,
    TIER_BUDGET_MS,
    AuditLogConfig,
    BreakerConfig,
    GuardConfig,
    RailEntry,
    build_rails,
    load_guard_config,
)
from alignkit.guard._guard import AuditSink, Guard, GuardResult, StageResult
from alignkit.guard._injection import DEFAULT_INJECTION_PARAMS, InjectionClassifier
from alignkit.guard._judge import DEFAULT_JUDGE_INSTRUCTIONS, JudgeRail
from alignkit.guard._offline import check_file, check_rows, read_traffic, verify_log
from alignkit.guard._output import OutputClassifierRail
from alignkit.guard._rules import iban_valid, luhn_valid
from alignkit.guard._server import GuardServer, create_app, serve
from alignkit.guard._text import SECRET_PATTERNS, Redactor

__all__ = [
    "DEFAULT_GUARD",
    "DEFAULT_INJECTION_PARAMS",
    "DEFAULT_JUDGE_INSTRUCTIONS",
    "SECRET_PATTERNS",
    "TIER_BUDGET_MS",
    "AuditLogConfig",
    "AuditSink",
    "BreakerConfig",
    "BreakerRefusal",
    "BreakerState",
    "CircuitBreakers",
    "Guard",
    "GuardConfig",
    "GuardResult",
    "GuardServer",
    "InjectionClassifier",
    "JudgeRail",
    "OutputClassifierRail",
    "RailEntry",
    "Redactor",
    "StageResult",
    "build_rails",
    "check_file",
    "check_rows",
    "create_app",
    "iban_valid",
    "load_guard_config",
    "luhn_valid",
    "read_traffic",
    "scope_keys",
    "serve",
    "verify_log",
]
