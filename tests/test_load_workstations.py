"""The idle-workstations experiment: its machinery always, its full table on request.

The full run (seven strategies, twelve workstations, three simulated hours each) takes
a few minutes of CPU; ``make test`` runs it at a small scale, and ``RHODOS_LONG=1``
compares the full table with ``experiments/idle-workstations/expected.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rhodos.load.experiment import render_rows
from rhodos.load.workstations import STRATEGIES, idle_workstations, select_and_release_s

FOLDER = Path(__file__).resolve().parents[1] / "experiments" / "idle-workstations"


def test_the_experiment_folder_has_its_parts() -> None:
    """A README, the study's description and its expected output."""
    for part in ("README.md", "study.toml", "expected.txt"):
        assert (FOLDER / part).is_file(), part


def test_select_and_release_is_one_round_trip_and_one_message() -> None:
    """Asking the trader for a host is a request/reply, giving it back a one-way offer:
    on the SPARC profile each costs a few times the per-message CPU of 0.4 ms at each end."""
    select, release = select_and_release_s()
    assert 4 * 0.0004 < select < 0.005
    assert 2 * 0.0004 < release < select


def test_the_experiment_runs_and_renders_at_a_small_scale() -> None:
    """At scale 0.02 (a few simulated minutes, two strategies) every row is printed."""
    rows = idle_workstations(0.02, strategies=("eager", "flushing"))
    text = render_rows(rows)
    assert rows[0].reference == 36.0
    assert "flushing: evictions" in text and "hosts idle by Sprite's rule" in text
    assert len(rows) == 3 + 5 * 2


@pytest.mark.skipif(not os.environ.get("RHODOS_LONG"), reason="minutes of CPU: set RHODOS_LONG=1")
def test_the_full_experiment_prints_its_expected_output() -> None:
    """The table is the expected one (same seed, same figures)."""
    rows = idle_workstations(1.0, strategies=STRATEGIES)
    assert render_rows(rows) == (FOLDER / "expected.txt").read_text()
