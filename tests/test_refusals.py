"""A refused migration is a result that never looks like a success."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import Scenario, compare, run_migration, summarize
from rhodos.kernel import builtin_profiles
from rhodos.migration_manager.metrics import METRICS

#: A process that computes for 2 s while precopy needs about 4 s to copy its 4 MiB.
SHORT_LIVED = ("--profile", "sparc-ethernet", "--memory", "4MiB", "--dirty-rate", "50")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_migrate_exits_3_and_says_why_and_what_to_change() -> None:
    """`migrate` of a migration refused exits 3 (2 is bad input), naming the reason and
    the option that would let it happen."""
    result = invoke("migrate", "-s", "precopy", *SHORT_LIVED, "--cpu-seconds", "2")
    assert result.exit_code == 3
    assert "refused: process 1 exited while it was being migrated" in result.output
    assert "--cpu-seconds" in result.output
    result = invoke("migrate", "-s", "precopy", *SHORT_LIVED, "--cpu-seconds", "2", "--json")
    assert result.exit_code == 3
    row = json.loads(result.output.splitlines()[0])
    assert row["refused"] and row["latency_s"] is None and row["bytes_total"] is None


def test_compare_marks_refused_rows_and_counts_them(tmp_path: Path) -> None:
    """`compare` shows a refused strategy's cells as refused, counts the refusals, and
    its CSV leaves every metric of the row empty beside the reason."""
    out = tmp_path / "c.csv"
    result = invoke(
        "compare", *SHORT_LIVED, "--cpu-seconds", "2", "--csv", str(out), "-m", "bytes_total"
    )
    assert result.exit_code == 0, result.output
    precopy = next(line for line in result.output.splitlines() if line.startswith(" precopy"))
    assert "refused" in precopy
    assert "2 of 9 migrations refused (precopy, auto)" in result.output
    rows = {row["strategy"]: row for row in csv.DictReader(out.open())}
    assert rows["precopy"]["refused"] == "process 1 exited while it was being migrated"
    assert all(rows["precopy"][m.name] == "" for m in METRICS)
    assert rows["eager"]["refused"] == "" and rows["eager"]["bytes_total"] != ""


def test_the_readme_example_migrates_with_the_default_process() -> None:
    """The README's Scenario (4 MiB on SPARCstations, 50 pages/s) is not refused: by
    default the process computes long enough for its address space to cross the network."""
    scenario = Scenario(profile="sparc-ethernet", memory_bytes="4MiB", dirty_rate=50)
    assert scenario.process_cpu_seconds > scenario.migrate_at + scenario.copy_estimate_s()
    record = run_migration(scenario, "precopy", {"max_rounds": 3})
    assert record.ok and math.isfinite(record.latency_s) and len(record.rounds) == 4


def test_the_default_process_is_unchanged_where_it_was_long_enough() -> None:
    """1 MiB on 10 Mb/s Ethernet keeps the 2 CPU-seconds every earlier result used."""
    assert Scenario().process_cpu_seconds == 2.0
    assert Scenario(cpu_seconds=0.7).process_cpu_seconds == 0.7


@pytest.mark.parametrize("profile", sorted(builtin_profiles()))
def test_the_default_migration_finishes_on_every_builtin_profile(profile: str) -> None:
    """With the default process and dirty rate, precopy (the strategy that lets the process
    run longest) ends before the process does, for any address space a node holds, up
    to 1 GiB."""
    node = builtin_profiles()[profile].memory_bytes
    sizes = [s for s in (1 << 20, 16 << 20, 1 << 30) if s <= node // 2] or [node]
    for size in sizes:
        record = run_migration(Scenario(profile=profile, memory_bytes=size), "precopy")
        assert record.ok, (profile, size, record.refused)


def test_a_summary_counts_refused_runs_and_leaves_them_out_of_the_means() -> None:
    """A sweep point's summary says how many runs were refused; its means are the others'."""
    scenario = Scenario(profile="sparc-ethernet", memory_bytes="4MiB", cpu_seconds=2.0)
    done, refused = compare(scenario, ["eager", "precopy"])
    assert done.ok and not refused.ok
    rows = [{"point": 0, "strategy": "x", **r.metrics()} for r in (done, refused)]
    (entry,) = summarize(rows, ["strategy"])
    assert entry["n"] == 2 and entry["refused"] == 1
    assert entry["bytes_total_mean"] == done.bytes_total


def test_the_comparison_figure_marks_a_refused_strategy() -> None:
    """A refused strategy keeps its place in the chart, marked refused, not dropped."""
    from rhodos.experiment.plot import comparison_figure

    scenario = Scenario(profile="sparc-ethernet", memory_bytes="4MiB", cpu_seconds=2.0)
    records = compare(scenario, ["eager", "precopy"])
    figure = comparison_figure(records)
    for panel in figure.axes:
        labels = [t.get_text() for t in panel.get_xticklabels()]
        assert labels == ["eager", "precopy"]
        assert "refused" in [t.get_text().strip() for t in panel.texts]
