"""Counters for ``/metrics``, rendered in the Prometheus text exposition format."""

from __future__ import annotations

import threading
from collections import defaultdict

from alignkit.guard._actions import ActionCheck
from alignkit.guard._breaker import CircuitBreakers
from alignkit.guard._result import GuardResult

__all__ = ["Metrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request, decision, latency, error and breaker figures of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = defaultdict(int)  # (outcome, decision)
        self.rails: dict[tuple[str, str], int] = defaultdict(int)  # (rail, decision)
        self.rail_seconds: dict[str, float] = defaultdict(float)
        self.rail_calls: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)  # kind
        self.latency_buckets = [0] * len(_BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.actions: dict[tuple[str, str], int] = defaultdict(int)  # (decision, rule)
        self.action_seconds = 0.0

    def observe_action(self, check: ActionCheck) -> None:
        """Count one tool-call check."""
        with self._lock:
            self.actions[(check.decision, check.rule)] += 1
            self.action_seconds += check.latency_ms / 1000.0

    def observe(self, result: GuardResult, seconds: float) -> None:
        """Count one finished request and its decisions."""
        with self._lock:
            self.requests[(result.outcome.value, result.decision.value)] += 1
            for d in result.decisions:
                self.rails[(d.rail, d.decision.value)] += 1
                self.rail_seconds[d.rail] += d.latency_ms / 1000.0
                self.rail_calls[d.rail] += 1
            if result.outcome.value == "error":  # the target's fault, or the request's
                invalid = result.completion is not None and result.completion.invalid
                self.errors["invalid_request" if invalid else "upstream"] += 1
            self.latency_sum += seconds
            self.latency_count += 1
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    self.latency_buckets[i] += 1

    def error(self, kind: str) -> None:
        """Count a request that failed before the guard decided (bad input, server fault)."""
        with self._lock:
            self.errors[kind] += 1

    def render(
        self,
        breakers: CircuitBreakers,
        log_stats: dict[str, int],
        over_budget: dict[str, int] | None = None,
        extra: list[str] | None = None,
    ) -> str:
        """The Prometheus text document (``extra`` lines are appended as they are)."""
        with self._lock:
            out = self._render_requests() + self._render_actions()
        out += _family("rail_over_budget_total", "counter", "Rail calls over their budget.")
        out += [
            f'alignkit_guard_rail_over_budget_total{{rail="{_esc(r)}"}} {n}'
            for r, n in sorted((over_budget or {}).items())
        ]
        return "\n".join(out + _render_breakers(breakers, log_stats) + (extra or [])) + "\n"

    def _render_actions(self) -> list[str]:
        out = _family("actions_total", "counter", "Tool-call checks by decision and rule.")
        out += [
            f'alignkit_guard_actions_total{{decision="{d}",rule="{_esc(r)}"}} {n}'
            for (d, r), n in sorted(self.actions.items())
        ]
        out += _family("action_policy_seconds", "counter", "Time the action policy took.")
        out.append(f"alignkit_guard_action_policy_seconds {self.action_seconds:.6f}")
        return out

    def _render_requests(self) -> list[str]:
        out = _family("requests_total", "counter", "Chat requests by outcome and decision.")
        out += [
            f'alignkit_guard_requests_total{{outcome="{o}",decision="{d}"}} {n}'
            for (o, d), n in sorted(self.requests.items())
        ]
        out += _family("rail_decisions_total", "counter", "Decisions by rail.")
        out += [
            f'alignkit_guard_rail_decisions_total{{rail="{_esc(r)}",decision="{d}"}} {n}'
            for (r, d), n in sorted(self.rails.items())
        ]
        out += _family("rail_seconds", "summary", "Time spent in each rail.")
        for rail in sorted(self.rail_calls):
            label = f'{{rail="{_esc(rail)}"}}'
            out.append(f"alignkit_guard_rail_seconds_sum{label} {self.rail_seconds[rail]:.6f}")
            out.append(f"alignkit_guard_rail_seconds_count{label} {self.rail_calls[rail]}")
        out += _family("errors_total", "counter", "Requests that failed, by kind.")
        out += [
            f'alignkit_guard_errors_total{{kind="{k}"}} {n}' for k, n in sorted(self.errors.items())
        ]
        out += _family("request_seconds", "histogram", "Time from request to answer.")
        for bound, n in zip(_BUCKETS, self.latency_buckets, strict=True):
            out.append(f'alignkit_guard_request_seconds_bucket{{le="{bound:g}"}} {n}')
        out.append(f'alignkit_guard_request_seconds_bucket{{le="+Inf"}} {self.latency_count}')
        out.append(f"alignkit_guard_request_seconds_sum {self.latency_sum:.6f}")
        out.append(f"alignkit_guard_request_seconds_count {self.latency_count}")
        return out


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP alignkit_guard_{name} {help_text}", f"# TYPE alignkit_guard_{name} {kind}"]


def _render_breakers(breakers: CircuitBreakers, log_stats: dict[str, int]) -> list[str]:
    out = _family("breaker_open", "gauge", "Whether a breaker is open (1) or half-open (0.5).")
    states = {"closed": "0", "half_open": "0.5", "open": "1"}
    # user and session ids stay off this unauthenticated page (they are at /admin/breakers)
    not_closed: dict[tuple[str, str], int] = {}
    for row in breakers.snapshot():
        key, state = str(row["key"]), str(row["state"])
        if key.startswith(("global", "model:")):
            out.append(f'alignkit_guard_breaker_open{{key="{_esc(key)}"}} {states[state]}')
        elif state != "closed":
            scope = (key.split(":", 1)[0], state)
            not_closed[scope] = not_closed.get(scope, 0) + 1
    out += _family("breakers_not_closed", "gauge", "User and session breakers open or half-open.")
    out += [
        f'alignkit_guard_breakers_not_closed{{scope="{_esc(sc)}",state="{st}"}} {n}'
        for (sc, st), n in sorted(not_closed.items())
    ]
    out += _family("breaker_transitions_total", "counter", "Breaker state changes.")
    out.append(f"alignkit_guard_breaker_transitions_total {breakers.transitions}")
    out += _family("audit_log_entries", "gauge", "Audit-log entries by state.")
    out += [f'alignkit_guard_audit_log_entries{{state="{k}"}} {v}' for k, v in log_stats.items()]
    return out
