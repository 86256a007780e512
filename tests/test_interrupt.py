"""Specification: a sweep stopped at any instant ends within seconds, leaves no process,
loses no finished run, and resumes to exactly the rows of an uninterrupted sweep.

Each sweep runs as the user runs it: ``python -m rhodos sweep`` in a session of its own,
interrupted as a terminal does it (SIGINT to the whole process group: the sweep, its
forkserver, its resource tracker and its workers) at a random instant after it starts,
once with a second Ctrl-C close behind the first; or killed with SIGKILL, which no
handler sees. After each, no process of its session may be left, ``results.csv`` holds
whole rows only, and the manifest says how the session ended. The delays are printed
with any failure. ``RHODOS_LONG_TESTS=1`` (``make fuzz-cli``) runs more of them, and the same
on a Dask LocalCluster.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rhodos.experiment.config import SweepConfig
from rhodos.experiment.executor import SerialExecutor
from rhodos.experiment.results import ResultsFile
from rhodos.experiment.sweep import run_sweep

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads the process table in /proc (Linux)"
)

LONG = bool(os.environ.get("RHODOS_LONG_TESTS"))
#: 24 runs of a fraction of a second each: a few seconds on two workers.
CONFIG = """
[sweep]
name = "interrupted"
replications = 6
strategy = ["eager", "precopy"]
memory_bytes = ["64KiB", "128KiB"]
cpu_seconds = 0.6
migrate_at = 0.1
"""
#: How long a stopped sweep may take to end, and its processes to be gone (generous:
#: the machine may be busy; a hang is what this catches).
EXIT_S = 20.0
GONE_S = 10.0


def _session(sid: int) -> list[str]:
    """The live processes of session ``sid`` (pid and name), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        fields = rest.split()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(f"{entry.name} {name}")
    return found


def _gone(sid: int) -> list[str]:
    """Wait up to GONE_S for session ``sid`` to be empty; what was left (then killed,
    again and again until none is: a failing sweep may still be forking)."""
    deadline = time.monotonic() + GONE_S
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = list(left)
    for _ in range(100):
        if not left:
            break
        for line in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        time.sleep(0.1)
        left = _session(sid)
    return leftover


def _start(config: Path, folder: Path, *extra: str) -> subprocess.Popen[str]:
    """``rhodos sweep`` in a session of its own; returns once it has said it started."""
    args = [sys.executable, "-m", "rhodos", "sweep", str(config), "--out", str(folder)]
    sweep = subprocess.Popen(
        [*args, "--workers", "2", "--no-progress", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert sweep.stdout is not None
    sweep.stdout.readline()  # "interrupted: 24 runs (...) -> folder": the sweep begins
    return sweep


def _whole_rows(folder: Path) -> set[int]:
    """Every line of results.csv is a whole row; the run numbers, each once."""
    path = folder / "results.csv"
    if not path.exists():
        return set()
    text = path.read_text()
    assert text.endswith("\n"), "results.csv ends in a cut line"
    rows = list(csv.reader(text.splitlines()))
    assert all(len(row) == len(rows[0]) for row in rows), "a row of results.csv is cut"
    runs = [int(row[0]) for row in rows[1:]]
    assert len(runs) == len(set(runs)), "a run is in results.csv twice"
    return set(runs)


def _sessions(folder: Path) -> list[str]:
    assert not (folder / "manifest.json.partial").exists()
    if not (folder / "manifest.json").exists():
        return []
    return [s["status"] for s in json.loads((folder / "manifest.json").read_text())["sessions"]]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "interrupted.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def reference(config: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The rows of the sweep run once, uninterrupted, serially."""
    folder = tmp_path_factory.mktemp("reference")
    run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor())
    return ResultsFile(folder / "results.csv").rows()


def _finish(config: Path, folder: Path) -> list[dict[str, Any]]:
    """Resume the sweep to its end here; its rows."""
    run_sweep(SweepConfig.from_toml(config), folder, executor=SerialExecutor(), resume=True)
    return ResultsFile(folder / "results.csv").rows()


def test_ctrl_c_at_any_instant_ends_at_once_and_loses_nothing(
    config: Path, reference: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Interrupted again and again (once with two Ctrl-C in a row), the sweep says how to
    resume in one line, exits 130 within seconds, leaves no process, keeps whole rows."""
    folder = tmp_path / "out"
    rng = random.Random()
    trials = 8 if LONG else 2
    delays = [round(rng.uniform(0.0, 1.5), 2) for _ in range(trials)]
    for trial, delay in enumerate(delays):
        sweep = _start(config, folder, *(["--resume"] if trial else []))
        time.sleep(delay)
        os.killpg(sweep.pid, signal.SIGINT)
        if trial == 1:
            time.sleep(0.05)
            os.killpg(sweep.pid, signal.SIGINT)  # impatient: a second Ctrl-C
        try:
            _, stderr = sweep.communicate(timeout=EXIT_S)
        except subprocess.TimeoutExpired:
            sweep.kill()
            _gone(sweep.pid)
            pytest.fail(f"trial {trial} (Ctrl-C after {delay} s of {delays}) hung")
        where = f"trial {trial}, Ctrl-C after {delay} s (delays {delays})"
        assert _gone(sweep.pid) == [], where
        # it finished before the Ctrl-C, or the Ctrl-C came as the interpreter shut down
        # (after the last line: Python then ends by the signal, -SIGINT)
        if sweep.returncode in (0, -signal.SIGINT):
            assert _sessions(folder)[-1] == "complete", (where, sweep.returncode)
            break
        assert sweep.returncode == 130, (where, stderr)
        assert stderr.splitlines() == [
            f"interrupted: `rhodos sweep {config} --out {folder} --resume` finishes the sweep"
        ], (where, stderr)
        _whole_rows(folder)
        # "complete" when the Ctrl-C came after the last run, while the summary printed.
        assert _sessions(folder)[-1] in ("interrupted", "complete"), where
    assert _finish(config, folder) == reference


def test_a_killed_sweep_takes_its_workers_with_it(
    config: Path, reference: list[dict[str, Any]], tmp_path: Path
) -> None:
    """SIGKILL to the sweep alone: its workers, forkserver and resource tracker end by
    themselves within seconds; the resumed sweep marks the killed session "died"."""
    folder = tmp_path / "out"
    killed = 0
    for trial in range(3 if LONG else 1):
        before = len(_whole_rows(folder))
        sweep = _start(config, folder, *(["--resume"] if trial else []))
        deadline = time.monotonic() + EXIT_S
        # the workers are running: a new row is written (a fixed sleep could outlast a
        # sweep that runs fast on a quiet machine)
        while len(_whole_rows(folder)) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        killed += sweep.poll() is None
        sweep.kill()
        sweep.communicate(timeout=EXIT_S)
        assert _gone(sweep.pid) == [], f"trial {trial}: processes outlived the killed sweep"
        _whole_rows(folder)
    assert killed, "every sweep ended before it could be killed"
    assert _finish(config, folder) == reference
    sessions = _sessions(folder)
    assert sessions.count("died") == killed and sessions[-1] == "complete", sessions


@pytest.mark.skipif(not LONG, reason="a Dask LocalCluster takes seconds to start: make fuzz-cli")
def test_ctrl_c_stops_a_dask_local_cluster_too(config: Path, tmp_path: Path) -> None:
    """On a Dask LocalCluster too: one line, exit 130, no process left, no traceback."""
    folder = tmp_path / "out"
    sweep = _start(config, folder, "--scheduler", "local")
    time.sleep(4.0)
    os.killpg(sweep.pid, signal.SIGINT)
    _, stderr = sweep.communicate(timeout=EXIT_S)
    assert _gone(sweep.pid) == []
    assert sweep.returncode in (0, 130) and "Traceback" not in stderr, stderr
    _whole_rows(folder)
