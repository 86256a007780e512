"""Specification of the metric list: one list, read by the rows, summaries, tables and help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import Scenario, run_migration, scenario_row, summarize
from rhodos.migration_manager import MigrationRecord
from rhodos.migration_manager.map import METRICS as MAP_METRICS
from rhodos.migration_manager.metrics import COMPARED, METRICS, compared, metric


def test_a_records_row_is_who_then_every_metric_in_order_then_refused() -> None:
    """``record.metrics()`` has exactly the listed metrics, in list order."""
    row = MigrationRecord("eager", pid=1, source=0, destination=1).metrics()
    names = [m.name for m in METRICS]
    assert list(row) == ["strategy", "pid", "source", "destination", *names, "refused"]


def test_a_refused_migration_has_no_metric_only_its_reason() -> None:
    """A refused migration did not happen: every metric is empty (nothing it did half-way,
    such as the pages precopy sent before the process ended, is counted), the reason says
    why."""
    record = MigrationRecord("precopy", 1, 0, 1, refused="exited", bytes_by_kind={"pages": 4096})
    row = record.metrics()
    assert all(row[m.name] is None for m in METRICS)
    assert row["refused"] == "exited"


def test_result_rows_and_summaries_carry_the_compared_metrics() -> None:
    """A result row holds every metric; a summary a mean and a CI for each compared one."""
    scenario = Scenario(memory_bytes="64KiB", cpu_seconds=1.0)
    row = {"point": 0, **scenario_row(scenario, run_migration(scenario, "eager"))}
    assert {m.name for m in METRICS} <= set(row)
    (entry,) = summarize([row, row], axes=["strategy"])
    assert [k.removesuffix("_mean") for k in entry if k.endswith("_mean")] == list(COMPARED)
    assert entry["latency_s_ci95"] == 0.0


def test_every_metric_has_a_unit_and_a_sentence_and_compared_ones_a_heading() -> None:
    """Units come from one small vocabulary; compared metrics say how tables and figures
    title them; every name is unique."""
    assert len({m.name for m in METRICS}) == len(METRICS)
    for m in METRICS:
        assert m.unit in ("s", "bytes", "messages", "faults", "calls", "pages", "")
        assert m.description.endswith(".")
        assert m.name.endswith("_s") == (m.unit == "s"), m.name
        if m.compared:
            assert m.label and m.column
    assert set(MAP_METRICS) <= set(COMPARED)


def test_an_unknown_metric_names_the_nearest_and_the_choices() -> None:
    """Choosing metrics by name refuses a misspelt one with a hint."""
    assert [m.name for m in compared(["slowdown", "freeze_s"])] == ["slowdown", "freeze_s"]
    with pytest.raises(ValueError, match=r"unknown metric 'latncy_s' \(did you mean 'latency_s'"):
        compared(["latncy_s"])
    assert metric("rounds").unit == "pages"


def test_the_metric_option_lists_the_compared_metrics() -> None:
    """`rhodos sweep --help` offers exactly the compared metrics."""
    result = CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert ", ".join(COMPARED) in " ".join(result.output.split())
