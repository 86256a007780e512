"""Specification of `rhodos faults`: bad input is one line and exit 2; a run reports its
counts, and none of its processes is lost or duplicated."""

from __future__ import annotations

import json

import pytest
from cli_contract import breach, invoke


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--strategy", "nope"], "--strategy must be one of"),
        (["--strategy", "auto"], "--strategy must be one of"),
        (["--nodes", "1"], "--nodes must be an integer within [2, 256]"),
        (["--mttf", "0"], "--mttf must be a number of seconds > 0"),
        (["--mttr", "nan"], "--mttr must be a number of seconds > 0"),
        (["--checkpoint-interval", "-1"], "--checkpoint-interval must be"),
        (["--duration", "inf"], "--duration must be a number of seconds > 0"),
        (["--duration", "2e6"], "--duration must be at most 1e6 seconds"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], names: str) -> None:
    """Each bad value names the option and what it allows."""
    result = invoke(["faults", *args])
    assert result.exit_code == 2 and breach(result) is None
    assert names in result.stderr


def test_a_run_reports_its_counts_as_one_json_object() -> None:
    """With random failures, every process completes or is restarted: none is lost or
    runs twice, and the crashes were detected and repaired."""
    result = invoke(
        ["faults", "--strategy", "postcopy", "--nodes", "3", "--mttf", "20", "--mttr", "4",
         "--checkpoint-interval", "3", "--duration", "40", "--seed", "2", "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["crashes"] > 0 and report["recoveries"] > 0
    assert report["processes_started"] == report["processes_completed"] > 0
    assert report["processes_lost"] == 0 and report["processes_duplicated"] == 0
    assert report["restarts"] > 0 and report["work_lost_cpu_s"] > 0
    assert report["checkpoints"] > 0


def test_the_same_seed_gives_the_same_report() -> None:
    """A run is determined by its seed."""
    args = ["faults", "--nodes", "3", "--mttf", "15", "--mttr", "3", "--duration", "20", "--json"]
    assert invoke(args).stdout == invoke(args).stdout
