"""The capability checks, run without the audit runner against real chat targets."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import alignkit.evals  # noqa: F401  (registers the checks)
from alignkit.core import (
    CHECKS,
    CheckContext,
    CheckError,
    Completion,
    Decoding,
    Direction,
    Finding,
    Message,
    Outcome,
    Severity,
    TargetKind,
)
from alignkit.data import ItemPack, general_pack_path, load_pack
from alignkit.evals import ARITHMETIC_ACCURACY, FACT_ACCURACY
from alignkit.scoring import answer_matches

ROOT = Path(__file__).resolve().parents[2]
CHECK_IDS = {"facts": "capability.facts", "arithmetic": "capability.arithmetic"}
METRICS = {"facts": FACT_ACCURACY, "arithmetic": ARITHMETIC_ACCURACY}


class FunctionModel:
    """A chat target around a ``messages -> text`` function (or ``None`` for an error)."""

    uri = "test:function"
    kind = TargetKind.CHAT
    capabilities: frozenset[str] = frozenset()
    default_pack = None
    default_decoding = None

    def __init__(self, fn: Callable[[list[Message]], str | Completion]) -> None:
        self.fn = fn

    async def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        out = self.fn(messages)
        return out if isinstance(out, Completion) else Completion(outcome=Outcome.OK, text=out)

    async def aclose(self) -> None:
        return None


class DirectRunner:
    """A test-only AttemptRunner: sends every request straight to the target, in order."""

    def __init__(self, target: FunctionModel | object) -> None:
        self.target = target
        self.calls: list[tuple[str, int, Decoding, int]] = []

    async def __call__(
        self,
        producer: str,
        requests: Sequence[list[Message]],
        *,
        decoding: Decoding,
        seed: int,
        logprobs: bool = False,
    ) -> list[Completion]:
        self.calls.append((producer, len(requests), decoding, seed))
        out = []
        for messages in requests:
            out.append(
                await self.target.generate(  # type: ignore[attr-defined]
                    messages,
                    max_tokens=decoding.max_tokens,
                    temperature=decoding.temperature,
                    top_p=decoding.top_p,
                    seed=seed,
                    logprobs=logprobs,
                )
            )
        return out


def _ctx(kind: str, pack: ItemPack, runner: DirectRunner, **kw: object) -> CheckContext:
    return CheckContext(
        check=CHECKS.get(CHECK_IDS[kind]),
        run_id="run-test",
        seed=kw.pop("seed", 0),  # type: ignore[arg-type]
        data=pack,
        decoding=Decoding(),
        runner=runner,
        **kw,  # type: ignore[arg-type]
    )


async def _run(kind: str, target: object, pack: ItemPack, **kw: object) -> list[Finding]:
    runner = DirectRunner(target)
    ctx = _ctx(kind, pack, runner, **kw)
    return await ctx.check.fn(target, ctx)


@pytest.fixture(scope="module")
def general() -> ItemPack:
    return load_pack(general_pack_path())


def _oracle(pack: ItemPack) -> Callable[[list[Message]], str]:
    answers = {i.question: i.answer for kind in ("facts", "arithmetic") for i in pack.items(kind)}  # type: ignore[attr-defined]
    return lambda messages: f"The answer is {answers[messages[-1]['content']]}."


def test_checks_are_registered_with_the_design_metadata() -> None:
    for kind, check_id in CHECK_IDS.items():
        spec = CHECKS.get(check_id)
        assert spec.failure_modes == ("capability-loss",)
        assert spec.target_kind is TargetKind.CHAT and spec.cost == "low"
        assert spec.item_kinds == (kind,)
        assert spec.summary and not spec.summary.endswith(" ")
        (metric,) = spec.metrics
        assert metric is METRICS[kind]
        assert metric.direction is Direction.LOWER_IS_WORSE
        assert dict(metric.thresholds) == {
            Severity.LOW: 0.9,
            Severity.MEDIUM: 0.75,
            Severity.HIGH: 0.5,
            Severity.CRITICAL: 0.25,
        }
        for value in ("0.9", "0.75", "0.5", "0.25"):
            assert value in metric.description
    assert FACT_ACCURACY.name == "capability.fact_accuracy"
    assert ARITHMETIC_ACCURACY.name == "capability.arithmetic_accuracy"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["facts", "arithmetic"])
async def test_a_perfect_target_scores_one_with_severity_info(kind: str, general: ItemPack) -> None:
    (finding,) = await _run(kind, FunctionModel(_oracle(general)), general)
    assert finding.value == 1.0 and finding.severity is Severity.INFO
    assert finding.n == len(general.items(kind))
    assert finding.evidence == [] and finding.mitigation
    assert finding.ci_low is not None and 0.95 < finding.ci_low < 1.0 == finding.ci_high
    assert finding.threshold == 0.9 and finding.run_id == "run-test"


@pytest.mark.anyio
async def test_hedged_and_negated_answers_do_not_count(general: ItemPack) -> None:
    answers = {i.question: i.answer for i in general.items("facts")}  # type: ignore[attr-defined]

    def hedger(messages: list[Message]) -> str:
        return f"Either {answers[messages[-1]['content']]} or something else."

    (finding,) = await _run("facts", FunctionModel(hedger), general)
    assert finding.value == 0.0 and finding.severity is Severity.CRITICAL
    assert len(finding.evidence) == 5
    assert all(e.note.startswith("expected: ") for e in finding.evidence)


@pytest.mark.anyio
async def test_each_question_is_one_user_message_under_the_run_decoding(
    general: ItemPack,
) -> None:
    seen: list[list[Message]] = []

    def record(messages: list[Message]) -> str:
        seen.append(messages)
        return "I don't know."

    runner = DirectRunner(FunctionModel(record))
    ctx = _ctx("arithmetic", general, runner, seed=7)
    await ctx.check.fn(runner.target, ctx)
    assert runner.calls == [("capability.arithmetic", len(seen), Decoding(), 7)]
    questions = [i.question for i in general.items("arithmetic")]  # type: ignore[attr-defined]
    assert seen == [[{"role": "user", "content": q}] for q in questions]


@pytest.mark.anyio
async def test_errors_and_blocks_are_excluded_from_n(general: ItemPack) -> None:
    answers = {i.question: i.answer for i in general.items("facts")}  # type: ignore[attr-defined]
    counter = iter(range(10_000))

    def flaky(messages: list[Message]) -> str | Completion:
        i = next(counter)
        if i % 10 == 0:
            return Completion.failed("HTTP 503 from upstream")
        if i % 10 == 1:
            return Completion(outcome=Outcome.BLOCKED, text="content filtered")
        if i % 10 == 2:
            return "I don't know."
        return answers[messages[-1]["content"]]

    (finding,) = await _run("facts", FunctionModel(flaky), general)
    total = len(general.items("facts"))
    errors, blocked = (total + 9) // 10, (total + 8) // 10
    assert finding.n == total - errors - blocked
    wrong = (total + 7) // 10
    assert finding.value == pytest.approx((finding.n - wrong) / finding.n)
    assert finding.ci_low is not None and finding.ci_high is not None
    assert finding.ci_low < finding.value < finding.ci_high
    *wrong_answers, note = finding.evidence
    assert len(wrong_answers) == 5 and all(e.output == "I don't know." for e in wrong_answers)
    assert f"{errors + blocked} of {total} requests excluded from n" in note.note
    assert f"({errors} error, {blocked} blocked)" in note.note and "HTTP 503" in note.note


@pytest.mark.anyio
async def test_a_target_that_always_fails_is_a_check_error(general: ItemPack) -> None:
    target = FunctionModel(lambda m: Completion.failed("connection refused"))
    with pytest.raises(CheckError, match="all .* requests failed .*connection refused"):
        await _run("arithmetic", target, general)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("sent", "expected"),
    [(0, "none of its .* requests was answered before the budget ran out"),
     (3, "3 requests failed \\(HTTP 500\\) and .* were not answered before the budget ran out")],
)  # fmt: skip
async def test_requests_the_budget_stopped_are_not_called_failed(
    general: ItemPack, sent: int, expected: str
) -> None:
    """A budget-stopped check said "all 193 requests failed (budget exhausted)" while the
    run's counters said none had failed: they were never sent."""
    from alignkit.models import BUDGET_EXHAUSTED

    calls = iter(range(10_000))
    target = FunctionModel(
        lambda m: Completion.failed("HTTP 500" if next(calls) < sent else BUDGET_EXHAUSTED)
    )
    with pytest.raises(CheckError, match=expected):
        await _run("arithmetic", target, general)


@pytest.mark.anyio
async def test_no_items_of_the_kind_means_no_findings(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text(json.dumps({"id": "p", "prompt": "hi"}) + "\n")
    pack = load_pack(tmp_path)
    target = FunctionModel(lambda m: pytest.fail("no request may be sent"))
    assert await _run("facts", target, pack) == []
    assert await _run("arithmetic", target, pack) == []


@pytest.mark.anyio
async def test_sampling_is_seeded_and_respects_max_items(general: ItemPack) -> None:
    async def asked(seed: int) -> list[str]:
        seen: list[str] = []

        def record(messages: list[Message]) -> str:
            seen.append(messages[-1]["content"])
            return "0"

        (finding,) = await _run(
            "arithmetic", FunctionModel(record), general, seed=seed, max_items=40
        )
        assert finding.n == 40
        return seen

    first, again, other = await asked(1), await asked(1), await asked(2)
    assert first == again and first != other
    order = [i.question for i in general.items("arithmetic")]  # type: ignore[attr-defined]
    assert first == sorted(first, key=order.index)  # original order kept


@pytest.mark.anyio
async def test_split_selection_reaches_the_check(general: ItemPack) -> None:
    heldout = general.select("heldout")
    (finding,) = await _run("facts", FunctionModel(_oracle(general)), heldout)
    assert finding.n == len(heldout.items("facts")) < len(general.items("facts"))


# --- the example app ----------------------------------------------------------------


def _quiz_app_targets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """The quiz app wrapped in-test, and through ``python:`` when that adapter is present."""
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.chdir(ROOT)
    from examples.quiz_app import respond

    targets: list[tuple[str, object]] = [("wrapped", FunctionModel(respond))]
    from alignkit.models import SCHEMES, connect

    if "python" in SCHEMES:
        targets.append(("python:", connect("python:examples.quiz_app:respond")))
    return targets


@pytest.mark.anyio
@pytest.mark.parametrize(("kind", "low", "high"), [("facts", 0.6, 0.8), ("arithmetic", 0.7, 0.9)])
async def test_quiz_app_gets_real_non_trivial_findings(
    kind: str, low: float, high: float, general: ItemPack, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = _quiz_app_targets(monkeypatch)
    values = set()
    for name, target in targets:
        try:
            (finding,) = await _run(kind, target, general)
        finally:
            await target.aclose()  # type: ignore[attr-defined]
        assert 0.3 < finding.value < 0.95, name
        assert low <= finding.value <= high, (name, finding.value)
        severity, threshold = METRICS[kind].severity_of(finding.value)
        assert finding.severity is severity is not Severity.INFO
        assert finding.threshold == threshold and finding.value <= threshold
        assert finding.n == len(general.items(kind))
        assert len(finding.evidence) == 5
        items = {i.question: i for i in general.items(kind)}  # type: ignore[attr-defined]
        for ev in finding.evidence:
            item = items[ev.input]
            assert ev.note == f"expected: {item.answer}"
            assert not answer_matches(ev.output, item.answer, getattr(item, "aliases", ()))
        values.add(finding.value)
    assert len(values) == 1  # the adapter and the wrapper see the same app
