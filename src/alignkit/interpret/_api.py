"""One-call entry points behind ``alignkit interpret probe | steer | explain``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alignkit.core import ConfigError, TargetKind, run_sync
from alignkit.data import load_pack
from alignkit.interpret._attribution import ShapResult, shap_attributions
from alignkit.interpret._check import activation_model
from alignkit.interpret._fairness import FairnessReport, fairness_report
from alignkit.interpret._probe import (
    DEFAULT_THRESHOLD,
    DefectionProbe,
    auroc_by_layer,
    fit_defection_probe,
    fitting_activations,
)
from alignkit.interpret._steer import ContrastPair, build_steering_vector, sycophancy_pairs
from alignkit.interpret._tabular import ClassifierTarget
from alignkit.interpret._texts import LabelledPrompt, reference_prompts
from alignkit.models import Positions, SteeringVector, open_target

__all__ = [
    "ClassifierExplanation",
    "ProbeResult",
    "explain_classifier",
    "probe_prompts",
    "run_probe",
    "run_steer",
    "steer_pairs_from_pack",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    """Scores of a prompt set under the defection probe.

    Attributes:
        prompts: The scored prompts (with labels when the file had them).
        scores: ``(n,)`` probe score at ``layer``.
        layer: The deciding block.
        threshold: Score at or above which a prompt is flagged.
        auroc_by_layer: Block → AUROC, when every prompt had a label and both occur.
        probe: The fitted probe.
    """

    prompts: list[LabelledPrompt]
    scores: np.ndarray
    layer: int
    threshold: float
    auroc_by_layer: dict[int, float] | None
    probe: DefectionProbe = field(repr=False)

    @property
    def flagged(self) -> np.ndarray:
        """Boolean mask of flagged prompts."""
        return self.scores >= self.threshold

    def to_json(self) -> dict[str, Any]:
        """``{"scores": [{"prompt", "score"}], "layer", "auroc_by_layer"?}`` (the CLI's JSON)."""
        out: dict[str, Any] = {
            "scores": [
                {"prompt": p.prompt, "score": round(float(s), 6)}
                for p, s in zip(self.prompts, self.scores, strict=True)
            ],
            "layer": self.layer,
        }
        if self.auroc_by_layer is not None:
            out["auroc_by_layer"] = {str(k): round(v, 6) for k, v in self.auroc_by_layer.items()}
        return out


async def probe_prompts(
    model: Any,
    prompts: Sequence[LabelledPrompt],
    *,
    reference: str | Path | None = None,
    layer: int | None = None,
    threshold: float | None = None,
    probe: DefectionProbe | None = None,
    seed: int = 0,
) -> ProbeResult:
    """Fit (or reuse) the defection probe on ``model`` and score ``prompts``.

    Prompts the model cannot take (longer than its context) are left out, with a warning;
    the result holds only the scored ones.

    Args:
        model: A target with activations (or a wrapper around one).
        prompts: Prompts to score; AUROC per block is computed when all carry labels.
        reference: Pack or prompts file of ordinary traffic (default: the target's pack).
        layer: Deciding block (default: the middle one).
        threshold: Flagging threshold (default: a reused probe's own, else
            ``DEFAULT_THRESHOLD``).
        probe: An already fitted probe (then ``reference`` is not used).
        seed: Reference sampling and folds.
    """
    if not prompts:
        raise ConfigError("no prompts to score")
    am = activation_model(model)
    if probe is None:
        ref = reference_prompts(am, pack=reference, seed=seed)
        chosen = DEFAULT_THRESHOLD if threshold is None else threshold
        probe = await fit_defection_probe(am, ref, layer=layer, threshold=chosen, seed=seed)
    else:
        probe.check_model(am)
        if threshold is not None:  # a saved probe keeps the threshold it was saved with
            probe = probe.with_threshold(threshold)
        if layer is not None:
            probe = probe.with_layer(layer)
    kept, acts = await fitting_activations(am, [p.prompt for p in prompts])
    if len(kept) < len(prompts):
        _log.warning(
            "%d of %d prompt(s) left out: the model cannot take them (too long?)",
            len(prompts) - len(kept),
            len(prompts),
        )
        prompts = [prompts[i] for i in kept]
    by_layer = probe.scores_by_layer(acts)
    labels = [p.label for p in prompts]
    aurocs = None
    if all(lab is not None for lab in labels) and len(set(labels)) == 2:
        values = auroc_by_layer(by_layer, np.array(labels, dtype=int))
        aurocs = dict(zip(probe.layers, values, strict=True))
    scores = by_layer[:, probe.layers.index(probe.layer)]
    return ProbeResult(list(prompts), scores, probe.layer, probe.threshold, aurocs, probe)


def _run(coro_factory: Any, uri: str) -> Any:
    async def main() -> Any:
        target = open_target(uri)
        try:
            return await coro_factory(target)
        finally:
            await target.aclose()

    return run_sync(main())


def run_probe(
    target: str,
    prompts: Sequence[LabelledPrompt],
    *,
    reference: str | Path | None = None,
    layer: int | None = None,
    threshold: float | None = None,
    probe_file: str | Path | None = None,
    save: str | Path | None = None,
    seed: int = 0,
) -> ProbeResult:
    """:func:`probe_prompts` on the target a URI names (opened and closed here)."""
    loaded = DefectionProbe.load(probe_file) if probe_file is not None else None

    async def go(t: Any) -> ProbeResult:
        return await probe_prompts(
            t,
            prompts,
            reference=reference,
            layer=layer,
            threshold=threshold,
            probe=loaded,
            seed=seed,
        )

    result: ProbeResult = _run(go, target)
    if save is not None:
        result.probe.save(save)
    return result


def steer_pairs_from_pack(
    target: str,
    pack: str | Path | None = None,
    *,
    form: Literal["prompt", "answer"] = "prompt",
    n: int = 200,
    seed: int = 0,
) -> list[ContrastPair]:
    """Sycophancy pairs from the ``train`` facts of ``pack`` (default: the target's pack)."""
    where = pack
    if where is None:
        t = open_target(target)
        where = t.default_pack
        run_sync(t.aclose())
    if where is None:
        raise ConfigError(f"target {target} names no default pack; pass one with --pack")
    facts = load_pack(where, split="train").items("facts")
    if not facts:
        raise ConfigError(f"no train facts in {where} to build sycophancy pairs from")
    return sycophancy_pairs(facts, form=form, n=n, seed=seed)


def run_steer(
    target: str,
    pairs: Sequence[ContrastPair],
    *,
    layers: Sequence[int] | None = None,
    positions: Positions = "all",
) -> SteeringVector:
    """Build a steering vector on the target a URI names."""

    async def go(t: Any) -> SteeringVector:
        return await build_steering_vector(
            activation_model(t), pairs, layers=layers, positions=positions, meta={"target": target}
        )

    vector: SteeringVector = _run(go, target)
    return vector


@dataclass(frozen=True)
class ClassifierExplanation:
    """Fairness and SHAP attributions of a ``classifier:`` target.

    Attributes:
        fairness: The group metrics (None when the table has fewer than two groups).
        shap: The SHAP ranking (None when SHAP cannot run on the table's features).
        notes: Why a part is missing, one line each.
    """

    fairness: FairnessReport | None
    shap: ShapResult | None
    notes: tuple[str, ...] = ()


def explain_classifier(target: str, *, seed: int = 0) -> ClassifierExplanation:
    """Fairness metrics and the SHAP ranking of a ``classifier:`` target.

    Each part is computed without the other: text features (no SHAP) leave the fairness
    metrics, and a single group (nothing to compare) leaves the SHAP ranking.
    """
    t = open_target(target)
    if t.kind is not TargetKind.CLASSIFIER or not isinstance(t, ClassifierTarget):
        raise ConfigError(f"target {target} is a {t.kind} target, not a classifier")
    x, y, sensitive = t.data().fairness_rows()  # blank label/group cells left out
    notes: list[str] = []
    report = None
    groups = sorted({str(g) for g in sensitive})
    if len(groups) < 2:  # a single group has no gap to measure: 0 would read as "fair"
        notes.append(
            f"fairness not measured: the table has one {t.sensitive} group"
            f" ({', '.join(groups) or 'none'}); fairness compares two or more"
        )
    else:
        report = fairness_report(y, t.predict(x), sensitive, seed=seed)
    try:
        shap = shap_attributions(t, seed=seed)
    except ConfigError as exc:
        shap = None
        notes.append(f"no SHAP values: {exc}")
    return ClassifierExplanation(report, shap, tuple(notes))
