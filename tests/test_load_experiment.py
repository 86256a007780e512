"""The classic-load-sharing experiment: its machinery always, its figures on request.

The full experiment takes about ten minutes of CPU (`rhodos reproduce
classic-load-sharing`; see its README), so ``make test`` runs it at a small scale to
check that it runs and renders, and the full run, compared with
``experiments/classic-load-sharing/expected.txt``, runs when ``RHODOS_LONG=1`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rhodos.load.experiment import PARTS, Row, classic_load_sharing, render_rows, same_choices

FOLDER = Path(__file__).resolve().parents[1] / "experiments" / "classic-load-sharing"


def test_the_experiment_folder_has_its_parts() -> None:
    """A README, the study's description and its expected output (from a full run,
    checked with ``RHODOS_LONG=1``)."""
    for part in ("README.md", "study.toml", "expected.txt"):
        assert (FOLDER / part).is_file(), part


def test_a_row_knows_its_deviation_and_a_claim_has_none() -> None:
    """Numeric rows carry their deviation in percent; qualitative claims carry a verdict."""
    numeric = Row("x", 10.2, 10.0, "s", 0.1, 2.0, True, "model")
    assert numeric.deviation_pct == pytest.approx(2.0)
    claim = Row("sender beats receiver", None, None, "", None, None, False, "paper")
    assert claim.deviation_pct is None
    text = render_rows([numeric, claim])
    assert "within 2%" in text and "DOES NOT HOLD" in text


def test_the_supermarket_part_runs_and_renders_at_a_small_scale() -> None:
    """At scale 0.01 (20 nodes, seconds of arrivals) the part runs and prints its row; the
    figure itself is not checked at this size (small clusters are not the N -> infinity
    model)."""
    rows = classic_load_sharing(0.01, parts=("market",))
    assert len(rows) == 1 and rows[0].reference == pytest.approx(2.6141, abs=1e-4)
    assert rows[0].simulated is not None and rows[0].simulated > 1.0
    assert rows[0].claim in render_rows(rows)


def test_unknown_parts_are_refused() -> None:
    """A misspelt part names the parts."""
    with pytest.raises(ValueError, match="parts: mm1, elz, market"):
        classic_load_sharing(0.01, parts=("mm2",))


def test_same_choices_means_every_process_on_the_same_node() -> None:
    """Nanosecond differences in responses are the same choice; another node is not."""
    one = [{1: (0, 1.5), 2: (3, 2.0)}]
    assert same_choices(one, [{1: (0, 1.5 + 2e-9), 2: (3, 2.0)}])
    assert not same_choices(one, [{1: (1, 1.5), 2: (3, 2.0)}])
    assert not same_choices(one, [{1: (0, 1.6), 2: (3, 2.0)}])
    assert not same_choices(one, [{1: (0, 1.5)}])


@pytest.mark.skipif(not os.environ.get("RHODOS_LONG"), reason="minutes of CPU: set RHODOS_LONG=1")
def test_the_full_experiment_prints_its_expected_output() -> None:
    """The table, verdicts included, is the expected one (same seed, same figures)."""
    rows = classic_load_sharing(1.0, parts=PARTS)
    assert render_rows(rows) == (FOLDER / "expected.txt").read_text()
