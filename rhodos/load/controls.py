"""Measuring a queue's mean response properly: warm-up, and a control variate.

A node without load sharing is an M/M/1 queue with processor sharing, and its mean
response is noisy: at rho = 0.9 the mean over a few thousand seconds swings by several
percent with the run's own arrivals and demands. Much of that swing is not the
simulator's: a stretch of arrivals that happened to bring more work makes *any*
work-conserving single server slower. The same arrivals and demands served
first-come-first-served have a mean sojourn known exactly (``1 / (1 - rho)`` for
M/M/1, the Pollaczek-Khinchine formula), and it is computed here from the arrivals
alone, by Lindley's recursion, without simulating anything. Its deviation from its
known mean, on each node, is the *control*: regressing the simulated means on it
across the (independent) nodes and removing the part it explains is the classic
control-variate estimator (Lavenberg & Welch, Management Science 27(3), 1981; Law,
*Simulation Modeling and Analysis*, section 11.4), with a Student-t interval on
``n - 2`` degrees of freedom. The estimator stays unbiased for the simulated mean
whatever the simulator does (the control's mean is exact); what it removes is noise
the simulated queue shares with the control, not a deviation of the simulator.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Controlled", "controlled_mean", "fifo_sojourns", "relaxation_time"]

Floats = npt.NDArray[np.float64]


def relaxation_time(rho: float) -> float:
    """The relaxation time of an M/M/1 queue, ``1 / (1 - sqrt(rho))^2`` (mean service 1):
    how long its queue takes to forget where it started (Morse 1955; Whitt 1989). A
    warm-up of five of them leaves under 1% of a start-up transient."""
    return 1.0 / (1.0 - math.sqrt(rho)) ** 2


def fifo_sojourns(arrivals: Floats, demands: Floats) -> Floats:
    """Each arrival's time in a first-come-first-served single server that starts empty
    (Lindley's recursion, vectorised: the wait is the partial sums of ``demand - gap``
    above their running minimum)."""
    arrivals = np.asarray(arrivals, dtype=np.float64)
    demands = np.asarray(demands, dtype=np.float64)
    if arrivals.size == 0:
        return np.zeros(0)
    steps = demands[:-1] - np.diff(arrivals)
    sums = np.concatenate(([0.0], np.cumsum(steps)))
    waits = sums - np.minimum.accumulate(sums)  # sums[0] = 0: the queue starts empty
    return waits + demands


@attrs.frozen
class Controlled:
    """A mean measured over independent units, raw and with a control variate.

    Attributes:
        raw: the mean of the units' means; ``raw_ci95`` its Student-t 95% half-width.
        mean: the controlled estimate; ``ci95`` its 95% half-width (``n - 2`` d.f.).
        beta: the regression coefficient on the control.
        r2: the share of the units' variance the control explains.
        units: how many units.
    """

    raw: float
    raw_ci95: float
    mean: float
    ci95: float
    beta: float
    r2: float
    units: int


def controlled_mean(values: Floats, controls: Floats, control_mean: float) -> Controlled:
    """The mean of ``values`` (one per independent unit) corrected by ``controls``, whose
    expectation is exactly ``control_mean``."""
    y = np.asarray(values, dtype=np.float64)
    c = np.asarray(controls, dtype=np.float64)
    n = y.size
    if n < 3 or c.size != n:
        raise ValueError(f"a controlled mean needs 3 or more units with a control each, got {n}")
    raw_half = float(stats.t.ppf(0.975, n - 1) * y.std(ddof=1) / math.sqrt(n))
    dc = c - c.mean()
    sxx = float(dc @ dc)
    beta = float(dc @ (y - y.mean()) / sxx) if sxx > 0 else 0.0
    estimate = float(y.mean() - beta * (c.mean() - control_mean))
    residual = y - y.mean() - beta * dc
    s2 = float(residual @ residual) / (n - 2)
    variance = s2 * (1.0 / n + (c.mean() - control_mean) ** 2 / sxx) if sxx > 0 else s2 / n
    half = float(stats.t.ppf(0.975, n - 2) * math.sqrt(variance))
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(residual @ residual) / total if total > 0 else 0.0
    return Controlled(float(y.mean()), raw_half, estimate, half, beta, r2, n)
