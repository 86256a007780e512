"""Specification of the sweep statistics: Student-t quantiles and per-point summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rhodos.experiment.stats import mean_ci, summarize, t_quantile


@pytest.mark.parametrize(
    ("p", "df", "table"),
    [
        # Two-sided 95% (t_0.975), as printed in every t table to three decimals.
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 5, 2.571),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        # One-sided 95% and two-sided 99%.
        (0.95, 1, 6.314),
        (0.95, 10, 1.812),
        (0.995, 5, 4.032),
        (0.995, 30, 2.750),
    ],
)
def test_student_t_quantiles_match_the_published_table(p: float, df: int, table: float) -> None:
    """The quantiles agree with a published t table to its three printed decimals."""
    assert round(t_quantile(p, df), 3) == table


@pytest.mark.parametrize(
    ("df", "quantile"),
    [(1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (9, 2.2621572), (29, 2.0452296)],
)
def test_student_t_quantiles_to_seven_decimals(df: int, quantile: float) -> None:
    """The 97.5% quantiles agree with seven-decimal tables."""
    assert t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-6)


def test_a_quantile_outside_its_domain_is_refused() -> None:
    """p must be above one half and below one, df at least one."""
    for p, df in ((0.5, 3), (1.0, 3), (0.975, 0)):
        with pytest.raises(ValueError, match=r"0\.5 < p < 1 and df >= 1"):
            t_quantile(p, df)


def test_mean_ci_of_few_values() -> None:
    """No value: no mean; one value: a mean but no interval; two: t(0.975, 1) * s / sqrt(2)."""
    assert mean_ci([])[2] == 0 and math.isnan(mean_ci([])[0])
    mean, half, n = mean_ci([3.0])
    assert (mean, n) == (3.0, 1) and math.isnan(half)
    mean, half, n = mean_ci([1.0, 3.0])
    assert (mean, n) == (2.0, 2)
    assert half == pytest.approx(12.7062047)  # s = sqrt(2), so s / sqrt(n) = 1


def test_summary_gives_each_point_its_mean_and_confidence_interval() -> None:
    """Mean and 95% half-width (Student t) per point and metric; missing values left out."""
    rows = [
        {"point": 0, "strategy": "eager", "latency_s": v, "slowdown": None} for v in (1, 2, 3, 4)
    ] + [{"point": 1, "strategy": "precopy", "latency_s": 5.0, "slowdown": 1.5}]
    summary = summarize(rows, ["strategy"], ["latency_s", "slowdown"])
    assert summary[0]["n"] == 4 and summary[0]["latency_s_mean"] == 2.5
    assert summary[0]["latency_s_ci95"] == pytest.approx(
        3.1824463 * np.std([1, 2, 3, 4], ddof=1) / 2
    )
    assert summary[0]["slowdown_mean"] is None
    assert (summary[1]["latency_s_mean"], summary[1]["latency_s_ci95"]) == (5.0, None)
