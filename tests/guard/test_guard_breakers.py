"""Circuit breakers: trip on rates over a sliding window, half-open probing, signals, LRU."""

from __future__ import annotations

import pytest
from guard_helpers import ListLog

from alignkit.core import ConfigError, Message, Outcome
from alignkit.guard import BreakerConfig, BreakerState, CircuitBreakers, Guard, scope_keys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Fine:
    """A model that answers every request "fine"."""

    uri = "test:model"

    async def generate(self, messages: list[Message], **kw: object) -> object:
        from alignkit.core import Completion

        return Completion(outcome=Outcome.OK, text="fine")


def _keyword_guard(log: ListLog, min_requests: int) -> Guard:
    """Blocks "forbidden"; user breakers trip after ``min_requests`` blocked requests."""
    config = {
        "input": [{"rail": "keywords", "words": ["forbidden"]}],
        "breakers": {"min_requests": min_requests, "scopes": ["user"]},
    }
    return Guard(config, model=_Fine(), log=log)  # type: ignore[arg-type]


def make(**overrides: object) -> tuple[CircuitBreakers, Clock, list[tuple[str, str]]]:
    clock = Clock()
    seen: list[tuple[str, str]] = []
    config = BreakerConfig(
        **{"min_requests": 10, "window_s": 10, "cooldown_s": 5, "half_open_probes": 2, **overrides}  # type: ignore[arg-type]
    )
    breakers = CircuitBreakers(
        config, clock=clock, on_change=lambda k, s, r: seen.append((k, s.value))
    )
    return breakers, clock, seen


def test_violation_rate_trips_only_the_offending_user() -> None:
    b, clock, seen = make()
    alice, bob = scope_keys("m", "alice"), scope_keys("m", "bob")
    for _ in range(20):
        b.record(bob, "ok")
    for _ in range(9):
        b.record(alice, "violation")
    assert b.state("user:alice") is BreakerState.CLOSED  # below min_requests
    b.record(alice, "violation")
    assert b.state("user:alice") is BreakerState.OPEN
    assert b.state("global") is BreakerState.CLOSED  # 10 of 30 is below 0.5
    refusal = b.admit(alice)
    assert refusal is not None and refusal.key == "user:alice"
    assert "violation rate 1.00 (10/10)" in refusal.message()
    assert b.admit(bob) is None
    assert seen == [("user:alice", "open")]


def test_error_rate_trips_and_old_events_leave_the_window() -> None:
    b, clock, _ = make()
    keys = scope_keys("m")
    for _ in range(6):
        b.record(keys, "error")
    clock.now += 11  # the errors age out of the 10 s window
    for _ in range(9):
        b.record(keys, "ok")
    b.record(keys, "error")
    assert b.state("global") is BreakerState.CLOSED
    for _ in range(10):
        b.record(keys, "error")
    assert b.state("model:m") is BreakerState.OPEN
    assert "upstream error rate" in (b.admit(keys) or pytest.fail("not refused")).reason


def test_half_open_probes_close_or_reopen() -> None:
    b, clock, seen = make()
    keys = scope_keys(session="s1")
    b.signal("session:s1", "anomaly alarm")
    assert b.admit(keys) is not None
    clock.now += 5
    assert b.state("session:s1") is BreakerState.HALF_OPEN
    # /admin/breakers and /metrics said "open" here, until a request came
    assert {r["key"]: r["state"] for r in b.snapshot()}["session:s1"] == "half_open"
    assert b.admit(keys) is None and b.admit(keys) is None
    assert b.admit(keys) is not None  # only two probes at once
    b.record(keys, "ok")
    b.record(keys, "violation")  # a failed probe re-opens
    assert b.state("session:s1") is BreakerState.OPEN
    clock.now += 5
    assert b.admit(keys) is None and b.admit(keys) is None
    b.record(keys, "ok")
    b.record(keys, "ok")
    assert b.state("session:s1") is BreakerState.CLOSED
    assert [s for _, s in seen] == ["open", "half_open", "open", "half_open", "closed"]


def test_signal_validates_keys_and_reset_closes() -> None:
    b, _, _ = make()
    with pytest.raises(ConfigError, match="not global"):
        b.signal("tenant:x", "why")
    b.signal("global", "operator")
    b.signal("global", "operator, again")  # already open: no second trip (it counted one)
    assert b.admit(scope_keys()) is not None
    b.reset()
    assert b.admit(scope_keys()) is None
    snap = {row["key"]: row for row in b.snapshot()}
    assert snap["global"]["state"] == "closed" and snap["global"]["trips"] == 1


def test_user_breakers_are_bounded() -> None:
    b, _, _ = make(max_keys=3)
    for i in range(10):
        b.record(scope_keys(user=f"u{i}"), "ok")
    users = [r["key"] for r in b.snapshot() if str(r["key"]).startswith("user:")]
    assert users == ["user:u7", "user:u8", "user:u9"]


def test_client_chosen_model_names_are_bounded_and_cannot_flush_an_open_breaker() -> None:
    b, _, _ = make(max_keys=3)
    for _ in range(10):
        b.record(scope_keys(model="m-bad"), "violation")
    assert b.admit(scope_keys(model="m-bad")) is not None
    for i in range(50):  # a client sending many model names
        b.record(scope_keys(model=f"m{i}"), "ok")
    keys = [str(r["key"]) for r in b.snapshot()]
    assert len([k for k in keys if k != "global"]) == 3
    assert "model:m-bad" in keys and b.admit(scope_keys(model="m-bad")) is not None


@pytest.mark.anyio
async def test_guard_refuses_while_open_and_logs_transitions() -> None:
    log = ListLog()
    guard = _keyword_guard(log, min_requests=3)
    msg: list[Message] = [{"role": "user", "content": "forbidden thing"}]
    for _ in range(3):
        assert (await guard.run(msg, user="mallory")).rail == "keywords"
    refused = await guard.run([{"role": "user", "content": "innocent"}], user="mallory")
    assert refused.rail == "circuit-breaker" and refused.outcome is Outcome.BLOCKED
    assert "circuit breaker open for" in refused.reason
    other = await guard.run([{"role": "user", "content": "innocent"}], user="olivia")
    assert other.outcome is Outcome.OK
    kinds = [e["kind"] for e in log.entries]
    assert "breaker" in kinds


def test_a_probe_refused_by_another_breaker_is_not_held() -> None:
    b, clock, _ = make(half_open_probes=1)
    b.signal("user:u", "first")
    clock.now += 5  # user:u is half-open now
    b.signal("session:s", "second")  # ...but the session is freshly open
    assert b.admit(scope_keys(user="u", session="s")) is not None
    # The refused request claimed no probe: user:u still admits its one probe.
    assert b.admit(scope_keys(user="u")) is None


def test_a_signal_outside_the_configured_scopes_refuses_and_probes() -> None:
    """The signal answered "open" but a scope not in `scopes` never refused anything."""
    b, clock, _ = make(scopes=["global"])
    mallory = scope_keys("m", "mallory")
    b.signal("user:mallory", "abuse report")
    refusal = b.admit(mallory)
    assert refusal is not None and refusal.key == "user:mallory"
    assert b.admit(scope_keys("m", "olivia")) is None
    clock.now += 6  # past the cool-down: two clean probes close it
    for _ in range(2):
        assert b.admit(mallory) is None
        b.record(mallory, "ok")
    assert b.state("user:mallory") is BreakerState.CLOSED
    for _ in range(30):  # and the scope still trips on no rate: it is not configured
        b.record(mallory, "violation")
    assert b.state("user:mallory") is BreakerState.CLOSED


@pytest.mark.anyio
async def test_client_ids_shaped_like_keys_are_masked_in_the_guards_own_reasons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """...and in the warning the server prints when a breaker opens (it showed the key)."""
    secret = "sk-proj-" + "A1b2C3d4" * 5
    caplog.set_level("WARNING", logger="alignkit")
    log = ListLog()
    guard = _keyword_guard(log, min_requests=2)
    msg: list[Message] = [{"role": "user", "content": "forbidden thing"}]
    for _ in range(2):
        await guard.run(msg, user=secret, request_id="rid-" + secret)
    refused = await guard.run(msg, user=secret, request_id="rid-" + secret)
    assert refused.rail == "circuit-breaker"
    assert secret not in repr(log.entries)
    assert "circuit breaker open for user:[REDACTED]" in log.entries[-1]["reason"]
    said = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert said and not any(secret in m for m in said), said


def test_a_tool_call_id_shaped_like_a_key_is_masked_in_the_log() -> None:
    """The chat path masked client ids; check_action logged the raw request id."""
    secret = "sk-proj-" + "A1b2C3d4" * 5
    log = ListLog()
    guard = Guard({"traffic": {"enabled": False}}, log=log)
    guard.check_action("read_file", {"path": "README.md"}, request_id="rid-" + secret)
    assert secret not in repr(log.entries)


class _TooLong:
    """Refuses every request as malformed (``invalid``); answers "fine" once told to."""

    uri = "test:model"

    def __init__(self) -> None:
        self.fine = False
        self.hang = False

    async def generate(self, messages: list[Message], **kw: object) -> object:
        import asyncio

        from alignkit.core import Completion

        if self.hang:
            await asyncio.sleep(30)
        if self.fine:
            return Completion(outcome=Outcome.OK, text="fine")
        return Completion.failed("prompt does not fit the context", invalid=True)


@pytest.mark.anyio
async def test_requests_without_a_verdict_hand_back_their_half_open_probe() -> None:
    """Three requests the target refused as malformed, sent while the breaker was
    half-open, kept its probe slots: it refused everyone for good."""
    import asyncio

    model = _TooLong()
    guard = Guard({"breakers": {"half_open_probes": 3, "cooldown_s": 5}}, model=model)  # type: ignore[arg-type]
    clock = Clock()
    guard.breakers._clock = clock
    guard.breakers.signal("global", "alarm")
    clock.now += 6  # past the cool-down: half-open
    hi: list[Message] = [{"role": "user", "content": "hi"}]
    for _ in range(4):
        assert (await guard.run(hi)).rail != "circuit-breaker"  # refused by the model only
    model.hang = True  # and requests cancelled mid-way (the client left)
    for _ in range(4):
        task = asyncio.create_task(guard.run(hi))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    model.hang, model.fine = False, True
    for _ in range(3):
        assert (await guard.run(hi)).outcome is Outcome.OK
    assert guard.breakers.state("global") is BreakerState.CLOSED
