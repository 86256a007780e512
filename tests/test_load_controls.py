"""The measurement of the no-sharing check: Lindley's recursion, the control-variate
estimator, and the M/M/1 part of classic-load-sharing at a small size."""

from __future__ import annotations

import numpy as np
import pytest

from rhodos.load.controls import controlled_mean, fifo_sojourns, relaxation_time
from rhodos.load.experiment import Sizes, classic_load_sharing


def test_fifo_sojourns_follow_lindleys_recursion() -> None:
    """The vectorised sojourns equal the recursion written out, arrival by arrival."""
    rng = np.random.default_rng(7)
    arrivals = np.cumsum(rng.exponential(1 / 0.9, 2000))
    demands = rng.exponential(1.0, 2000)
    wait, expected = 0.0, []
    for k in range(arrivals.size):
        if k:
            wait = max(0.0, wait + demands[k - 1] - (arrivals[k] - arrivals[k - 1]))
        expected.append(wait + demands[k])
    assert np.allclose(fifo_sojourns(arrivals, demands), expected, rtol=0, atol=1e-9)
    assert fifo_sojourns(np.array([5.0]), np.array([2.0])).tolist() == [2.0]


def test_a_control_removes_the_noise_it_shares_and_keeps_the_mean() -> None:
    """Values = 3 + control noise + own noise: the controlled mean is near 3 with a much
    narrower interval than the raw one, and r2 says how much the control explained."""
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 1.0, 200)
    values = 3.0 + shared + rng.normal(0, 0.1, 200)
    got = controlled_mean(values, 5.0 + shared, 5.0)
    assert got.mean == pytest.approx(3.0, abs=3 * got.ci95)
    assert got.ci95 < got.raw_ci95 / 5 and got.r2 > 0.95 and got.beta == pytest.approx(1, abs=0.05)
    with pytest.raises(ValueError, match="3 or more units"):
        controlled_mean(values[:2], values[:2], 0.0)


def test_the_relaxation_time_is_morses() -> None:
    """380 s at rho 0.9 (mean service 1 s): the warm-up is five of them."""
    assert relaxation_time(0.9) == pytest.approx(379.74, abs=0.01)


def test_the_no_sharing_part_runs_with_a_full_warm_up_at_a_small_size() -> None:
    """rho 0.5 on 12 nodes, 300 s measured after five relaxation times: the controlled
    estimate lies within three of its half-widths of 1 / (1 - rho) = 2, and is closer to
    it than half the raw interval (the control explains most of the nodes' spread)."""
    rows = classic_load_sharing(1.0, parts=("mm1",), sizes=Sizes(mm1={0.5: (12, 300.0, 1)}))
    controlled, raw = rows
    assert controlled.reference == raw.reference == 2.0
    assert controlled.simulated is not None and controlled.ci95 is not None
    assert abs(controlled.simulated - 2.0) <= 3 * controlled.ci95
    assert raw.ci95 is not None and controlled.ci95 < raw.ci95 / 2
