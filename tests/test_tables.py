"""Every table shows every digit at 80 columns: no cell is cut, a wide table comes in parts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.cli.application import console
from rhodos.migration_manager import registered

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def eighty() -> Iterator[None]:
    """The command line's console is 80 columns wide."""
    before = console.width
    console.width = 80
    try:
        yield
    finally:
        console.width = before


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def assert_fits(text: str, width: int = 80) -> None:
    """No line is wider than ``width`` and no cell was cut short (rich's ``…``)."""
    assert "…" not in text, text
    for line in text.splitlines():
        assert len(line) <= width, line


@pytest.mark.parametrize(
    "args",
    [
        ("compare", "--memory", "64KiB", "-m", "message_freeze_s", "-m", "residual_s"),
        ("migrate", "-s", "precopy", "--memory", "64KiB"),
        ("run",),
        ("profiles",),
        ("strategies",),
        ("workloads",),
        ("reproduce", "sprite-1991"),
        ("sweep", str(EXAMPLES / "sweep-small.toml"), "--dry-run"),
    ],
)
def test_every_table_fits_80_columns(eighty: None, args: tuple[str, ...]) -> None:
    """At 80 columns, every command's tables are whole: nothing cut, no line too wide."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert_fits(result.output)


def test_compare_at_80_columns_in_a_terminal_shows_every_name_and_digit() -> None:
    """`COLUMNS=80 rhodos compare`, as a user at a narrow terminal runs it: every strategy's
    name whole, every default metric's column, no cut cell."""
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "rhodos", "compare", "--memory", "64KiB"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout)
    rows = [line.split() for line in done.stdout.splitlines()]
    names = [row[0] for row in rows if row and row[0] in registered()]
    assert names == list(registered())
    assert all(len(row) == 7 for row in rows if row and row[0] in registered())


def test_a_table_too_wide_comes_in_parts_that_repeat_the_keys() -> None:
    """Columns that do not fit go to a second table, with the key columns again."""
    from rhodos.cli.tables import Column, fitted

    keys = Column("strategy", ("copy-on-reference", "eager"), key=True, numeric=False)
    columns = [keys, *(Column(f"metric {i} ms", ("1,234,567", "8")) for i in range(8))]
    tables = fitted("wide", columns, 60)
    assert len(tables) > 1
    out = Console(width=60, record=True)
    for table in tables:
        assert table.columns[0].header == "strategy"
        out.print(table)
    text = out.export_text()
    assert_fits(text, 60)
    assert text.count("1,234,567") == 8


def test_a_sweep_summary_fits_80_columns() -> None:
    """The sweep's table of means and confidence intervals, at 80 columns."""
    from rhodos.cli.sweep import summary_tables

    entry: dict[str, Any] = {"strategy": "copy-on-reference", "memory_bytes": 1 << 20, "n": 3}
    means = {
        "latency_s": (1.041123, 0.1125),
        "freeze_s": (0.03546, 0.04316),
        "total_s": (1.045, 0.112),
        "bytes_total": (1209344.0, 132096.0),
        "remote_faults": (15.0, 5.0),
        "slowdown": (1.1404, 0.0391),
    }
    for name, (mean, half) in means.items():
        entry[f"{name}_mean"], entry[f"{name}_ci95"] = mean, half
    metrics = list(means)
    out = Console(width=80, record=True)
    for table in summary_tables([entry], ["strategy", "memory_bytes"], metrics, 80):
        out.print(table)
    text = out.export_text()
    assert_fits(text)
    assert "1,041 ± 112" in text and "35.46 ± 43.16" in text and "1 MiB" in text
