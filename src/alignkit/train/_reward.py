"""Bradley–Terry reward models trained with TRL's ``RewardTrainer``, and ensembles of them.

Each member is the base checkpoint with a scalar head (``AutoModelForSequenceClassification``,
one label), trained on its own bootstrap resample of the training pairs with its own
seed. Pairs are split into train and held-out parts by item (all pairs about one item
land on the same side), so held-out accuracy measures preferences about items no member
saw. The ensemble standardises every member on the training responses and combines
them with :func:`alignkit.scoring.ensemble_score` (``mean``, ``worst``, ``uwo``), as in
Coste et al. (2024). The folder written::

    DIR/ensemble.json        members, standardisation, settings, held-out accuracy
    DIR/member-0/ ...        one transformers checkpoint per member
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignkit.core import ChatModel, ConfigError, DataError, Message, Owned, staged_folder
from alignkit.models import quiet_hf
from alignkit.scoring import EnsembleObjective, ensemble_score
from alignkit.train._checkpoint import (
    checkpoint_dir,
    context_of,
    drop_printers,
    limit_threads,
    lm_module,
    pairs_that_fit,
    require_trl,
    trl_config,
)
from alignkit.train._dpo import TrainReport
from alignkit.train._pairs import PreferencePair, pair_counts

__all__ = [
    "REWARD_OUTPUT",
    "RewardEnsemble",
    "RewardSettings",
    "split_pairs",
    "train_reward_ensemble",
]

_log = logging.getLogger(__name__)
ENSEMBLE_FILE = "ensemble.json"


@dataclass(frozen=True)
class RewardSettings:
    """How to train a reward-model ensemble.

    Attributes:
        members: Ensemble size K (Coste et al. found 4–5 enough).
        learning_rate: Peak learning rate.
        epochs: Passes over each member's resample.
        batch_size: Pairs per step.
        heldout_share: Share of items whose pairs are kept out for the accuracy estimate.
        bootstrap: Train each member on a bootstrap resample (else on all train pairs).
        max_steps: Stop each member after this many steps (-1: run the epochs).
        threads: torch threads (default: the cores this process may use).
        seed: Seed of the split, the resamples and the members.
    """

    members: int = 4
    learning_rate: float = 5e-4
    epochs: float = 1.0
    batch_size: int = 16
    heldout_share: float = 0.2
    bootstrap: bool = True
    max_steps: int = -1
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if (
            self.members < 1
            or not 0 <= self.heldout_share < 1
            or not 0 < self.learning_rate < math.inf  # inf trained NaN members, "accuracy 0"
            or not 0 < self.epochs < math.inf
        ):
            raise ConfigError(
                "need members >= 1, 0 <= heldout_share < 1, finite learning_rate > 0 and epochs > 0"
            )


def _group(p: PreferencePair) -> str:
    return p.item_id or p.prompt_text


def split_pairs(
    pairs: Sequence[PreferencePair], heldout_share: float, seed: int = 0
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """``(train, heldout)``: pairs split by item, about ``heldout_share`` of items held out."""
    train: list[PreferencePair] = []
    held: list[PreferencePair] = []
    for p in pairs:
        digest = hashlib.sha256(f"{seed}:{_group(p)}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        (held if u < heldout_share else train).append(p)
    return train, held


def _rows(pairs: Sequence[PreferencePair]) -> list[dict[str, Any]]:
    return [
        {
            "prompt": [dict(m) for m in p.prompt],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]


def _reward_config(s: RewardSettings, work: str, seed: int, max_length: int) -> Any:
    return trl_config(
        "RewardConfig",
        work,
        per_device_train_batch_size=s.batch_size,
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        learning_rate=s.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        max_length=max_length,
        seed=seed,
    )


def _train_member(
    base_dir: Path, pairs: Sequence[PreferencePair], out: Path, s: RewardSettings, k: int
) -> dict[str, float]:
    import torch

    transformers = lm_module("transformers")
    seed = s.seed * 1000 + k
    torch.manual_seed(seed)
    tok = transformers.AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(base_dir), num_labels=1, local_files_only=True, dtype=torch.float32
    )
    model.config.pad_token_id = tok.pad_token_id
    rng = random.Random(seed)
    chosen = [rng.choice(pairs) for _ in pairs] if s.bootstrap else list(pairs)
    dataset = lm_module("datasets").Dataset.from_list(_rows(chosen))
    with tempfile.TemporaryDirectory(prefix="alignkit-rm-") as work:
        trainer = lm_module("trl").RewardTrainer(
            model=model,
            args=_reward_config(s, work, seed, context_of(model)),
            train_dataset=dataset,
            processing_class=tok,
        )
        drop_printers(trainer)
        trainer.train()
        rows = [r for r in trainer.state.log_history if "loss" in r]
        done = trainer.state.global_step  # the loss is logged every 10 steps only
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    last = rows[-1] if rows else {}
    final = {k2: float(v) for k2, v in last.items() if isinstance(v, int | float)}
    return {**final, "step": float(done)}


class RewardEnsemble:
    """K reward models scoring (conversation, response) pairs, combined by an objective.

    Args:
        members: ``(model, tokenizer)`` per member (sequence classifiers with one label).
        center: Each member's mean score on the training responses.
        scale: Each member's standard deviation there.
    """

    def __init__(
        self,
        members: Sequence[tuple[Any, Any]],
        center: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
    ) -> None:
        if not members:
            raise ConfigError("a reward ensemble needs at least one member")
        self.members = list(members)
        k = len(self.members)
        self.center = np.asarray(center if center is not None else [0.0] * k, dtype=np.float64)
        self.scale = np.asarray(scale if scale is not None else [1.0] * k, dtype=np.float64)

    @classmethod
    def load(cls, directory: str | Path) -> RewardEnsemble:
        """Open an ensemble folder written by :func:`train_reward_ensemble`.

        Raises:
            DataError: The folder has no readable ``ensemble.json``.
        """
        d = Path(directory)
        try:
            meta = json.loads((d / ENSEMBLE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{d} is not a reward ensemble (no readable {ENSEMBLE_FILE})") from exc
        names = meta.get("members") if isinstance(meta, dict) else None
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise DataError(f"{d / ENSEMBLE_FILE}: 'members' must be a list of member folders")
        missing = [n for n in names if not (d / n).is_dir()]
        if missing:
            raise DataError(
                f"{d}: member folder {missing[0]!r} named in {ENSEMBLE_FILE} is missing"
            )
        require_trl()
        import torch

        transformers = lm_module("transformers")
        members = []
        with quiet_hf():
            for name in names:
                try:
                    tok = transformers.AutoTokenizer.from_pretrained(
                        str(d / name), local_files_only=True
                    )
                    model = transformers.AutoModelForSequenceClassification.from_pretrained(
                        str(d / name), local_files_only=True, dtype=torch.float32
                    )
                except Exception as exc:  # a truncated file, a broken config.json, ...
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise DataError(
                        f"cannot load reward-ensemble member {d / name}: {why}"
                    ) from exc
                model.eval()
                members.append((model, tok))
        return cls(members, meta.get("center"), meta.get("scale"))

    def raw_scores(
        self, prompts: Sequence[Sequence[Message]], responses: Sequence[str], batch: int = 64
    ) -> NDArray[np.float64]:
        """Unstandardised member scores, shape ``(members, n)``."""
        import torch

        if len(prompts) != len(responses):
            raise ConfigError("prompts and responses must have the same length")
        out = np.zeros((len(self.members), len(responses)), dtype=np.float64)
        for k, (model, tok) in enumerate(self.members):
            ids = [
                list(
                    tok.apply_chat_template(
                        [*map(dict, p), {"role": "assistant", "content": r}],
                        tokenize=True,
                        return_dict=True,
                    )["input_ids"]
                )[: context_of(model)]
                for p, r in zip(prompts, responses, strict=True)
            ]
            pad = int(tok.pad_token_id)
            for start in range(0, len(ids), batch):
                chunk = ids[start : start + batch]
                width = max(len(x) for x in chunk)
                x = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for i, row in enumerate(chunk):
                    x[i, : len(row)] = torch.tensor(row)
                    mask[i, : len(row)] = 1
                with torch.no_grad():
                    logits = model(input_ids=x, attention_mask=mask).logits[:, 0]
                out[k, start : start + len(chunk)] = logits.double().numpy()
        return out

    def member_scores(
        self, prompts: Sequence[Sequence[Message]], responses: Sequence[str]
    ) -> NDArray[np.float64]:
        """Standardised member scores, shape ``(members, n)``."""
        raw = self.raw_scores(prompts, responses)
        return (raw - self.center[:, None]) / np.where(self.scale > 0, self.scale, 1.0)[:, None]

    def score(
        self,
        prompts: Sequence[Sequence[Message]],
        responses: Sequence[str],
        objective: EnsembleObjective = "mean",
        lam: float = 0.5,
    ) -> NDArray[np.float64]:
        """One combined score per response, shape ``(n,)``."""
        return ensemble_score(self.member_scores(prompts, responses), objective, lam=lam)

    def accuracy(self, pairs: Sequence[PreferencePair]) -> dict[str, float]:
        """Share of pairs whose chosen response scores higher: per member and per objective."""
        if not pairs:
            return {}
        prompts = [p.prompt for p in pairs] * 2
        responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
        s = self.member_scores(prompts, responses)
        n = len(pairs)
        out = {f"member_{k}": float(np.mean(s[k, :n] > s[k, n:])) for k in range(len(s))}
        for obj, lam in (("mean", 0.5), ("worst", 0.5), ("uwo", 0.5)):
            combined = ensemble_score(s, obj, lam=lam)  # type: ignore[arg-type]
            out[obj] = float(np.mean(combined[:n] > combined[n:]))
        return out


REWARD_OUTPUT = Owned("the reward ensemble", names=(ENSEMBLE_FILE, "member-*"))
"""What reward training may replace: an empty folder or an earlier ensemble."""


def train_reward_ensemble(
    base: ChatModel,
    pairs: Sequence[PreferencePair],
    out_dir: str | Path,
    *,
    settings: RewardSettings | None = None,
) -> TrainReport:
    """Train K Bradley–Terry reward models on ``pairs`` and write the ensemble folder.

    The report's ``metrics`` hold the held-out pair accuracy of every member and of each
    ensemble objective (``heldout_mean``, ``heldout_worst``, ``heldout_uwo``).

    Pairs longer than the model's context are left out, with a warning.

    Raises:
        ConfigError: Too few pairs to train on.
        DataError: No pair fits in the model's context.
        TargetError: ``base`` has no local weights.
    """
    s = settings or RewardSettings()
    base_dir = checkpoint_dir(base)
    require_trl()
    pairs = _that_fit(base_dir, pairs)  # RewardTrainer dropped the rest without a word
    train, held = split_pairs(pairs, s.heldout_share, s.seed)
    if len(train) < 2:
        raise ConfigError(f"need at least 2 training pairs, got {len(train)}")
    start = time.perf_counter()
    limit_threads(s.threads)
    out = Path(out_dir)
    # Built in a sibling folder and moved into place when done: an interrupted run leaves
    # no half ensemble (members without ensemble.json), and a re-run replaces the old one.
    with staged_folder(out, REWARD_OUTPUT) as stage:
        acc, meta, finals = _train_members(base, base_dir, train, held, pairs, stage, s, start)
    _log.info("reward ensemble: held-out accuracy %s", acc)
    steps = int(sum(f.get("step", 0.0) for f in finals.values()))
    return TrainReport(out, "reward", steps, meta["seconds"], len(train), acc)


def _that_fit(base_dir: Path, pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
    """``pairs`` that fit in the base model's context (see :func:`pairs_that_fit`)."""
    transformers = lm_module("transformers")
    with quiet_hf():
        tok = transformers.AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
        config = transformers.AutoConfig.from_pretrained(str(base_dir), local_files_only=True)
    return pairs_that_fit(tok, pairs, context_of(SimpleNamespace(config=config)))


def _train_members(
    base: ChatModel,
    base_dir: Path,
    train: Sequence[PreferencePair],
    held: Sequence[PreferencePair],
    pairs: Sequence[PreferencePair],
    out: Path,
    s: RewardSettings,
    start: float,
) -> tuple[dict[str, float], dict[str, Any], dict[str, dict[str, float]]]:
    names = [f"member-{k}" for k in range(s.members)]
    finals = {}
    with quiet_hf():
        for k, name in enumerate(names):
            finals[name] = _train_member(base_dir, train, out / name, s, k)
            _log.info("reward member %d/%d trained", k + 1, s.members)
    meta: dict[str, Any] = {
        "members": names,
        "base": base.uri,
        "settings": asdict(s),
        "pairs": {"train": len(train), "heldout": len(held)},
        "pair_counts": pair_counts(pairs),
        "final": finals,
    }
    (out / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    ens = RewardEnsemble.load(out)
    responses = [p.chosen for p in train] + [p.rejected for p in train]
    ref = ens.raw_scores([p.prompt for p in train] * 2, responses)
    meta["center"] = ref.mean(axis=1).tolist()
    meta["scale"] = ref.std(axis=1).tolist()
    ens = RewardEnsemble(ens.members, meta["center"], meta["scale"])
    acc = {f"heldout_{k}": v for k, v in ens.accuracy(held).items()}
    meta["accuracy"] = acc
    meta["seconds"] = round(time.perf_counter() - start, 1)
    (out / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return acc, meta, finals
