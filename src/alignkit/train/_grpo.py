"""Online RL against a reward-model ensemble (TRL's ``GRPOTrainer``), watched by GoodhartMonitor.

The policy samples ``num_generations`` answers per prompt; the proxy reward is the
ensemble's uncertainty-weighted objective (``mean − λ·var``, λ = 0.1 for RL after Coste
et al. 2024) and a KL penalty (``beta``) holds the policy near the base. A second reward
function computes the **gold** score — ground truth, never optimised (weight 0): the
rule critic's verdict from the item's known answer, its nonexistent entity or its harm
label (1 when the answer breaks no principle, else 0). TRL logs both per step
(``rewards/proxy/mean``, ``rewards/gold/mean``) and a
:class:`~alignkit.monitor.GoodhartMonitor` reads them through
:func:`~alignkit.monitor.trainer_callback`: the proxy rising while the gold falls is
over-optimisation, and the step where the monitor raises ``overoptimised`` is where it
would have stopped the run. The curve is written to ``DIR/curve.json``.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignkit.core import ChatModel, ConfigError, Message
from alignkit.models import quiet_hf
from alignkit.monitor import Action, GoodhartMonitor, MonitorState, trainer_callback
from alignkit.scoring import EnsembleObjective
from alignkit.train._cases import Case
from alignkit.train._checkpoint import (
    checkpoint_dir,
    drop_printers,
    limit_threads,
    lm_module,
    load_causal_lm,
    require_trl,
    trl_config,
    write_checkpoint,
)
from alignkit.train._critic import RULE_PRINCIPLES, RuleCritic
from alignkit.train._dpo import TrainReport
from alignkit.train._reward import RewardEnsemble

__all__ = ["GRPOSettings", "OnlineCurve", "train_grpo"]

_log = logging.getLogger(__name__)
PROXY, GOLD = "rewards/proxy/mean", "rewards/gold/mean"


@dataclass(frozen=True)
class GRPOSettings:
    """How to run GRPO.

    Attributes:
        steps: Optimiser steps.
        prompts_per_step: Distinct prompts per step.
        num_generations: Answers sampled per prompt (the group).
        beta: KL coefficient.
        objective: Ensemble objective of the proxy reward.
        lam: λ of the ``uwo`` objective.
        learning_rate: Learning rate.
        max_completion_length: Longest answer in tokens.
        temperature: Sampling temperature.
        stop_when_overoptimised: End the run when the monitor says ``overoptimised``.
        threads: torch threads.
        seed: Seed.
    """

    steps: int = 60
    prompts_per_step: int = 8
    num_generations: int = 4
    beta: float = 0.01
    objective: EnsembleObjective = "uwo"
    lam: float = 0.1
    learning_rate: float = 3e-5
    max_completion_length: int = 32
    temperature: float = 1.0
    stop_when_overoptimised: bool = False
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.prompts_per_step < 1 or self.num_generations < 2:
            raise ConfigError("GRPO needs steps >= 1, prompts_per_step >= 1, num_generations >= 2")
        if not 0 < self.learning_rate < math.inf or not 0 <= self.beta < math.inf:
            raise ConfigError("GRPO needs a finite learning_rate > 0 and beta >= 0")


@dataclass(frozen=True)
class OnlineCurve:
    """Proxy and gold per step, and where the monitor would have stopped.

    Attributes:
        steps: Logged steps.
        proxy: Mean proxy reward per step.
        gold: Mean gold score per step.
        kl: Mean KL from the reference per step (empty when not logged).
        state: The monitor's final state.
        alarm_step: Step at which the monitor said ``overoptimised`` (None if never).
        peak_step: The monitor's estimate of the gold peak.
        summary: The monitor's one-line summary.
    """

    steps: list[float]
    proxy: list[float]
    gold: list[float]
    kl: list[float]
    state: str
    alarm_step: float | None
    peak_step: float | None
    summary: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _row(case: Case) -> dict[str, Any]:
    return {
        "prompt": [dict(m) for m in case.messages],
        "kind": case.kind,
        "item_id": case.item_id,
        "request": case.request,
        "answer": case.answer or "",
        "aliases": list(case.aliases),
        "entity": case.entity or "",
        "category": case.category or "",
    }


def _case(prompt: Sequence[Any], kw: dict[str, Any], i: int) -> Case:
    return Case(
        messages=tuple(prompt),
        kind=kw["kind"][i],
        item_id=kw["item_id"][i],
        request=kw["request"][i],
        answer=kw["answer"][i] or None,
        aliases=tuple(kw["aliases"][i]),
        entity=kw["entity"][i] or None,
        category=kw["category"][i] or None,
    )


def _text(completion: Any) -> str:
    if isinstance(completion, list):
        return str(completion[-1]["content"]) if completion else ""
    return str(completion)


def _rewards(
    ensemble: RewardEnsemble, critic: RuleCritic, s: GRPOSettings
) -> tuple[Callable[..., list[float]], Callable[..., list[float]]]:
    def proxy(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        msgs: list[Sequence[Message]] = [list(p) for p in prompts]
        scores = ensemble.score(msgs, [_text(c) for c in completions], s.objective, lam=s.lam)
        return [float(x) for x in scores]

    def gold(prompts: list[Any], completions: list[Any], **kw: Any) -> list[float]:
        return [
            float(critic.passes(_case(p, kw, i), _text(c), RULE_PRINCIPLES))
            for i, (p, c) in enumerate(zip(prompts, completions, strict=True))
        ]

    return proxy, gold


def _config(s: GRPOSettings, work: str) -> Any:
    return trl_config(
        "GRPOConfig",
        work,
        logging_steps=1,
        max_steps=s.steps,
        per_device_train_batch_size=s.prompts_per_step * s.num_generations,
        num_generations=s.num_generations,
        max_completion_length=s.max_completion_length,
        temperature=s.temperature,
        beta=s.beta,
        learning_rate=s.learning_rate,
        reward_weights=[1.0, 0.0],
        remove_unused_columns=False,
        seed=s.seed,
    )


def _curve(history: Sequence[dict[str, Any]], monitor: GoodhartMonitor) -> OnlineCurve:
    rows = [r for r in history if PROXY in r and GOLD in r]
    status = monitor.status
    gold_status = monitor.intent_status(GOLD)
    return OnlineCurve(
        steps=[float(r["step"]) for r in rows],
        proxy=[float(r[PROXY]) for r in rows],
        gold=[float(r[GOLD]) for r in rows],
        kl=[float(r["kl"]) for r in rows if "kl" in r],
        state=str(status.state),
        alarm_step=gold_status.alarm_step,
        peak_step=gold_status.peak_step,
        summary=status.describe(),
    )


def train_grpo(
    base: ChatModel,
    ensemble: RewardEnsemble,
    cases: Sequence[Case],
    out_dir: str | Path,
    *,
    settings: GRPOSettings | None = None,
    critic: RuleCritic | None = None,
) -> tuple[TrainReport, OnlineCurve]:
    """Optimise ``base`` against ``ensemble`` on ``cases`` with GRPO, watched by the monitor.

    Returns the training report and the proxy/gold curve; writes the policy as
    ``hf:out_dir`` and the curve as ``out_dir/curve.json``.

    Raises:
        ConfigError: Fewer cases than one step's prompts (TRL would take no step).
        TargetError: ``base`` has no local weights.
    """
    s = settings or GRPOSettings()
    if len(cases) < s.prompts_per_step:
        raise ConfigError(
            f"GRPO takes {s.prompts_per_step} prompts per step but has {len(cases)} to train on"
            " (raise --max-per-kind)"
        )
    base_dir = checkpoint_dir(base)
    require_trl()
    import torch

    start = time.perf_counter()
    limit_threads(s.threads)
    torch.manual_seed(s.seed)
    monitor = GoodhartMonitor(proxy=PROXY, intent=[GOLD], min_points=8)
    proxy, gold = _rewards(ensemble, critic or RuleCritic(), s)
    action: Action = "stop" if s.stop_when_overoptimised else "warn"
    with quiet_hf(), tempfile.TemporaryDirectory(prefix="alignkit-grpo-") as work:
        model, tokenizer = load_causal_lm(base_dir)
        dataset = lm_module("datasets").Dataset.from_list([_row(c) for c in cases])
        trainer = lm_module("trl").GRPOTrainer(
            model=model,
            reward_funcs=[proxy, gold],
            args=_config(s, work),
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[trainer_callback(monitor, action=action)],
        )
        drop_printers(trainer)
        trainer.train()
        history = list(trainer.state.log_history)
        steps = int(trainer.state.global_step)
        model.eval()
        curve = _curve(history, monitor)
        record = {
            "method": "grpo",
            "settings": asdict(s),
            "prompts": len(cases),
            "monitor": curve.summary,
            "seconds": round(time.perf_counter() - start, 1),
        }
        out = write_checkpoint(model, tokenizer, out_dir, base=base, record=record)
    (out / "curve.json").write_text(json.dumps(curve.as_dict(), indent=2) + "\n")
    seconds = time.perf_counter() - start
    if curve.state == MonitorState.OVEROPTIMISED.value:
        _log.warning("GRPO: %s", curve.summary)
    final = {"proxy": curve.proxy[-1], "gold": curve.gold[-1]} if curve.proxy else {}
    return TrainReport(out, "grpo", steps, seconds, len(cases), final), curve
