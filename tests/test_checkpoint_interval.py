"""The checkpoint-interval experiment: its optima, and what an interval trades."""

from __future__ import annotations

import math

import pytest

from rhodos.faults.interval import daly, measure_checkpoint_cost, run_interval, young


def test_young_and_daly_optima() -> None:
    """Young: sqrt(2CM); Daly's correction is small when C << M, and M when C >= 2M."""
    assert young(0.5, 100.0) == pytest.approx(10.0)
    expected = 10.0 * (1 + math.sqrt(0.0025) / 3 + 0.0025 / 9) - 0.5
    assert daly(0.5, 100.0) == pytest.approx(expected)
    assert daly(300.0, 100.0) == 100.0


def test_a_checkpoint_costs_its_pages_on_the_network_and_the_disk() -> None:
    """Measured: at least the disk time of a 256 KiB image on the Sun-3 file server."""
    cost = measure_checkpoint_cost(256 * 1024)
    assert 256 * 1024 * 8 / 8e6 < cost < 2.0


def test_short_intervals_write_more_and_lose_less() -> None:
    """Under the same failures (same seed), checkpointing every 2 s writes more checkpoints
    and loses less work than every 30 s."""
    common = {"work_s": 60.0, "mttf_s": 30.0, "mttr_s": 5.0, "memory_bytes": 64 * 1024, "seed": 3}
    _, lost_often, written_often, restarts_often = run_interval(2.0, **common)
    _, lost_rarely, written_rarely, restarts_rarely = run_interval(30.0, **common)
    assert restarts_often > 0 and restarts_rarely > 0
    assert written_often > written_rarely
    assert lost_often < lost_rarely
