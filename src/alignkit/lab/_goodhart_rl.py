"""Policy-gradient optimisers for the reward-model world of :mod:`._goodhart_rm`.

Two policies are optimised against a proxy, each with an exactly computable KL to the
base policy π₀ and an exactly computable (or unbiasedly estimated) gold reward:

- :func:`pool_policy_gradient` — the policy is a softmax over a large pool of candidate
  responses drawn from π₀ (the uniform distribution over the pool stands for π₀), which is
  what a language-model policy looks like at small scale: a distribution over discrete
  responses, started at the base model. It is trained by natural policy gradient (what
  TRPO and PPO approximate) on the KL-regularised objective E_π[proxy] − β·KL(π ‖ π₀)
  with exact advantages over the pool, i.e. mirror descent on the simplex:
  ``logits ← logits + lr·(A − β·log(π/π₀))``. Without a penalty this traces the
  exponentially tilted policies π ∝ π₀·exp(c·proxy), the optimum of the KL-regularised
  objective for β = 1/c (Korbak et al. 2022); with one it converges to the tilt at β.
- :func:`policy_gradient` — REINFORCE on a diagonal Gaussian policy N(μ, diag(σ²)) over
  the feature space itself, with a batch-mean baseline and the KL gradient exact.

Both record KL, gold and proxy (relative to π₀) every five steps, and can refresh the
proxy every ``k`` steps with new comparisons drawn from the current policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alignkit.lab._goodhart_rm import (
    FloatArray,
    Proxy,
    RewardWorld,
    comparisons,
    train_proxy,
)

__all__ = [
    "Trajectory",
    "gaussian_kl",
    "policy_gold",
    "policy_gradient",
    "pool_policy_gradient",
]

RECORD_EVERY = 5
Pairs = tuple[FloatArray, FloatArray, FloatArray]


def policy_gold(world: RewardWorld, mu: FloatArray, sd: FloatArray) -> float:
    """Exact E[gold] under the Gaussian policy N(mu, diag(sd²)) (quadrature for tanh)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(24)
    weights = weights / math.sqrt(2 * math.pi)
    q = world.quality_dims
    quality = 0.0
    for k, w_k in enumerate(world.quality_weights()):
        quality += float(w_k) * float(np.tanh(mu[k] + sd[k] * nodes) @ weights)
    penalty = 0.5 * world.kappa * float((mu[q:] ** 2 + sd[q:] ** 2).sum())
    return quality - penalty


def gaussian_kl(mu: FloatArray, sd: FloatArray) -> float:
    """KL(N(mu, diag(sd²)) ‖ N(0, I))."""
    return float(0.5 * (sd**2 + mu**2 - 1.0 - 2.0 * np.log(sd)).sum())


@dataclass(frozen=True)
class Trajectory:
    """A policy-gradient run: KL, gold and proxy (relative to π₀) at recorded steps."""

    steps: FloatArray
    kl: FloatArray
    gold: FloatArray
    proxy: FloatArray

    @property
    def d(self) -> FloatArray:
        """√KL at each recorded step."""
        return np.asarray(np.sqrt(self.kl), dtype=np.float64)


def policy_gradient(
    world: RewardWorld,
    proxy: Proxy,
    rng: np.random.Generator,
    *,
    steps: int = 400,
    kl_coef: float = 0.0,
    lr: float = 0.05,
    batch: int = 256,
    refresh_every: int = 0,
    refresh_size: int = 500,
) -> Trajectory:
    """REINFORCE with a KL penalty: maximise E_π[proxy] − kl_coef · KL(π ‖ π₀).

    The policy is N(mu, diag(exp(2·rho))), started at π₀; the score-function gradient
    uses a batch-mean baseline and the KL gradient is exact. With ``refresh_every > 0``
    the proxy is refitted every that many steps on its comparisons so far plus
    ``refresh_size`` new ones drawn from the current policy.
    """
    mu, rho = np.zeros(world.dim), np.zeros(world.dim)
    base_gold = policy_gold(world, mu, np.ones(world.dim))
    probe = world.base_samples(4096, rng)
    base_proxy = float(proxy.score(probe).mean())
    data = comparisons(world, 0, rng)
    rec: list[tuple[float, float, float, float]] = []
    for step in range(steps + 1):
        sd = np.exp(rho)
        if step % RECORD_EVERY == 0:
            x_eval = mu + sd * probe
            rec.append(
                (
                    step,
                    gaussian_kl(mu, sd),
                    policy_gold(world, mu, sd) - base_gold,
                    float(proxy.score(x_eval).mean()) - base_proxy,
                )
            )
        if step == steps:
            break
        if refresh_every and step and step % refresh_every == 0:
            pool = mu + sd * rng.standard_normal((4 * refresh_size, world.dim))
            new = comparisons(world, refresh_size, rng, sampler=pool)
            data = _extend(data, new)
            proxy = train_proxy(world, 0, rng, proxy.capacity, pairs=data)
        eps = rng.standard_normal((batch, world.dim))
        x = mu + sd * eps
        adv = proxy.score(x)
        adv = adv - adv.mean()
        g_mu = (adv[:, None] * eps / sd).mean(0) - kl_coef * mu
        g_rho = (adv[:, None] * (eps**2 - 1)).mean(0) - kl_coef * (sd**2 - 1)
        mu = mu + lr * g_mu
        rho = rho + lr * g_rho
    arr = np.asarray(rec, dtype=np.float64)
    return Trajectory(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])


def _extend(old: Pairs, new: Pairs) -> Pairs:
    a, b, y = (np.concatenate([o, n]) for o, n in zip(old, new, strict=True))
    return a, b, y


def _expect(p: FloatArray, values: FloatArray) -> float:
    """``Σ p·values`` (elementwise: a BLAS dot is slow on a busy machine)."""
    return float(np.einsum("i,i->", p, values))


def _pool_gold(world: RewardWorld, x: FloatArray, seen: list[Proxy]) -> FloatArray:
    """Gold of each pool response, Rao–Blackwellised over what every proxy so far ignores.

    The policy depends on a response only through the scores of the proxies it has been
    trained on, so for linear proxies gold may be replaced by its expectation given their
    projections (:meth:`RewardWorld.gold_given`) without changing any policy's expected
    gold; for other proxies plain gold is used.
    """
    if all(p.capacity == "linear" for p in seen):
        return world.gold_given(x, np.stack([p.theta for p in seen]))
    return world.gold(x)


def pool_policy_gradient(
    world: RewardWorld,
    proxy: Proxy,
    rng: np.random.Generator,
    *,
    pool: int = 200_000,
    steps: int = 230,
    kl_coef: float = 0.0,
    lr: float = 0.06,
    refresh_every: int = 0,
    refresh_size: int = 500,
) -> Trajectory:
    """Natural policy gradient for a softmax policy over ``pool`` base responses.

    Each step moves every response's logit by ``lr·(A − kl_coef·log(π/π₀))``, where
    ``A = proxy − E_π[proxy]`` is its exact advantage; KL(π ‖ π₀) = Σ π·log(pool·π) and
    E_π[gold] are exact sums over the pool. With ``refresh_every > 0`` the proxy is refitted
    every that many steps on its comparisons so far plus ``refresh_size`` new ones between
    responses drawn from the current policy.

    Args:
        world: The gold reward and labeller.
        proxy: The reward optimised.
        rng: Random generator (pool, refresh comparisons).
        pool: Candidate responses drawn from π₀.
        steps: Updates.
        kl_coef: β of the KL penalty.
        lr: Step size of the natural gradient (in logits per unit of proxy).
        refresh_every: Refit the proxy every this many steps (0: never).
        refresh_size: New comparisons per refresh.

    Returns:
        KL, gold and proxy relative to π₀, every five steps.
    """
    x = world.base_samples(pool, rng)
    seen = [proxy]
    r, g = proxy.score(x), _pool_gold(world, x, seen)
    logits = np.zeros(pool)
    data = comparisons(world, 0, rng)
    rec: list[tuple[float, float, float, float]] = []
    for step in range(steps + 1):
        shifted = logits - logits.max()
        p = np.exp(shifted)
        total = float(p.sum())
        p /= total
        log_ratio = shifted + (math.log(pool) - math.log(total))
        mean_r = _expect(p, r)
        if step % RECORD_EVERY == 0:
            rec.append((step, _expect(p, log_ratio), _expect(p, g) - g.mean(), mean_r - r.mean()))
        if step == steps:
            break
        if refresh_every and step and step % refresh_every == 0:
            drawn = x[rng.choice(pool, 4 * refresh_size, p=p)]
            data = _extend(data, comparisons(world, refresh_size, rng, sampler=drawn))
            proxy = train_proxy(world, 0, rng, proxy.capacity, pairs=data)
            seen.append(proxy)
            r, g = proxy.score(x), _pool_gold(world, x, seen)
        logits = logits + lr * (r - mean_r - kl_coef * log_ratio)
    arr = np.asarray(rec, dtype=np.float64)
    return Trajectory(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
