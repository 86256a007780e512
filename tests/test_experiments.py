"""Every reproduced paper, run and compared with its expected output (like simpy's examples)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import attrs
import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment.claims import ExperimentError, Row, render_rows, tally
from rhodos.experiment.expression import evaluate
from rhodos.experiment.reproduce import (
    experiments_root,
    list_experiments,
    load_experiment,
    run_claims,
    run_experiment,
)
from rhodos.kernel.profile import FIELD_UNITS

EXPERIMENTS = list_experiments()


@functools.cache
def rows_of(name: str) -> tuple[Row, ...]:
    """The experiment's rows, run once for every test that reads them."""
    return tuple(run_experiment(load_experiment(name)))


def test_the_experiments_of_the_issue_are_there() -> None:
    """The reproduced papers each have a folder with a README, a config and its output."""
    for name in (
        "freeze-free-1996",
        "rhodos-1996",
        "sprite-1991",
        "sprite-sparc-1991",
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
    expected = (experiments_root() / name / "expected.txt").read_text()
    assert render_rows(rows_of(name)) == expected


def test_every_row_states_its_deviation_or_why_not() -> None:
    """A row with a numeric paper value has a deviation; a row without one is never 'within'."""
    for name in EXPERIMENTS:
        for row in rows_of(name):
            if row.paper is None:
                assert row.within is None and row.basis == "none"
            elif isinstance(row.paper, float | int) and row.paper != 0:
                assert row.deviation_pct is not None


def test_the_tally_counts_predictions_only() -> None:
    """Calibrations and figures true by construction are listed apart and never counted."""
    rows = [row for name in EXPERIMENTS for row in rows_of(name)]
    counts = tally(rows)
    predictions = [r for r in rows if r.role == "prediction" and r.basis != "construction"]
    assert counts.within + counts.missed + counts.unchecked == len(predictions)
    assert counts.calibrations == sum(1 for r in rows if r.role == "calibration")
    assert counts.construction == sum(1 for r in rows if r.basis == "construction")
    assert counts.calibrations + counts.construction + len(predictions) == len(rows)
    made_up = [*rows, attrs.evolve(rows[0], role="calibration", basis="paper", within=True)]
    assert tally(made_up).within == counts.within - (rows[0].counted and bool(rows[0].within))


def test_figures_true_by_construction_hold_on_a_very_different_profile() -> None:
    """A row marked 'construction' holds whatever the costs: it still holds with every CPU
    cost tripled, twice the bandwidth, four times the latency and a slower file server."""
    for name in EXPERIMENTS:
        experiment = load_experiment(name)
        built_in = [c for c in experiment.claims if c.basis == "construction"]
        if not built_in:
            continue
        p = experiment.profile
        changed = attrs.evolve(
            p,
            message_cpu_overhead_s=3 * p.message_cpu_overhead_s,
            packet_cpu_overhead_s=3 * p.packet_cpu_overhead_s + 2e-4,
            local_ipc_s=3 * p.local_ipc_s,
            state_extract_s=3 * p.state_extract_s,
            state_install_s=3 * p.state_install_s,
            network_bandwidth_bps=2 * p.network_bandwidth_bps,
            network_latency_s=4 * p.network_latency_s,
            file_server_bandwidth_bps=p.file_server_bandwidth_bps / 2,
            file_server_latency_s=2 * p.file_server_latency_s,
        )
        for row in run_claims(experiment, built_in, changed):
            assert row.within, (name, row.id, row.simulated)


def test_the_readme_quotes_the_tally_as_printed() -> None:
    """The README's reproduction paragraph quotes the tally `rhodos reproduce --all` prints."""
    rows = [row for name in EXPERIMENTS for row in rows_of(name)]
    readme = (experiments_root().parent / "README.md").read_text()
    unquoted = " ".join(line.removeprefix(">") for line in readme.splitlines())
    assert tally(rows).text() in " ".join(unquoted.split())


def test_a_calibrated_profile_differs_from_its_base_only_in_the_fitted_fields() -> None:
    """Nothing but the fields the [calibrate] table names was changed from the base profile."""
    for name in EXPERIMENTS:
        experiment = load_experiment(name)
        if experiment.calibration is None:
            continue
        spec = experiment.calibration
        fitted = {*spec.fields, *spec.tied}
        for field in FIELD_UNITS:
            if field in ("name", "description") or field in fitted:
                continue
            assert getattr(experiment.profile, field) == getattr(spec.base, field), (name, field)


def _write(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "experiment.toml").write_text(text)


RUN = '[runs.r]\nstrategy = "eager"\n'
FITTED = (
    '[[claims]]\nid = "fitted"\nmetric = "latency"\nunit = "ms"\nvalue = "r.latency_s * 1e3"\n'
    'paper = 10\nrole = "calibration"\nbasis = "paper"\n'
)
CALIBRATE = (
    '[calibrate]\nbase = "sun3-ethernet"\nfields = ["state_install_s"]\n'
    'bounds = { state_install_s = [0.0, 0.01] }\nclaims = ["fitted"]\n'
)


def _prediction(value: str, paper: float, metric: str = "renamed") -> str:
    return (
        f'[[claims]]\nid = "predicted"\nmetric = "{metric}"\nunit = "ms"\nvalue = "{value}"\n'
        f'paper = {paper}\nrole = "prediction"\nbasis = "paper"\n'
    )


@pytest.mark.parametrize(
    "prediction",
    [
        _prediction("r.freeze_s * 1e3", 10),  # another name, another expression, same figure
        _prediction("1000 * r.latency_s", 12),  # another figure, the same quantity
    ],
)
def test_a_calibrated_figure_cannot_be_predicted_under_another_name(
    tmp_path: Path, prediction: str
) -> None:
    """The guard keys on the figure (its paper value and unit, or the quantity it reads),
    not on the metric's name: renaming or rewriting does not get round it."""
    _write(tmp_path, "bad", RUN + FITTED + prediction + CALIBRATE)
    with pytest.raises(ExperimentError, match="calibrated figure cannot be predicted"):
        load_experiment("bad", root=tmp_path)


def test_calibrations_are_exactly_the_figures_the_profile_was_fitted_to(tmp_path: Path) -> None:
    """A calibration the [calibrate] table does not fit, or a fitted prediction, is refused."""
    _write(tmp_path, "unfitted", RUN + FITTED)
    with pytest.raises(ExperimentError, match="need a \\[calibrate\\] table"):
        load_experiment("unfitted", root=tmp_path)
    other = _prediction("r.freeze_s * 1e3", 99).replace('"predicted"', '"other"')
    table = CALIBRATE.replace('["fitted"]', '["fitted", "other"]')
    _write(tmp_path, "mislabelled", RUN + FITTED + other + table)
    with pytest.raises(ExperimentError, match="its role is not 'calibration'"):
        load_experiment("mislabelled", root=tmp_path)


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ('role = "calibration"\nbasis = "interpretation"\npaper = 1\n', "a calibration is"),
        ('role = "calibration"\nbasis = "construction"\npaper = 1\n', "a calibration is"),
        ('role = "prediction"\nbasis = "paper"\n', "basis 'none' is for"),
        ('role = "prediction"\nbasis = "none"\npaper = 1\n', "basis 'none' is for"),
        ('role = "prediction"\nbasis = "guess"\npaper = 1\n', "basis must be one of"),
        ('role = "prediction"\npaper = 1\n', "basis"),
    ],
)
def test_every_claim_says_what_a_match_means(tmp_path: Path, claim: str, message: str) -> None:
    """A claim without a role and a basis that fit its paper value is refused, by name."""
    _write(
        tmp_path,
        "claim",
        RUN + f'[[claims]]\nid = "c"\nmetric = "m"\nunit = "ms"\nvalue = "r.latency_s"\n{claim}',
    )
    with pytest.raises(ExperimentError, match=message):
        load_experiment("claim", root=tmp_path)


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
    with pytest.raises(ExperimentError, match="calls are to"):
        evaluate("__import__('os')", {})


def test_reproduce_json_has_the_documented_keys() -> None:
    """`rhodos reproduce NAME --json` prints rows with the keys of the issue."""
    result = CliRunner().invoke(app, ["reproduce", "rhodos-1996", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    keys = {
        "experiment",
        "id",
        "basis",
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
    assert {row["basis"] for row in rows} <= {"paper", "interpretation", "construction", "none"}
