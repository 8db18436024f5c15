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

Agent governance (DESIGN §4): every tool call can be checked against a declarative
policy (``guard.check_action(tool, arguments, context)``, the :func:`governed`
decorator, or ``POST /v1/actions/check`` on ``alignkit serve``); escalations wait in
the :class:`ApprovalQueue` for a human, and the traffic the guard sees feeds
:class:`~alignkit.monitor.TrafficMonitor`'s drift and anomaly alarms::

    guard = Guard("guard.yaml", approvals=ApprovalQueue.from_store(store))
    check = guard.check_action("delete_file", {"path": "tests/test_api.py"})
    assert check.decision == "block" and check.rule == "delete-tests"
"""

from alignkit.guard._actions import (
    ActionBlocked,
    ActionCheck,
    ActionDecision,
    ActionPolicy,
    glob_regex,
)
from alignkit.guard._actions_client import ActionClient, ActionGate, governed
from alignkit.guard._actions_policy import (
    DEFAULT_ACTIONS,
    OPERATORS,
    ActionPolicyConfig,
    ConditionConfig,
    RuleConfig,
    default_rules,
    load_policy_config,
)
from alignkit.guard._approvals import ApprovalQueue, check_of
from alignkit.guard._breaker import BreakerRefusal, BreakerState, CircuitBreakers, scope_keys
from alignkit.guard._config import (
    DEFAULT_GUARD,
    TIER_BUDGET_MS,
    ApprovalConfig,
    AuditLogConfig,
    BreakerConfig,
    GuardConfig,
    RailEntry,
    TrafficGuardConfig,
    build_rails,
    load_guard_config,
)
from alignkit.guard._guard import Guard
from alignkit.guard._injection import DEFAULT_INJECTION_PARAMS, InjectionClassifier
from alignkit.guard._judge import DEFAULT_JUDGE_INSTRUCTIONS, JudgeOptions, JudgeRail
from alignkit.guard._offline import check_file, check_rows, read_traffic, verify_log
from alignkit.guard._output import OutputClassifierOptions, OutputClassifierRail
from alignkit.guard._result import AuditSink, GuardResult, StageResult
from alignkit.guard._rules import iban_valid, luhn_valid
from alignkit.guard._server import GuardServer, create_app, serve
from alignkit.guard._text import SECRET_PATTERNS, Redactor
from alignkit.guard._traffic_feed import TrafficFeed, traffic_history

__all__ = [
    "OutputClassifierOptions",
    "JudgeOptions",
    "DEFAULT_ACTIONS",
    "DEFAULT_GUARD",
    "DEFAULT_INJECTION_PARAMS",
    "DEFAULT_JUDGE_INSTRUCTIONS",
    "OPERATORS",
    "SECRET_PATTERNS",
    "TIER_BUDGET_MS",
    "ActionBlocked",
    "ActionCheck",
    "ActionClient",
    "ActionDecision",
    "ActionGate",
    "ActionPolicy",
    "ActionPolicyConfig",
    "ApprovalConfig",
    "ApprovalQueue",
    "AuditLogConfig",
    "AuditSink",
    "BreakerConfig",
    "BreakerRefusal",
    "BreakerState",
    "CircuitBreakers",
    "ConditionConfig",
    "Guard",
    "GuardConfig",
    "GuardResult",
    "GuardServer",
    "InjectionClassifier",
    "JudgeRail",
    "OutputClassifierRail",
    "RailEntry",
    "Redactor",
    "RuleConfig",
    "StageResult",
    "TrafficFeed",
    "TrafficGuardConfig",
    "build_rails",
    "check_file",
    "check_of",
    "check_rows",
    "create_app",
    "default_rules",
    "glob_regex",
    "governed",
    "iban_valid",
    "load_guard_config",
    "load_policy_config",
    "luhn_valid",
    "read_traffic",
    "scope_keys",
    "serve",
    "traffic_history",
    "verify_log",
]
