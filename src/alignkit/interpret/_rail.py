"""The ``defection-probe`` guard rail: the probe's score on live traffic.

Registered through the core rail registry, so a guard config names it without guard
importing this package::

    input:
      - rail: defection-probe
        target: organism:flawed     # the model behind the guard (activations needed)
        threshold: 4                # probe score that blocks (reference std devs)
        action: block               # or escalate

The rail opens its own handle on ``target`` and, on its first request, fits the probe
(contrast pair + the target's default pack as ordinary traffic) unless ``probe`` names
a probe file saved by ``alignkit interpret probe --save``. Its decision's ``score`` is the
probe score mapped into [0, 1] (0.5 at the threshold).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignkit.core import (
    ConfigError,
    Decision,
    DecisionKind,
    Message,
    Rail,
    RailStage,
    rail,
)
from alignkit.interpret._probe import (
    DEFAULT_THRESHOLD,
    DefectionProbe,
    fit_defection_probe,
    prompt_activations,
)
from alignkit.interpret._texts import reference_prompts
from alignkit.models import ActivationModel, open_target

__all__ = ["DefectionProbeOptions", "DefectionProbeRail"]


class DefectionProbeOptions(BaseModel):
    """Options of the ``defection-probe`` rail."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="Name in decisions and logs.")
    target: str = Field(description="URI of the guarded model (hf: or organism:).")
    probe: str | None = Field(None, description="A saved probe (.npz); fitted when absent.")
    reference: str | None = Field(None, description="Pack or prompts file of ordinary traffic.")
    layer: int | None = Field(None, ge=0, description="Deciding block (default: the middle).")
    threshold: float = Field(
        DEFAULT_THRESHOLD, allow_inf_nan=False, description="Probe score that acts."
    )
    action: Literal["block", "escalate"] = "block"
    scope: Literal["last", "all"] = Field("last", description="Which user messages to read.")


class DefectionProbeRail:
    """Blocks (or escalates) requests whose activations the defection probe flags."""

    def __init__(self, name: str, opts: DefectionProbeOptions, model: ActivationModel) -> None:
        self.name = name
        self.stages = frozenset({RailStage.INPUT})
        self.options = opts
        self.model = model
        self._probe: DefectionProbe | None = None
        self._lock: asyncio.Lock | None = None
        if opts.probe is not None:
            loaded = DefectionProbe.load(opts.probe)
            loaded.check_model(model)
            self._probe = self._configure(loaded)

    def _configure(self, probe: DefectionProbe) -> DefectionProbe:
        o = self.options
        if o.layer is not None:
            probe = probe.with_layer(o.layer)
        return probe.with_threshold(o.threshold)

    async def probe(self) -> DefectionProbe:
        """The fitted probe (fitted once, on first use)."""
        if self._probe is not None:
            return self._probe
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._probe is None:
                ref = reference_prompts(self.model, pack=self.options.reference)
                fitted = await fit_defection_probe(self.model, ref, layer=self.options.layer)
                self._probe = self._configure(fitted)
        return self._probe

    async def check(
        self, stage: RailStage, messages: list[Message], response: str | None = None
    ) -> Decision:
        """Score the user message(s); act when the highest probe score reaches the threshold."""
        start = time.perf_counter()
        users = [m["content"] for m in messages if m["role"] == "user" and m["content"].strip()]
        if self.options.scope == "last":
            users = users[-1:]
        if not users:
            return Decision(decision=DecisionKind.ALLOW, rail=self.name)
        probe = await self.probe()
        scores = probe.scores(await prompt_activations(self.model, users))
        top = float(scores.max())
        elapsed = (time.perf_counter() - start) * 1000
        risk = probe.risk(top)
        if top < probe.threshold:
            return Decision(
                decision=DecisionKind.ALLOW, rail=self.name, score=risk, latency_ms=elapsed
            )
        kind = DecisionKind.ESCALATE if self.options.action == "escalate" else DecisionKind.BLOCK
        return Decision(
            decision=kind,
            rail=self.name,
            reason=f"defection probe score {top:.1f} ≥ {probe.threshold:g}",
            score=risk,
            latency_ms=elapsed,
        )

    async def aclose(self) -> None:
        """Release the model."""
        await self.model.aclose()


def _parse(options: Mapping[str, Any]) -> DefectionProbeOptions:
    try:
        return DefectionProbeOptions.model_validate(dict(options))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise ConfigError(f"rail 'defection-probe': {where}: {err['msg']}") from None


@rail(
    "defection-probe",
    stages=[RailStage.INPUT],
    failure_modes=["deceptive-alignment"],
    tier="classifier",
)
def _defection_probe(options: Mapping[str, Any]) -> Rail:
    """Flag prompts whose activations point towards defection (contrast-pair probe)."""
    opts = _parse(options)
    target = open_target(opts.target)
    if not isinstance(target, ActivationModel) or "activations" not in target.capabilities:
        raise ConfigError(
            f"rail 'defection-probe': target {opts.target} does not expose activations"
            " (use an hf: or organism: target)"
        )
    if opts.reference is not None and not Path(opts.reference).exists():
        raise ConfigError(f"rail 'defection-probe': reference {opts.reference} does not exist")
    if opts.layer is not None and opts.probe is None:  # else only the first request says so
        fits = getattr(target, "check_fits", None)
        if callable(fits):
            fits([opts.layer], None, "rail 'defection-probe': layer")
    return DefectionProbeRail(opts.id or "defection-probe", opts, target)
