"""Statistics of replicated runs: each point's mean and Student-t confidence interval.

The runs of one point of a sweep differ only by their seed; :func:`summarize` gives, per
point and metric, the mean and the half-width of its two-sided 95% confidence interval,
``t(0.975, n - 1) * s / sqrt(n)``. The t quantile comes from :data:`scipy.stats.t`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rhodos.migration_manager.metrics import COMPARED

__all__ = ["mean_ci", "summarize", "t_quantile"]


@functools.cache
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom."""
    if not 0.5 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    from scipy.stats import t  # imported when first needed: it takes a while

    return float(t.ppf(p, df))


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the two-sided ``level`` confidence interval (NaN below 2), n."""
    data = [float(v) for v in values]
    n = len(data)
    if n == 0:
        return math.nan, math.nan, 0
    mean = math.fsum(data) / n
    if n < 2:
        return mean, math.nan, n
    variance = math.fsum((v - mean) ** 2 for v in data) / (n - 1)
    half = t_quantile(0.5 + level / 2, n - 1) * math.sqrt(variance / n)
    return mean, half, n


def summarize(
    rows: Iterable[Mapping[str, Any]], axes: Sequence[str], metrics: Sequence[str] = COMPARED
) -> list[dict[str, Any]]:
    """One entry per point: its axis values, ``n`` (its runs), ``refused`` (how many of
    them were refused), then ``<metric>_mean`` and ``<metric>_ci95`` over the runs that
    have the metric (a refused run has none)."""
    points: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        points.setdefault(int(row["point"]), []).append(row)
    summary = []
    for point in sorted(points):
        runs = points[point]
        entry: dict[str, Any] = {"point": point, **{a: runs[0].get(a) for a in axes}}
        entry["n"] = len(runs)
        entry["refused"] = sum(1 for r in runs if r.get("refused") not in (None, ""))
        for metric in metrics:
            mean, half, _ = mean_ci(r[metric] for r in runs if r.get(metric) is not None)
            entry[f"{metric}_mean"] = None if math.isnan(mean) else mean
            entry[f"{metric}_ci95"] = None if math.isnan(half) else half
        summary.append(entry)
    return summary
