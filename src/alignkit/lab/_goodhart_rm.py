"""A small synthetic world for reward-model over-optimisation (after Gao, Schulman, Hilton 2022).

A *response* is a feature vector ``x ∈ R^dim`` drawn from the base policy π₀ = N(0, I).
The **gold** reward values the first ``quality_dims`` features with diminishing returns
and penalises responses that stray from typical values on the other (*nuisance*)
features:

    gold(x) = Σ_{k<q} w_k · tanh(x_k) − (κ/2) · Σ_{k≥q} x_k²

A **proxy** is a Bradley–Terry reward model fitted by logistic regression on ``N``
comparisons of base-policy response pairs, each labelled by the gold preference
``P(a ≻ b) = σ(τ·(gold(a) − gold(b) + bias·(x_a,v − x_b,v)))`` and then flipped with
probability ``label_noise`` (``bias`` is a labeller's systematic liking for the
nuisance feature ``v`` — the shared error that ensembles cannot average away). Its
*capacity* is its feature map: ``linear`` (x) or ``quadratic`` (x and x²). Neither
gold nor proxy refers to the functional forms fitted later; over-optimisation comes
from the proxy's estimation error and misspecification meeting selection pressure.

An :class:`MLPProxy` is the nonlinear capacity: one hidden layer of tanh units fitted
on the same Bradley–Terry loss from a random initialisation, so that members trained on
the same comparisons with different seeds agree where π₀ put its data and disagree in
the tails that best-of-n selects into (the mechanism reward-model ensembles rely on).
Gold under such a proxy's selection must be estimated on plain :meth:`RewardWorld.gold`:
:meth:`RewardWorld.gold_given` holds only for linear selectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, gammaln, log_expit

from alignkit.core import ConfigError

__all__ = [
    "MLPProxy",
    "Proxy",
    "RewardWorld",
    "bon_estimate",
    "kl_bon",
    "train_mlp_proxy",
    "train_proxy",
]

FloatArray = NDArray[np.float64]
Capacity = Literal["linear", "quadratic"]


@dataclass(frozen=True)
class RewardWorld:
    """The gold reward, the labeller and the base policy.

    Attributes:
        dim: Features per response.
        quality_dims: Leading features the gold values (with diminishing returns).
        kappa: Gold's penalty on squared nuisance features.
        temperature: τ, how sharply labels follow gold differences.
        label_noise: Probability a label is flipped.
        bias: Labeller's extra liking for nuisance feature ``dim - 1`` (shared error).
    """

    dim: int = 10
    quality_dims: int = 3
    kappa: float = 1.0
    temperature: float = 2.0
    label_noise: float = 0.0
    bias: float = 0.0

    def __post_init__(self) -> None:
        numbers = (self.kappa, self.temperature, self.label_noise, self.bias)
        if not all(math.isfinite(v) for v in numbers):
            raise ConfigError(
                "RewardWorld's kappa, temperature, label_noise and bias must be finite"
            )
        if not 1 <= self.quality_dims <= self.dim:
            raise ConfigError(
                f"need 1 <= quality_dims <= dim, got {self.quality_dims} and {self.dim}"
            )
        if not (self.temperature > 0 and 0 <= self.label_noise <= 0.5):
            raise ConfigError("need temperature > 0 and 0 <= label_noise <= 0.5 (a flip chance)")

    def quality_weights(self) -> FloatArray:
        """``w``: decreasing weights on the quality features, summing to 1.5."""
        w = 1.0 / np.arange(1, self.quality_dims + 1)
        return np.asarray(1.5 * w / w.sum(), dtype=np.float64)

    def gold(self, x: FloatArray) -> FloatArray:
        """Gold reward of responses ``x`` (shape ``(n, dim)``) → shape ``(n,)``."""
        q = self.quality_dims
        return np.asarray(
            np.tanh(x[:, :q]) @ self.quality_weights() - 0.5 * self.kappa * (x[:, q:] ** 2).sum(1),
            dtype=np.float64,
        )

    def gold_given(self, x: FloatArray, directions: FloatArray) -> FloatArray:
        """E[gold(x') | x' has the same projection as ``x`` on ``directions``], shape ``(n,)``.

        Under π₀ the components of a response outside the span of ``directions``
        (shape ``(m, dim)``) are independent of its components inside it, so when a
        selection rule looks only at that span (any linear proxy, or an ensemble of
        them) replacing gold by this conditional expectation leaves every best-of-n
        expectation unchanged and removes the variance of the ignored components.
        Quality terms use 24-point Gauss–Hermite quadrature; the nuisance penalty is exact.
        """
        basis, _ = np.linalg.qr(np.asarray(directions, dtype=np.float64).T)
        mean = np.einsum("nk,dk->nd", np.einsum("nd,dk->nk", x, basis), basis)
        var = np.clip(1.0 - (basis**2).sum(axis=1), 0.0, None)
        nodes, weights = np.polynomial.hermite_e.hermegauss(24)
        weights = weights / math.sqrt(2 * math.pi)
        q = self.quality_dims
        quality = np.zeros(len(x))
        for k, w_k in enumerate(self.quality_weights()):
            vals = np.tanh(mean[:, k, None] + math.sqrt(var[k]) * nodes[None, :])
            quality += w_k * np.einsum("nj,j->n", vals, weights)
        penalty = 0.5 * self.kappa * ((mean[:, q:] ** 2).sum(axis=1) + var[q:].sum())
        return np.asarray(quality - penalty, dtype=np.float64)

    def labeller(self, x: FloatArray) -> FloatArray:
        """The score the labeller's preferences follow (gold plus its bias)."""
        return self.gold(x) + self.bias * x[:, -1]

    def base_samples(self, n: int, rng: np.random.Generator) -> FloatArray:
        """``n`` responses from π₀ = N(0, I), shape ``(n, dim)``."""
        return rng.standard_normal((n, self.dim))

    def with_(self, **changes: float) -> RewardWorld:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


def features(x: FloatArray, capacity: Capacity) -> FloatArray:
    """The proxy's feature map: ``x`` or ``[x, x²]``; shape ``(n, dim)`` or ``(n, 2·dim)``."""
    if capacity == "linear":
        return x
    if capacity != "quadratic":  # "cubic" was read as quadratic
        raise ConfigError(f"capacity must be 'linear' or 'quadratic', not {capacity!r}")
    return np.concatenate([x, x * x], axis=1)


@dataclass(frozen=True)
class Proxy:
    """A fitted Bradley–Terry reward model: ``score(x) = features(x) · theta``."""

    theta: FloatArray
    capacity: Capacity

    def score(self, x: FloatArray) -> FloatArray:
        """Proxy reward of ``x`` (shape ``(n, dim)``) → shape ``(n,)``."""
        return np.asarray(features(x, self.capacity) @ self.theta, dtype=np.float64)


def comparisons(
    world: RewardWorld,
    n: int,
    rng: np.random.Generator,
    sampler: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``n`` labelled pairs ``(a, b, y)`` with ``y = 1`` when ``a`` is preferred.

    ``sampler``, when given, is a pool of responses (e.g. from the current policy) to
    draw pairs from instead of π₀.
    """
    if sampler is None:
        a, b = world.base_samples(n, rng), world.base_samples(n, rng)
    else:
        a = sampler[rng.integers(0, len(sampler), n)]
        b = sampler[rng.integers(0, len(sampler), n)]
    p = expit(world.temperature * (world.labeller(a) - world.labeller(b)))
    y = (rng.random(n) < p).astype(np.float64)
    flip = rng.random(n) < world.label_noise
    y[flip] = 1.0 - y[flip]
    return a, b, y


def fit_bradley_terry(
    da: FloatArray, y: FloatArray, l2: float = 1e-2, iters: int = 25
) -> FloatArray:
    """Newton's method for logistic regression without intercept on feature differences.

    Args:
        da: ``features(a) − features(b)``, shape ``(n, p)``.
        y: Labels in {0, 1}, shape ``(n,)``.
        l2: Ridge penalty (per comparison) that keeps the fit finite.
        iters: Newton steps (converges in far fewer for these sizes).

    Returns:
        ``theta``, shape ``(p,)``.
    """
    n, p = da.shape
    theta = np.zeros(p)
    for _ in range(iters):
        z = expit(da @ theta)
        grad = da.T @ (z - y) / n + l2 * theta
        hess = (da * (z * (1 - z))[:, None]).T @ da / n + l2 * np.eye(p)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return theta


def train_proxy(
    world: RewardWorld,
    n_comparisons: int,
    rng: np.random.Generator,
    capacity: Capacity = "linear",
    pairs: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> Proxy:
    """Fit a Bradley–Terry proxy on ``n_comparisons`` fresh comparisons (or on ``pairs``)."""
    if pairs is None and n_comparisons < 1:
        raise ConfigError(f"a proxy needs at least one comparison, got {n_comparisons}")
    a, b, y = pairs if pairs is not None else comparisons(world, n_comparisons, rng)
    da = features(a, capacity) - features(b, capacity)
    return Proxy(fit_bradley_terry(da, y), capacity)


@dataclass(frozen=True)
class MLPProxy:
    """A Bradley–Terry reward model with one hidden layer: ``score(x) = tanh(x Wᵀ + b) · v``.

    Attributes:
        w: Input weights, shape ``(hidden, dim)``.
        b: Hidden biases, shape ``(hidden,)``.
        v: Output weights, shape ``(hidden,)``.
    """

    w: FloatArray
    b: FloatArray
    v: FloatArray

    def score(self, x: FloatArray) -> FloatArray:
        """Proxy reward of ``x`` (shape ``(n, dim)``) → shape ``(n,)``."""
        return np.asarray(np.tanh(x @ self.w.T + self.b) @ self.v, dtype=np.float64)


MLP_HIDDEN = 16
MLP_L2 = 3e-3
MLP_ITERS = 1000


def _unpack(params: FloatArray, hidden: int, dim: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The flat parameter vector as ``(W, b, v)`` of an :class:`MLPProxy`."""
    k = hidden * dim
    return params[:k].reshape(hidden, dim), params[k : k + hidden], params[k + hidden :]


def _mlp_loss(
    params: FloatArray, a: FloatArray, b: FloatArray, sign: FloatArray, hidden: int, l2: float
) -> tuple[float, FloatArray]:
    """Mean Bradley–Terry log-loss plus ``l2/2·(‖W‖² + ‖v‖²)``, and its gradient."""
    n, dim = a.shape
    w, bias, v = _unpack(params, hidden, dim)
    ha, hb = np.tanh(a @ w.T + bias), np.tanh(b @ w.T + bias)
    margin = sign * ((ha - hb) @ v)
    loss = -float(log_expit(margin).mean()) + 0.5 * l2 * float((w**2).sum() + v @ v)
    du = -sign * expit(-margin) / n  # d loss / d (s(a) − s(b))
    ga, gb = (du[:, None] * (1 - ha**2)) * v, (du[:, None] * (1 - hb**2)) * v
    grad_w = ga.T @ a - gb.T @ b + l2 * w
    grad_b = ga.sum(0) - gb.sum(0)
    grad_v = (ha - hb).T @ du + l2 * v
    return loss, np.concatenate([grad_w.ravel(), grad_b, grad_v])


def train_mlp_proxy(
    world: RewardWorld,
    n_comparisons: int,
    rng: np.random.Generator,
    *,
    pairs: tuple[FloatArray, FloatArray, FloatArray] | None = None,
    hidden: int = MLP_HIDDEN,
    l2: float = MLP_L2,
    iters: int = MLP_ITERS,
) -> MLPProxy:
    """Fit an :class:`MLPProxy` by L-BFGS on ``n_comparisons`` fresh comparisons (or ``pairs``).

    ``rng`` draws the comparisons (when ``pairs`` is not given) and then the
    initialisation (weights N(0, 1/dim), biases N(0, 1), output N(0, 1/hidden)), so
    proxies fitted on the same ``pairs`` with different ``rng`` differ only by their start.
    """
    a, b, y = pairs if pairs is not None else comparisons(world, n_comparisons, rng)
    dim = a.shape[1]
    start = np.concatenate(
        [
            rng.normal(0.0, 1.0 / math.sqrt(dim), hidden * dim),
            rng.normal(0.0, 1.0, hidden),
            rng.normal(0.0, 1.0 / math.sqrt(hidden), hidden),
        ]
    )
    res = minimize(
        _mlp_loss,
        start,
        args=(a, b, 2.0 * y - 1.0, hidden, l2),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": iters},
    )
    return MLPProxy(*_unpack(np.asarray(res.x, dtype=np.float64), hidden, dim))


def kl_bon(n: int | FloatArray) -> FloatArray:
    """KL of best-of-n from its base policy, ``log n − (n − 1)/n`` (an upper bound)."""
    arr = np.asarray(n, dtype=np.float64)
    if not (np.isfinite(arr).all() and (arr >= 1).all()):
        raise ConfigError("best-of-n needs finite n >= 1")
    return np.asarray(np.log(arr) - (arr - 1) / arr, dtype=np.float64)


def bon_estimate(selector: FloatArray, values: FloatArray, ns: list[int]) -> FloatArray:
    """Unbiased best-of-n estimate of ``values`` for each ``n`` from one pool of samples.

    With the ``N`` samples sorted by ``selector`` (ascending, ranks ``i = 1..N``), the
    expected value of the sample best-of-n picks is
    ``Σ_{i=n}^{N} C(i−1, n−1)/C(N, n) · values_(i)``. Samples tied on ``selector`` are
    picked among at random, so each of them counts with the mean value of its tie group.

    Args:
        selector: Scores used to pick, shape ``(N,)``.
        values: What to average, shape ``(N,)`` or ``(N, k)``.
        ns: The ``n`` values, each ``1 ≤ n ≤ N``.

    Returns:
        Shape ``(len(ns),)`` or ``(len(ns), k)``.
    """
    big_n = len(selector)
    if any(not 1 <= n <= big_n for n in ns):
        raise ValueError(f"best-of-n needs 1 <= n <= {big_n} samples, got n in {ns}")
    if np.isnan(selector).any():
        raise ValueError("best-of-n selector scores must not be NaN")
    order = np.argsort(selector, kind="stable")
    v = _tie_means(selector[order], values[order])
    i = np.arange(1, big_n + 1, dtype=np.float64)
    out = []
    for n in ns:
        log_w = np.full(big_n, -np.inf)
        ok = i >= n
        log_w[ok] = (
            gammaln(i[ok])
            - gammaln(n)
            - gammaln(i[ok] - n + 1)
            - (gammaln(big_n + 1) - gammaln(n + 1) - gammaln(big_n - n + 1))
        )
        w = np.exp(log_w)
        out.append(np.einsum("i,i...->...", w, v))  # not BLAS: slow on a busy machine
    return np.asarray(out, dtype=np.float64)


def _tie_means(sorted_selector: FloatArray, values: FloatArray) -> FloatArray:
    """``values`` with each run of equal (sorted) selector scores replaced by its mean."""
    starts = np.flatnonzero(np.r_[True, sorted_selector[1:] != sorted_selector[:-1]])
    if len(starts) == len(sorted_selector):
        return values  # no ties: the usual case for continuous scores
    sizes = np.diff(np.r_[starts, len(sorted_selector)])
    sums = np.add.reduceat(values, starts, axis=0)
    means = sums / sizes.reshape(-1, *([1] * (values.ndim - 1)))
    return np.asarray(np.repeat(means, sizes, axis=0), dtype=np.float64)


def quantile_estimate(selector: FloatArray, values: FloatArray, q: float) -> float:
    """Mean of ``values`` over the top ``q`` fraction of samples by ``selector``."""
    k = max(1, int(math.ceil(q * len(selector))))
    top = np.argpartition(-selector, k - 1)[:k]
    return float(values[top].mean())
