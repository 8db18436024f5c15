"""Least-squares fits of the Gao et al. (2022) scaling forms, with intervals.

Best-of-n: ``R(d) = d(α − βd)``; RL: ``R(d) = d(α − β ln d)``, with ``d = √KL``. Both
are linear in ``(α, β)``, so ordinary least squares gives the estimates, their
covariance, ``R²``, and Student-t intervals for ``β`` and for a prediction (the
prediction interval adds the residual variance to the fit's own uncertainty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import stdtrit

from alignkit.core import ConfigError
from alignkit.lab._goodhart_rm import FloatArray

__all__ = ["FormFit", "fit_form"]

Form = Literal["bon", "rl"]


def _design(d: FloatArray, form: Form) -> FloatArray:
    d = np.asarray(d, dtype=np.float64)
    second = d * d if form == "bon" else d * np.log(np.maximum(d, 1e-12))
    return np.stack([d, -second], axis=1)


@dataclass(frozen=True)
class FormFit:
    """A fitted ``R(d)`` form.

    Attributes:
        form: ``bon`` (``d(α − βd)``) or ``rl`` (``d(α − β ln d)``).
        alpha: α.
        beta: β.
        beta_ci: 95 % interval of β.
        r2: Coefficient of determination on the fitted points.
        n: Points fitted.
        cov: Covariance of ``(α, β)``, shape ``(2, 2)``.
        resid_var: Residual variance.
    """

    form: Form
    alpha: float
    beta: float
    beta_ci: tuple[float, float]
    r2: float
    n: int
    cov: FloatArray
    resid_var: float

    def predict(self, d: FloatArray) -> FloatArray:
        """``R(d)`` for ``d`` of any shape."""
        arr = np.asarray(d, dtype=np.float64)
        x = _design(arr.reshape(-1), self.form)
        return np.asarray((x @ np.array([self.alpha, self.beta])).reshape(arr.shape))

    def prediction_interval(self, d: float, confidence: float = 0.95) -> tuple[float, float]:
        """Interval for a new observation at ``d``."""
        x = _design(np.array([d]), self.form)[0]
        se = math.sqrt(float(x @ self.cov @ x) + self.resid_var)
        t = float(stdtrit(max(self.n - 2, 1), 0.5 + confidence / 2))
        centre = float(self.predict(np.array([d]))[0])
        return centre - t * se, centre + t * se


def fit_form(d: FloatArray, r: FloatArray, form: Form) -> FormFit:
    """Fit ``form`` to points ``(d, r)``, each shape ``(n,)`` with ``n ≥ 3`` and ``d > 0``.

    Raises:
        ConfigError: An unknown form, or points that are not as above (or not finite).
    """
    if form not in ("bon", "rl"):
        raise ConfigError(f"form must be 'bon' or 'rl', got {form!r}")
    d = np.asarray(d, dtype=np.float64)
    y = np.asarray(r, dtype=np.float64)
    if d.ndim != 1 or d.shape != y.shape or len(d) < 3:
        raise ConfigError(
            f"fit_form needs two arrays of the same length n >= 3, got {d.shape} and {y.shape}"
        )
    if not (np.isfinite(d).all() and np.isfinite(y).all() and (d > 0).all()):
        raise ConfigError("fit_form needs finite points with d > 0")
    x = _design(d, form)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    n = len(y)
    dof = max(n - 2, 1)
    resid_var = float(resid @ resid) / dof
    cov = np.asarray(resid_var * np.linalg.pinv(x.T @ x), dtype=np.float64)
    t = float(stdtrit(dof, 0.975))
    half = t * math.sqrt(max(float(cov[1, 1]), 0.0))
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else float("nan")
    beta = float(coef[1])
    return FormFit(form, float(coef[0]), beta, (beta - half, beta + half), r2, n, cov, resid_var)
