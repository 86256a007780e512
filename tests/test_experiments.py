"""Every reproduced paper, run and compared with its expected output (like simpy's examples)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment.claims import ExperimentError, evaluate, render_rows
from rhodos.experiment.reproduce import (
    experiments_root,
    list_experiments,
    load_experiment,
    run_experiment,
)

EXPERIMENTS = list_experiments()


def test_the_experiments_of_the_issue_are_there() -> None:
    """The six reproduced papers each have a folder with a README, a config and its output."""
    for name in (
        "freeze-free-1996",
        "rhodos-1996",
        "sprite-1991",
        "accent-1987",
        "v-precopy-1985",
        "xen-precopy-2005",
    ):
        folder = experiments_root() / name
        for part in ("README.md", "experiment.toml", "expected.txt"):
            assert (folder / part).is_file(), f"{name}/{part}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_reproduces_its_expected_output(name: str) -> None:
    """Running the experiment prints exactly its expected.txt (same seed, same table)."""
    experiment = load_experiment(name)
    expected = (experiment.folder / "expected.txt").read_text()
    assert render_rows(run_experiment(experiment)) == expected


def test_freeze_free_latency_and_message_freeze() -> None:
    """Freeze-free's latency is within 10% of 19.9 ms and its message freeze below 1 ms."""
    rows = {r.metric: r for r in run_experiment(load_experiment("freeze-free-1996"))}
    latency = rows["freeze-free latency"]
    assert abs(float(latency.simulated) - 19.9) <= 0.1 * 19.9
    assert float(rows["freeze-free message freeze time"].simulated) < 1.0


def test_every_row_states_its_deviation_or_why_not() -> None:
    """A row with a numeric paper value has a deviation; a row without one is never 'within'."""
    for name in EXPERIMENTS:
        for row in run_experiment(load_experiment(name)):
            if row.paper is None:
                assert row.within is None
            elif isinstance(row.paper, float | int) and row.paper != 0:
                assert row.deviation_pct is not None


def test_a_figure_cannot_be_both_calibration_and_prediction(tmp_path: Path) -> None:
    """An experiment that calibrates on a figure and also claims to predict it is refused."""
    folder = tmp_path / "bad"
    folder.mkdir()
    claim = 'metric = "latency"\nunit = "ms"\nvalue = "r.latency_s"\npaper = 10\n'
    (folder / "experiment.toml").write_text(
        '[runs.r]\nstrategy = "eager"\n'
        f'[[claims]]\n{claim}role = "calibration"\n'
        f'[[claims]]\n{claim}role = "prediction"\n'
    )
    with pytest.raises(ExperimentError, match="cannot be predicted"):
        load_experiment("bad", root=tmp_path)


def test_bad_experiment_input_names_what_is_wrong(tmp_path: Path) -> None:
    """Unknown experiments, keys and run names get errors naming the alternatives."""
    with pytest.raises(ExperimentError, match="experiments: "):
        load_experiment("nope")
    folder = tmp_path / "typo"
    folder.mkdir()
    (folder / "experiment.toml").write_text('[runs.r]\nstrategy = "eager"\nsenario = {}\n')
    with pytest.raises(ExperimentError, match="did you mean 'scenario'"):
        load_experiment("typo", root=tmp_path)
    with pytest.raises(ExperimentError, match="no run called 'x'"):
        evaluate("x.latency_s", {"r": None})
    with pytest.raises(ExperimentError, match="not allowed"):
        evaluate("__import__('os')", {})


def test_reproduce_json_has_the_documented_keys() -> None:
    """`rhodos reproduce NAME --json` prints rows with the keys of the issue."""
    result = CliRunner().invoke(app, ["reproduce", "rhodos-1996", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    keys = {
        "experiment",
        "metric",
        "unit",
        "paper",
        "simulated",
        "deviation_pct",
        "tolerance_pct",
        "role",
        "within",
    }
    assert rows and all(keys <= set(row) for row in rows)
    assert {row["role"] for row in rows} <= {"calibration", "prediction"}
