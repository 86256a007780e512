"""Specification of sweeps: checked configs, paired seeds, identical rows wherever they run,
and a results file that survives a kill and resumes without duplicates."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment.config import SweepConfig
from rhodos.experiment.executor import DaskExecutor, PoolExecutor, RunFailed, SerialExecutor
from rhodos.experiment.results import ResultsFile, folder_lock
from rhodos.experiment.schema import SweepConfigError, apply_override
from rhodos.experiment.sweep import run_sweep
from rhodos.migration_manager import BaseStrategy, register, unregister

EXAMPLE = Path(__file__).parent.parent / "examples" / "sweep-small.toml"

#: Two strategies x two sizes x three replications of a tiny process: 12 runs.
TINY: dict[str, Any] = {
    "sweep": {
        "seed": 3,
        "replications": 3,
        "strategy": ["eager", "copy-on-reference"],
        "memory_bytes": ["64KiB", "128KiB"],
        "cpu_seconds": 0.5,
        "migrate_at": 0.1,
    }
}


def tiny(**changes: Any) -> dict[str, Any]:
    """TINY with some [sweep] keys changed (None removes a key)."""
    sweep = {**TINY["sweep"], **changes}
    return {"sweep": {k: v for k, v in sweep.items() if v is not None}}


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """A TOML file of ``data`` (tables of strings, numbers and lists: JSON spells them)."""
    lines = []
    for table, values in data.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def body(folder: Path) -> list[str]:
    """The result lines of a sweep folder, sorted by run number (the header apart)."""
    lines = (folder / "results.csv").read_text().splitlines()[1:]
    return sorted(lines, key=lambda line: int(line.split(",")[0]))


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TINY run serially, in this process."""
    out = tmp_path_factory.mktemp("serial")
    run_sweep(SweepConfig.from_dict(TINY), out, executor=SerialExecutor())
    return out


# -- the same rows everywhere -----------------------------------------------------------
def test_serial_pool_and_dask_give_identical_rows(serial: Path, tmp_path: Path) -> None:
    """The same sweep run serially, on two local workers and on a Dask LocalCluster of two
    workers writes the same rows, byte for byte once sorted by run."""
    pytest.importorskip("distributed")
    config = SweepConfig.from_dict(TINY)
    with PoolExecutor(2) as pool:
        run_sweep(config, tmp_path / "pool", executor=pool)
    with DaskExecutor("local", 2) as dask:
        run_sweep(config, tmp_path / "dask", executor=dask)
    expected = body(serial)
    assert len(expected) == 12
    assert body(tmp_path / "pool") == expected
    assert body(tmp_path / "dask") == expected


def test_rows_carry_identity_axes_and_simulated_metrics_only(serial: Path) -> None:
    """Each row holds its run, point, replication, axis values and seed, then simulated
    quantities; the wall clock is only in the manifest."""
    rows = ResultsFile(serial / "results.csv").rows()
    assert [r["run"] for r in rows] == list(range(12))
    first = rows[0]
    assert list(first)[:5] == ["run", "point", "replication", "strategy", "memory_bytes"]
    assert (first["strategy"], first["memory_bytes"], first["replication"]) == ("eager", 65536, 0)
    assert not [c for c in first if "wall" in c or "elapsed" in c]
    manifest = json.loads((serial / "manifest.json").read_text())
    session = manifest["sessions"][-1]
    assert session["status"] == "complete" and session["runs"] == 12 and session["wall_s"] > 0
    assert manifest["seeds"] == list(SweepConfig.from_dict(TINY).seeds())
    assert manifest["config"] == TINY
    assert {"python", "rhodos", "simpy", "numpy"} <= set(session["versions"])
    assert "git" in session and manifest["started"] and manifest["ended"]


def test_parquet_is_written_beside_the_csv_only_with_pandas_and_pyarrow(serial: Path) -> None:
    """results.parquet exists exactly when pandas and pyarrow are installed."""
    present = all(importlib.util.find_spec(name) for name in ("pandas", "pyarrow"))
    assert (serial / "results.parquet").exists() == present


# -- seeds --------------------------------------------------------------------------------
def test_replications_are_paired_across_strategies_with_spawned_seeds() -> None:
    """Replication r of every point runs with SeedSequence(seed).spawn(R)[r]; runs are
    numbered replication-major."""
    plan = SweepConfig.from_dict(TINY).plan()
    children = np.random.SeedSequence(3).spawn(3)
    expected = [int(c.generate_state(1)[0]) for c in children]
    assert list(plan.seeds) == expected and len(set(expected)) == 3
    for run in plan.runs:
        assert run.seed == expected[run.replication]
        assert run.run == run.replication * plan.points + run.point
    assert {r.strategy for r in plan.runs if r.replication == 1} == {"eager", "copy-on-reference"}


def test_more_replications_keep_the_seeds_of_the_first() -> None:
    """Spawned seeds do not depend on how many replications there are."""
    three = SweepConfig.from_dict(TINY).seeds()
    five = SweepConfig.from_dict(tiny(replications=5)).seeds()
    assert five[:3] == three


def test_strategy_parameter_lists_are_axes_of_that_strategy_only() -> None:
    """[params.precopy] max_rounds = [1, 3] doubles precopy's points and no one else's."""
    data = tiny(strategy=["eager", "precopy"])
    data["params"] = {"precopy": {"max_rounds": [1, 3], "stop_pages": 4}}
    config = SweepConfig.from_dict(data)
    plan = config.plan()
    assert [a.name for a in config.all_axes] == ["strategy", "memory_bytes", "precopy.max_rounds"]
    first = [r for r in plan.runs if r.replication == 0 and r.axes["memory_bytes"] == 65536]
    assert [(r.strategy, r.params) for r in first] == [
        ("eager", {}),
        ("precopy", {"max_rounds": 1, "stop_pages": 4}),
        ("precopy", {"max_rounds": 3, "stop_pages": 4}),
    ]
    assert first[0].axes["precopy.max_rounds"] is None


# -- resume -------------------------------------------------------------------------------
def test_a_killed_sweep_resumes_every_point_exactly_once(serial: Path, tmp_path: Path) -> None:
    """`rhodos sweep` killed (SIGKILL) after its first rows, then resumed: every run is in
    results.csv once, with the rows an uninterrupted sweep writes."""
    data = tiny(replications=12)
    config = write_toml(tmp_path / "sweep.toml", data)
    out = tmp_path / "out"
    results = out / "results.csv"
    command = [sys.executable, "-m", "rhodos", "sweep", str(config), "--out", str(out)]
    child = subprocess.Popen(
        [*command, "--workers", "1", "--no-progress"], stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (results.exists() and results.read_text().count("\n") >= 3):
        assert child.poll() is None and time.monotonic() < deadline, "the sweep ended first"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed = len(ResultsFile(results).finished())
    assert 2 <= killed < 48
    resumed = CliRunner().invoke(
        app,
        ["sweep", str(config), "--out", str(out), "--workers", "1", "--resume", "--no-progress"],
    )
    assert resumed.exit_code == 0, resumed.output
    assert f"({killed} already done)" in resumed.output
    runs = [int(line.split(",")[0]) for line in body(out)]
    assert runs == list(range(48))
    reference = tmp_path / "reference"
    run_sweep(SweepConfig.from_dict(data), reference, executor=SerialExecutor())
    assert body(out) == body(reference)
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert [s["status"] for s in sessions] == ["died", "complete"]  # killed, never ended


def test_a_truncated_last_line_is_dropped_on_resume(serial: Path, tmp_path: Path) -> None:
    """A kill in the middle of a write leaves half a line: resume drops it and reruns it."""
    out = tmp_path / "out"
    out.mkdir()
    lines = (serial / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(lines[:6]) + lines[6][:25])
    result = run_sweep(SweepConfig.from_dict(TINY), out, executor=SerialExecutor(), resume=True)
    assert (result.skipped, result.ran) == (5, 7)
    assert body(out) == body(serial)


def test_resume_refuses_a_changed_config(serial: Path, tmp_path: Path) -> None:
    """Resuming with a config that differs names the difference and runs nothing."""
    out = tmp_path / "out"
    run_sweep(SweepConfig.from_dict(TINY), out, executor=SerialExecutor())
    changed = SweepConfig.from_dict(tiny(cpu_seconds=0.6))
    with pytest.raises(ValueError, match=r"sweep\.cpu_seconds \(was 0\.5, now 0\.6\)"):
        run_sweep(changed, out, executor=SerialExecutor(), resume=True)


def test_resume_with_more_replications_extends_the_sweep(serial: Path, tmp_path: Path) -> None:
    """Resuming with more replications runs only the new ones: the first runs keep their
    numbers and seeds, so the rows are those of the larger sweep run at once."""
    out = tmp_path / "out"
    run_sweep(SweepConfig.from_dict(TINY), out, executor=SerialExecutor())
    five = SweepConfig.from_dict(tiny(replications=5))
    result = run_sweep(five, out, executor=SerialExecutor(), resume=True)
    assert (result.skipped, result.ran) == (12, 8)
    assert body(out)[:12] == body(serial)
    reference = tmp_path / "reference"
    run_sweep(five, reference, executor=SerialExecutor())
    assert body(out) == body(reference)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["replications"], manifest["runs"]) == (5, 20)


def test_a_folder_with_results_is_not_overwritten_without_resume(serial: Path) -> None:
    """Running into a folder that holds results is refused (--resume or another --out)."""
    with pytest.raises(ValueError, match="--resume"):
        run_sweep(SweepConfig.from_dict(TINY), serial, executor=SerialExecutor())


def test_two_sweeps_cannot_write_one_folder(tmp_path: Path) -> None:
    """While a sweep holds its folder, another sweep there is refused (no duplicate rows)."""
    with folder_lock(tmp_path), pytest.raises(ValueError, match="another sweep"):
        run_sweep(SweepConfig.from_dict(TINY), tmp_path, executor=SerialExecutor(), resume=True)
    assert not (tmp_path / "results.csv").exists()


# -- failures and tracing -------------------------------------------------------------------
@attrs.frozen
class Broken(BaseStrategy):
    """A strategy that fails in its transfer (for the test below)."""

    name: ClassVar[str] = "broken-for-test"
    summary: ClassVar[str] = "raises during the transfer"
    residual: ClassVar[str] = "none"

    def transfer(self, session: Any) -> Any:
        raise ZeroDivisionError("boom")
        yield  # a generator, as every step is


def test_a_failing_run_is_named_and_finished_rows_are_kept(tmp_path: Path) -> None:
    """A run that raises stops the sweep with its run number, point and error; the rows
    already written stay, so a fixed sweep resumes from there."""
    register(Broken)
    try:
        config = SweepConfig.from_dict(tiny(strategy=["eager", "broken-for-test"]))
        with pytest.raises(RunFailed, match=r"run 1 \(.*strategy=broken-for-test.*ZeroDivision"):
            run_sweep(config, tmp_path, executor=SerialExecutor())
    finally:
        unregister("broken-for-test")
    assert ResultsFile(tmp_path / "results.csv").finished() == set()  # group 0 failed whole
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["sessions"][-1]["status"] == "failed"


def test_the_traced_run_runs_here_with_the_observer(serial: Path, tmp_path: Path) -> None:
    """trace_run=k passes the observer to run k only (its baseline, then its migration);
    every row is still written once."""
    seen: list[tuple[str, int]] = []
    run_sweep(
        SweepConfig.from_dict(TINY),
        tmp_path,
        executor=SerialExecutor(),
        trace_run=7,
        observe=lambda label, cluster: seen.append((label, cluster.config.seed)),
    )
    seven = SweepConfig.from_dict(TINY).plan().runs[7]
    assert seen == [("baseline", seven.seed), (seven.strategy, seven.seed)]
    assert body(tmp_path) == body(serial)


# -- the config is checked before anything runs -------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            tiny(memory_byte=["64KiB"]),
            r"unknown key \[sweep\] memory_byte \(did you mean 'memory_bytes'",
        ),
        ({"sweeps": {}}, r"unknown table \[sweeps\] \(did you mean \[sweep\]"),
        (tiny(cpu_seconds="fast"), r"cpu_seconds = 'fast': expected a number, got str"),
        (tiny(replications=2.5), r"replications = 2.5: expected an integer, got float"),
        (tiny(nodes=[2, True]), r"nodes\[1\] = True: expected an integer, got bool"),
        (tiny(memory_bytes=["64KiB", "lots"]), r"memory_bytes\[1\] = 'lots': cannot read size"),
        (
            tiny(strategy=["eager", "precopyy"]),
            r"unknown strategy 'precopyy' \(did you mean 'precopy'",
        ),
        (tiny(profile="sun4-ethernet"), r"unknown profile 'sun4-ethernet'"),
        (tiny(topology="ring"), r"topology = 'ring': topology must be one of"),
        (tiny(touch_fraction=[0.5, 1.5]), r"touch_fraction\[1\] = 1.5: touch_fraction must be"),
        (tiny(seed=[1, 2]), r"seed takes one value, not a list"),
        (tiny(memory_bytes=[]), r"memory_bytes is an empty list"),
        (tiny(migrate_at=0.5), r"migrate_at = 0.5 s is not before the process ends"),
        (
            {**tiny(strategy=["precopy"]), "params": {"precopy": {"max_round": 2}}},
            r"max_round: 'precopy' has no such parameter \(did you mean 'max_rounds'",
        ),
        (
            {**tiny(strategy=["precopy"]), "params": {"precopy": {"max_rounds": "two"}}},
            r"max_rounds = 'two': expected an integer",
        ),
        (
            {**tiny(strategy=["precopy"]), "params": {"precopy": {"max_rounds": 0}}},
            r"max_rounds = 0: precopy parameter max_rounds must be > 0",
        ),
        (
            {**TINY, "params": {"postcopy": {"push_rate": 1.0}}},
            r"'postcopy' is not among the swept",
        ),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(data: dict[str, Any], message: str) -> None:
    """Unknown keys (with the nearest valid one), wrong types (key, value, type expected)
    and bad values are all refused when the config is read."""
    with pytest.raises(SweepConfigError, match=message):
        SweepConfig.from_dict(data).plan()


def test_the_command_refuses_a_bad_config_before_running(tmp_path: Path) -> None:
    """`rhodos sweep` with a bad key prints one error line, exits 2 and writes nothing."""
    config = write_toml(tmp_path / "bad.toml", tiny(dirty_rte=5.0))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(config), "--out", str(out)])
    assert result.exit_code == 2
    assert "did you mean 'dirty_rate'" in result.output
    assert not out.exists()


def test_set_overrides_read_toml_values() -> None:
    """--set key=value reads the value as TOML (a bare word as a string); a key without a
    table is a key of [sweep]."""
    data: dict[str, Any] = {"sweep": {}}
    for item in (
        "replications=5",
        "memory_bytes=['1MiB', '4MiB']",
        "profile=sparc-ethernet",
        "sweep.dirty_rate=2.5",
        "params.precopy.max_rounds=[1, 2]",
    ):
        apply_override(data, item)
    assert data == {
        "sweep": {
            "replications": 5,
            "memory_bytes": ["1MiB", "4MiB"],
            "profile": "sparc-ethernet",
            "dirty_rate": 2.5,
        },
        "params": {"precopy": {"max_rounds": [1, 2]}},
    }
    with pytest.raises(SweepConfigError, match="key=value"):
        apply_override(data, "replications")


# -- the commands ---------------------------------------------------------------------------
def test_the_example_sweeps_summarises_and_plots(tmp_path: Path) -> None:
    """`rhodos sweep examples/sweep-small.toml` runs its 12 runs and prints the summary;
    `rhodos plot` draws each metric against memory size, PNG and SVG."""
    out = tmp_path / "small"
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", str(EXAMPLE), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Mean ± 95% confidence interval" in result.output
    assert len(body(out)) == 12 and (out / "summary.csv").is_file()
    plotted = runner.invoke(app, ["plot", str(out), "--out", str(tmp_path / "figures")])
    assert plotted.exit_code == 0, plotted.output
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "memory_bytes.png",
        "memory_bytes.svg",
    ]


def test_a_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    """--dry-run checks the config (with --set applied) and prints axes, seeds and counts."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["sweep", str(EXAMPLE), "--out", str(out), "--dry-run", "--set", "replications=5"]
    )
    assert result.exit_code == 0, result.output
    assert "20 runs" in result.output and "memory_bytes (axis)" in result.output
    assert not out.exists()
