"""Logging a run: structlog events with the simulated time bound in, only when asked for."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from rhodos.experiment import Scenario, run_migration
from rhodos.experiment import logs as logs_module
from rhodos.experiment.logs import capture, json_logger, plain

SCENARIO = Scenario(memory_bytes="256KiB", cpu_seconds=1.0, migrate_at=0.2)
MIGRATE = ["migrate", "-s", "eager", "--memory", "256KiB", "--at", "0.2"]


def invoke(*args: str) -> Result:
    from rhodos.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_log_json_writes_one_event_per_line(tmp_path: Path) -> None:
    """``--log-json FILE``: JSON lines with sim_time, run, node, component, event and fields."""
    path = tmp_path / "run.jsonl"
    invoke("--log-json", str(path), *MIGRATE)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines
    for line in lines:
        assert list(line)[:5] == ["event", "sim_time", "run", "node", "component"]
    runs = [line["run"] for line in lines]
    assert sorted(set(runs)) == ["baseline", "eager"]
    assert runs.index("eager") > max(i for i, run in enumerate(runs) if run == "baseline")
    for label in ("baseline", "eager"):
        times = [line["sim_time"] for line in lines if line["run"] == label]
        assert times == sorted(times)
    frozen = next(x for x in lines if x["component"] == "migration" and x["event"] == "frozen")
    assert frozen["pid"] == 1 and frozen["dest"] == 1 and frozen["at"] <= frozen["sim_time"]


def test_verbose_prints_readable_lines_on_stderr() -> None:
    """``-v``: one readable line per event on standard error; standard output stays clean."""
    result = invoke("-v", *MIGRATE, "--json")
    row = json.loads(result.stdout)
    assert row["strategy"] == "eager"
    lines = result.stderr.splitlines()
    assert lines
    shape = re.compile(r"t=\d+\.\d{6}s \S+ +run=(baseline|eager) node=\d+ component=\S+")
    assert all(shape.match(line) for line in lines), lines[:3]
    assert any(" frozen " in line and "component=migration" in line for line in lines)


def test_nothing_is_logged_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -v or --log-json no logger is even configured, and nothing is printed."""

    def refuse(**_: object) -> None:
        raise AssertionError("logging configured without -v or --log-json")

    monkeypatch.setattr(logs_module, "configure", refuse)
    result = invoke(*MIGRATE, "--json")
    assert result.stderr == ""
    assert json.loads(result.stdout)["strategy"] == "eager"


def test_capture_collects_the_events_of_the_observed_runs() -> None:
    """``capture()`` holds the event dicts a JSON line would, while it is active."""
    with capture() as logs:
        record = run_migration(SCENARIO, "postcopy", observe=logs.observe)
    assert {entry["run"] for entry in logs} == {"baseline", "postcopy"}
    phases = [
        e for e in logs if e["component"] == "migration" and "at" in e and e["run"] == "postcopy"
    ]
    assert [e["event"] for e in phases] == [name for name, _ in record.phases]
    assert [e["at"] for e in phases] == [at for _, at in record.phases]
    count = len(logs)
    run_migration(SCENARIO, "postcopy", observe=logs.observe)  # after the block: not kept
    assert len(logs) == count


def test_numpy_values_serialise(tmp_path: Path) -> None:
    """numpy scalars and arrays, NaN and tuples become plain JSON values."""
    assert plain(np.int64(3)) == 3 and isinstance(plain(np.int64(3)), int)
    assert plain(np.float32(0.5)) == 0.5
    assert plain(np.arange(3)) == [0, 1, 2]
    assert plain((np.bool_(True), math.nan)) == [True, None]
    path = tmp_path / "x.jsonl"
    with path.open("w") as handle:
        json_logger(handle).info("fault", sim_time=np.float64(0.25), page=np.int64(7))
    assert json.loads(path.read_text()) == {"event": "fault", "sim_time": 0.25, "page": 7}
