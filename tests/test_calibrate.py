"""Calibration finds the values a known answer says it must, and says how much a fit predicts."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment.calibrate import (
    PLAUSIBLE,
    CachedModel,
    calibrate,
    fit,
    implausible,
    leave_one_out,
)
from rhodos.experiment.claims import ExperimentError
from rhodos.experiment.reproduce import load_experiment, run_claims
from rhodos.kernel import load_profile

EXPERIMENT = """profile = "sparc-ethernet"

[runs.move]
strategy = "eager"
scenario = {{ workload = "cpu-bound", memory_bytes = "64KiB", cpu_seconds = 1.0, migrate_at = 0.2 }}

[[claims]]
id = "latency"
metric = "eager latency of a 64 KiB process"
unit = "ms"
value = "move.latency_s * 1e3"
paper = {paper!r}
tolerance_pct = 1
role = "calibration"
basis = "paper"

[calibrate]
base = "sparc-ethernet"
fields = ["{field}"]
bounds = {{ {field} = [0.0, {upper!r}] }}
claims = ["latency"]
"""


def _experiment(tmp_path: Path, paper: float, field: str, upper: float) -> str:
    folder = tmp_path / "toy"
    folder.mkdir(exist_ok=True)
    text = EXPERIMENT.format(paper=paper, field=field, upper=upper)
    (folder / "experiment.toml").write_text(text)
    return "toy"


def test_a_fit_finds_the_install_cost_that_gives_a_target_latency(tmp_path: Path) -> None:
    """The destination is idle, so installing the state lies on the latency's path once:
    latency = latency on the base + (install - base install). A target 2.5 ms above the
    base's latency must give an install cost 2.5 ms above the base's, to the microsecond."""
    base = load_profile("sparc-ethernet")
    name = _experiment(tmp_path, 1.0, "state_install_s", 0.02)
    experiment = load_experiment(name, root=tmp_path)
    (on_base,) = run_claims(experiment, experiment.claims, base)
    target = float(on_base.simulated) + 2.5  # ms
    name = _experiment(tmp_path, target, "state_install_s", 0.02)
    report = calibrate(load_experiment(name, root=tmp_path))
    (field,) = report.fields
    assert field.fitted == pytest.approx(base.state_install_s + 2.5e-3, abs=1e-6)
    assert field.implausible is None
    (claim,) = report.claims
    assert abs(claim.residual_pct) < 1e-6
    assert claim.left_out is None and report.left_out_note is not None
    assert "impossible" in report.left_out_note


def test_a_field_driven_out_of_its_physical_range_is_flagged(tmp_path: Path) -> None:
    """Asking an eager copy of 64 KiB to take 400 ms drives the per-packet CPU cost far
    above the per-message cost: the fit reaches it, and flags it as implausible."""
    name = _experiment(tmp_path, 400.0, "packet_cpu_overhead_s", 0.05)
    report = calibrate(load_experiment(name, root=tmp_path))
    (field,) = report.fields
    assert field.fitted > 2 * load_profile("sparc-ethernet").message_cpu_overhead_s
    assert field.implausible is not None and "per-message cost" in field.implausible
    assert abs(report.claims[0].residual_pct) < 1e-6


def test_plausibility_ranges_say_why() -> None:
    """A per-packet cost six times the per-message cost is implausible; a fifth is not."""
    base = load_profile("sparc-ethernet")
    six = attrs.evolve(base, packet_cpu_overhead_s=6 * base.message_cpu_overhead_s)
    fifth = attrs.evolve(base, packet_cpu_overhead_s=base.message_cpu_overhead_s / 5)
    assert implausible("packet_cpu_overhead_s", six, base) is not None
    assert implausible("packet_cpu_overhead_s", fifth, base) is None
    faster = attrs.evolve(base, network_bandwidth_bps=2 * base.network_bandwidth_bps)
    assert "hardware fact" in (implausible("network_bandwidth_bps", faster, base) or "")
    assert all(rule.reason for rule in PLAUSIBLE.values())


def line(values: tuple[float, ...]) -> np.ndarray:
    """A toy model: three claims measured at x = 1, 2, 3 of the line a + b x."""
    a, b = values
    return np.array([a + b * x for x in (1.0, 2.0, 3.0)])


def test_leave_one_out_predicts_each_claim_from_the_others() -> None:
    """Two parameters, three claims (2, 4, 7 at x = 1, 2, 3): without one claim, the line
    goes through the other two, and predicts the one left out: 1, 4.5 and 6."""
    model = CachedModel(line)
    bounds = ([-10.0, -10.0], [10.0, 10.0])
    predicted = leave_one_out(model, [2.0, 4.0, 7.0], *bounds, start=[0.0, 1.0])
    assert predicted == pytest.approx([1.0, 4.5, 6.0], abs=1e-6)
    assert model.hits > 0  # every refit starts where the others did: the cache answers


def test_a_consistent_toy_is_fitted_exactly_and_predicts_what_it_leaves_out() -> None:
    """Claims on the line 2x: the fit finds a = 0, b = 2, and each left-out claim is
    predicted exactly; one claim for two parameters leaves nothing to fit."""
    bounds = ([-10.0, -10.0], [10.0, 10.0])
    assert fit(line, [2.0, 4.0, 6.0], *bounds, start=[1.0, 1.0]) == pytest.approx(
        (0.0, 2.0), abs=1e-6
    )
    assert leave_one_out(line, [2.0, 4.0, 6.0], *bounds, start=[1.0, 1.0]) == pytest.approx(
        [2.0, 4.0, 6.0], abs=1e-6
    )
    assert leave_one_out(line, [2.0, 4.0], *bounds, start=[1.0, 1.0]) == [None, None]


def test_calibrate_prints_fitted_fields_residuals_and_leave_one_out() -> None:
    """`rhodos calibrate rhodos-1996` prints the fitted per-packet cost, its change from the
    base, the residual, why leave-one-out is impossible, and the other claims' values."""
    result = CliRunner().invoke(app, ["calibrate", "rhodos-1996"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for part in ("packet_cpu_overhead_s", "direct-100k", "impossible", "lazy-1m", "simulated"):
        assert part in text


def test_calibrate_refuses_an_experiment_that_fits_nothing() -> None:
    """An uncalibrated experiment gets one line saying so, exit status 2."""
    result = CliRunner().invoke(app, ["calibrate", "accent-1987"])
    assert result.exit_code == 2
    assert "calibrates nothing" in result.output
    with pytest.raises(ExperimentError, match="calibrates nothing"):
        calibrate(load_experiment("accent-1987"))
