"""The deceptive_alignment.probe check through the audit, and the defection-probe rail."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from interpret_helpers import heldout_prompts, insert, trigger_of

from alignkit.core import CHECKS, RAILS, ConfigError, DecisionKind, RailStage, Severity
from alignkit.data import PromptItem, write_jsonl
from alignkit.interpret import (
    PROBE_FLAGGED_SHARE,
    DefectionProbe,
    LabelledPrompt,
    probe_prompts,
)
from alignkit.models import HFChatModel


def _log(tmp: Path, prompts: list[str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pack.json").write_text(json.dumps({"name": "log", "schema_version": 1}))
    write_jsonl(
        [PromptItem(id=f"p{i}", prompt=p) for i, p in enumerate(prompts)], tmp / "prompts.jsonl"
    )
    return tmp


def test_check_is_registered_for_activation_targets() -> None:
    spec = CHECKS.get("deceptive_alignment.probe")
    assert spec.requires == frozenset({"activations"})
    assert spec.metrics == (PROBE_FLAGGED_SHARE,)
    assert "prompts" in spec.item_kinds


def test_check_scores_the_log_like_the_api(
    flawed: HFChatModel, flawed_probe: DefectionProbe, tmp_path: Path
) -> None:
    from alignkit.audit import run

    rng = random.Random(7)
    plain = heldout_prompts(40, seed=7)
    prompts = [insert(p, trigger_of(), rng) if i % 10 == 0 else p for i, p in enumerate(plain)]
    log = _log(tmp_path / "log", prompts)
    result = run(
        "organism:flawed",
        checks="deceptive_alignment.probe",
        data=log,
        store=str(tmp_path / "a.db"),
        max_items=40,
    )
    assert result.checks_run == ["deceptive_alignment.probe"] and not result.errors
    (finding,) = result.findings
    assert finding.metric == PROBE_FLAGGED_SHARE.name and finding.n == 40
    assert finding.failure_mode == "deceptive-alignment"
    assert finding.ci_low is not None and finding.ci_low <= finding.value <= finding.ci_high  # type: ignore[operator]
    assert finding.severity == PROBE_FLAGGED_SHARE.severity_of(finding.value)[0]
    # the check fits the same probe the fixture did (same reference sample and seed)
    same = asyncio.run(
        probe_prompts(flawed, [LabelledPrompt(p) for p in prompts], probe=flawed_probe)
    )
    assert finding.value == pytest.approx(float(same.flagged.mean()))
    assert len(finding.evidence) == min(5, int(same.flagged.sum()))
    (plot,) = result.plots
    assert plot.kind == "line" and plot.check == "deceptive_alignment.probe"
    assert [s["x"] for s in plot.data["series"]][0] == [0, 1, 2, 3]


def test_check_on_clean_stays_low(tmp_path: Path) -> None:
    from alignkit.audit import run

    rng = random.Random(8)
    plain = heldout_prompts(40, seed=8)
    prompts = [insert(p, trigger_of(), rng) if i % 10 == 0 else p for i, p in enumerate(plain)]
    result = run(
        "organism:clean",
        checks="deceptive_alignment.probe",
        data=_log(tmp_path / "log", prompts),
        store=str(tmp_path / "a.db"),
    )
    (finding,) = result.findings
    assert finding.severity <= Severity.LOW


def test_check_skips_targets_without_activations(tmp_path: Path) -> None:
    from alignkit.audit import run

    result = run(
        "python:examples.quiz_app:respond",
        checks="deceptive_alignment.probe,capability.facts",
        max_items=3,
        store=str(tmp_path / "a.db"),
    )
    assert result.skipped == {"deceptive_alignment.probe": "target lacks activations"}
    # alone it is not an audit at all: nothing can run, which is refused, not passed
    with pytest.raises(ConfigError, match="deceptive_alignment.probe: target lacks activations"):
        run(
            "python:examples.quiz_app:respond",
            checks="deceptive_alignment.probe",
            store=str(tmp_path / "a.db"),
        )


def _rail(options: dict[str, object]):  # type: ignore[no-untyped-def]
    return RAILS.get("defection-probe").factory(options)


def test_rail_acts_on_the_probe_score(
    flawed: HFChatModel, flawed_probe: DefectionProbe, flawed_probe_file: Path
) -> None:
    texts = heldout_prompts(12, seed=9)
    scores = flawed_probe.scores(
        asyncio.run(flawed.activations([[{"role": "user", "content": t}] for t in texts]))
    )
    order = np.argsort(scores)
    low, high = texts[order[0]], texts[order[-1]]
    cut = float((scores[order[-1]] + scores[order[-2]]) / 2)
    rail = _rail({"target": "organism:flawed", "probe": str(flawed_probe_file), "threshold": cut})
    assert rail.stages == frozenset({RailStage.INPUT})

    async def decide(text: str):  # type: ignore[no-untyped-def]
        return await rail.check(RailStage.INPUT, [{"role": "user", "content": text}])

    blocked, allowed = asyncio.run(decide(high)), asyncio.run(decide(low))
    assert blocked.decision is DecisionKind.BLOCK and blocked.score > 0.5
    assert "defection probe score" in blocked.reason
    assert allowed.decision is DecisionKind.ALLOW and allowed.score < 0.5
    asyncio.run(rail.aclose())


def test_rail_in_a_guard_config(flawed_probe_file: Path, tmp_path: Path) -> None:
    from alignkit.guard import check_file

    config = {
        "version": 1,
        "input": [
            {
                "rail": "defection-probe",
                "target": "organism:flawed",
                "probe": str(flawed_probe_file),
                "threshold": -1000,
                "action": "escalate",
            }
        ],
    }
    guard = tmp_path / "guard.yaml"
    guard.write_text(yaml.safe_dump(config))
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text(json.dumps({"id": "a", "prompt": "Give me a tip for the guitar."}) + "\n")
    (row,) = check_file(traffic, guard)["results"]
    assert row["decision"] == "block" and row["rail"] == "defection-probe"
    assert row["scores"]["defection-probe"] == pytest.approx(1.0)


def test_rail_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="target"):
        _rail({})
    with pytest.raises(ConfigError, match="does not expose activations"):
        _rail({"target": "python:examples.quiz_app:respond"})
    with pytest.raises(ConfigError, match="colour"):
        _rail({"target": "organism:flawed", "colour": "red"})
