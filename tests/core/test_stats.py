from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alignkit.core import (
    bootstrap_ci,
    newcombe_diff_ci,
    two_proportion_test,
    wilson_interval,
    z_test_from_intervals,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 200), (1, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-9)
    assert hi == pytest.approx(ref.high, abs=1e-9)


@pytest.mark.parametrize("n", [1, 3, 5, 7, 20, 199])
def test_wilson_bounds_contain_the_estimate_exactly(n: int) -> None:
    """At 0 of 5 the lower bound was 2.8e-17, above the value it bounds."""
    assert wilson_interval(0, n)[0] == 0.0
    assert wilson_interval(n, n)[1] == 1.0


def test_wilson_empty_and_invalid() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_two_proportion_matches_chi_square() -> None:
    z, p = two_proportion_test(30, 100, 45, 100)
    chi2, p_ref, _, _ = stats.chi2_contingency([[30, 70], [45, 55]], correction=False)
    assert z > 0
    assert z * z == pytest.approx(chi2, rel=1e-9)
    assert p == pytest.approx(p_ref, rel=1e-9)


def test_newcombe_contains_difference_and_is_ordered() -> None:
    lo, hi = newcombe_diff_ci(60, 100, 40, 100)
    assert lo < 0.2 < hi
    assert lo > 0  # clearly different proportions: the interval excludes 0
    lo2, hi2 = newcombe_diff_ci(50, 100, 50, 100)
    assert lo2 < 0 < hi2


def test_bootstrap_is_seeded_and_covers_mean() -> None:
    data = np.random.default_rng(1).normal(5.0, 1.0, size=400)
    a = bootstrap_ci(data, seed=3)
    b = bootstrap_ci(data, seed=3)
    assert a == b
    assert a[0] < data.mean() < a[1]
    assert a[1] - a[0] == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.2)


def test_z_from_intervals_detects_separation() -> None:
    _, p_far = z_test_from_intervals(0.1, (0.08, 0.12), 0.3, (0.27, 0.33))
    _, p_near = z_test_from_intervals(0.1, (0.0, 0.2), 0.12, (0.02, 0.22))
    assert p_far < 1e-6 < 0.5 < p_near


def test_ece_matches_a_hand_computation() -> None:
    from alignkit.core import calibration_bins, expected_calibration_error

    conf = [0.95, 0.95, 0.95, 0.95, 0.55, 0.55]
    hit = [1, 0, 0, 1, 1, 0]
    # bin of 0.95: accuracy 0.5 (gap 0.45, 4 items); bin of 0.55: accuracy 0.5 (gap 0.05, 2 items)
    assert expected_calibration_error(conf, hit) == pytest.approx((4 * 0.45 + 2 * 0.05) / 6)
    bins = calibration_bins(conf, hit)
    assert [b["count"] for b in bins] == [2.0, 4.0]
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == 0.0
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    assert expected_calibration_error(p, rng.uniform(size=20000) < p) < 0.02
