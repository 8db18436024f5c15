"""Best-of-n: sample n responses, keep the one a reward-model ensemble scores highest.

Training-free optimisation against the ensemble (TRL no longer ships a best-of-n
sampler). Best-of-n is a soft 1/n-quantiliser; its KL from the base policy is at most
``log n − (n−1)/n`` nats (Beirami et al. 2024). :func:`best_of_n_curve` measures the gold
score of best-of-n for every n up to N from one set of N samples per prompt, with the
unbiased estimator: sort the N samples by proxy score; the expected gold score of the
best of n is ``Σ_{i=n}^{N} C(i−1, n−1) / C(N, n) · gold_(i)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from alignkit.core import ChatModel, ConfigError, Decoding, Message
from alignkit.models import generate_batch
from alignkit.scoring import EnsembleObjective
from alignkit.train._reward import RewardEnsemble

__all__ = ["BestOfN", "BestOfNPoint", "best_of_n", "best_of_n_curve", "best_of_n_kl"]


@dataclass(frozen=True)
class BestOfN:
    """The candidates drawn for one prompt and the one chosen.

    Attributes:
        prompt: The conversation.
        candidates: The n sampled responses (failed requests left out).
        scores: The ensemble objective of each candidate.
        best: The highest-scoring candidate.
    """

    prompt: list[Message]
    candidates: list[str]
    scores: list[float]
    best: str


@dataclass(frozen=True)
class BestOfNPoint:
    """Best-of-n at one n: mean proxy and gold score of the chosen response, and KL bound."""

    n: int
    kl: float
    proxy: float
    gold: float


def best_of_n_kl(n: int) -> float:
    """The analytic KL bound of best-of-n from the base policy, in nats."""
    return math.log(n) - (n - 1) / n


async def _draw(
    target: ChatModel,
    prompts: Sequence[list[Message]],
    n: int,
    decoding: Decoding,
    seed: int,
    concurrency: int,
) -> list[list[str]]:
    requests = [p for p in prompts for _ in range(n)]
    done = await generate_batch(
        target,
        requests,
        concurrency,
        max_tokens=decoding.max_tokens,
        temperature=decoding.temperature if decoding.temperature > 0 else 1.0,
        top_p=decoding.top_p,
        seed=seed,
    )
    texts = [c.text if c.ok else None for c in done]
    return [[t for t in texts[i * n : (i + 1) * n] if t is not None] for i in range(len(prompts))]


async def best_of_n(
    target: ChatModel,
    ensemble: RewardEnsemble,
    prompts: Sequence[list[Message]],
    *,
    n: int = 8,
    objective: EnsembleObjective = "uwo",
    lam: float = 0.5,
    decoding: Decoding | None = None,
    seed: int = 0,
    concurrency: int = 32,
) -> list[BestOfN]:
    """Sample ``n`` responses per prompt and keep the best by the ensemble objective.

    ``lam`` is λ of the uncertainty-weighted objective (0.5 for best-of-n in Coste et al.).
    """
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    dec = decoding or target.default_decoding or Decoding(temperature=1.0)
    drawn = await _draw(target, prompts, n, dec, seed, concurrency)
    flat_p = [p for p, cands in zip(prompts, drawn, strict=True) for _ in cands]
    flat_r = [r for cands in drawn for r in cands]
    scores = ensemble.score(flat_p, flat_r, objective, lam=lam) if flat_r else np.zeros(0)
    out, at = [], 0
    for p, cands in zip(prompts, drawn, strict=True):
        s = [float(x) for x in scores[at : at + len(cands)]]
        at += len(cands)
        best = cands[int(np.argmax(s))] if cands else ""
        out.append(BestOfN(list(p), cands, s, best))
    return out


def _expected_at(n: int, gold_sorted: Sequence[float]) -> float:
    big_n = len(gold_sorted)
    total = math.comb(big_n, n)
    return sum(math.comb(i - 1, n - 1) / total * gold_sorted[i - 1] for i in range(n, big_n + 1))


def best_of_n_curve(
    choices: Sequence[BestOfN],
    gold: Callable[[int, str], float],
    ns: Sequence[int] = (1, 2, 4, 8, 16),
) -> list[BestOfNPoint]:
    """Expected proxy and gold score of best-of-n, for each n, from N samples per prompt.

    Args:
        choices: :func:`best_of_n` results drawn with ``n = N``.
        gold: ``gold(prompt_index, response)``: the ground-truth score of a response.
        ns: The n to report (those above a prompt's sample count are skipped for it).
    """
    points = []
    for n in ns:
        proxies, golds = [], []
        for i, ch in enumerate(choices):
            if len(ch.candidates) < n:
                continue
            order = np.argsort(ch.scores, kind="stable")
            proxy_sorted = [ch.scores[j] for j in order]
            gold_sorted = [gold(i, ch.candidates[j]) for j in order]
            proxies.append(_expected_at(n, proxy_sorted))
            golds.append(_expected_at(n, gold_sorted))
        if proxies:
            points.append(
                BestOfNPoint(n, best_of_n_kl(n), float(np.mean(proxies)), float(np.mean(golds)))
            )
    return points
