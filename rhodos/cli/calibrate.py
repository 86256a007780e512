"""``rhodos calibrate``: refit an experiment's profile and show how much the fit predicts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import attrs
import typer
from rich.table import Table

from rhodos.cli.application import app, clear_errors, console

if TYPE_CHECKING:
    from rhodos.experiment.calibrate import CalibrationReport

__all__ = ["calibrate"]


@app.command()
@clear_errors
def calibrate(
    name: Annotated[str, typer.Argument(help="An experiment with a \\[calibrate] table.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Refit an experiment's profile: fitted fields, residuals, leave-one-out, predictions."""
    from rhodos.experiment.calibrate import calibrate as run_calibration
    from rhodos.experiment.reproduce import load_experiment

    experiment = load_experiment(name)
    if experiment.calibration is None:
        raise ValueError(
            f"{name} calibrates nothing (it has no calibrate table): its profile is derived from "
            "the paper's hardware alone, and every figure it shows is a prediction"
        )
    report = run_calibration(experiment)
    if as_json:
        typer.echo(json.dumps(_as_dict(report), indent=2))
        return
    _print(report)


def _quantity(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e3:.6g} ms"
    if unit == "bit/s":
        return f"{value / 1e6:.6g} Mb/s"
    return f"{value:.6g} {unit}".rstrip()


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "0.00%" if abs(value) < 0.005 else f"{value:+.2f}%"


def _print(report: CalibrationReport) -> None:
    from rhodos.experiment.claims import format_value, paper_text, verdict

    fields = Table(title=f"{report.experiment}: fields fitted on {report.base}")
    for column in ("field", "base", "fitted", "change", "bounds", "profile.toml", "plausible"):
        fields.add_column(column)
    for f in report.fields:
        name = f.name + "".join(f"\n  (= {t})" for t in f.tied)
        fields.add_row(
            name,
            _quantity(f.base, f.unit),
            _quantity(f.fitted, f.unit),
            _percent(f.change_pct) if f.change_pct is not None else "from 0",
            f"{_quantity(f.lower, f.unit)} .. {_quantity(f.upper, f.unit)}",
            _quantity(f.profile, f.unit),
            "yes" if f.implausible is None else f"[bold red]NO[/]: {f.implausible}",
        )
    console.print(fields)
    claims = Table(title="Figures fitted (calibrations: a small residual shows the fit worked)")
    for column in ("claim", "metric", "paper", "at the fit", "residual", "left out: predicted"):
        claims.add_column(column)
    for c in report.claims:
        guess = (
            "impossible"
            if c.left_out is None
            else f"{format_value(c.left_out)} ({_percent(c.left_out_error_pct)})"
        )
        claims.add_row(
            c.claim.id,
            c.claim.metric,
            f"{format_value(c.paper)} {c.claim.unit}",
            format_value(c.fitted),
            _percent(c.residual_pct),
            guess,
        )
    console.print(claims)
    if report.left_out_note:
        console.print(f"Leave-one-out: {report.left_out_note}", highlight=False)
    if report.predictions:
        table = Table(title="What the fit predicts: the experiment's other claims")
        for column in ("claim", "metric", "paper", "on the base", "fitted", "basis", "within"):
            table.add_column(column)
        for before, after in report.predictions:
            numeric = isinstance(after.paper, int | float)
            table.add_row(
                after.id,
                after.metric,
                paper_text(after) + (f" {after.unit}" if numeric else ""),
                format_value(before.simulated),
                format_value(after.simulated),
                after.basis,
                verdict(after),
            )
        console.print(table)
    console.print(
        f"{report.evaluations} points simulated ({report.cache_hits} found in the cache): "
        f"fit in {report.fit_s:.1f} s, everything in {report.total_s:.1f} s.",
        highlight=False,
    )


def _as_dict(report: CalibrationReport) -> dict[str, Any]:
    return {
        "experiment": report.experiment,
        "base": report.base,
        "fields": [{**attrs.asdict(f), "change_pct": f.change_pct} for f in report.fields],
        "claims": [
            {
                "id": c.claim.id,
                "paper": c.paper,
                "fitted": c.fitted,
                "residual_pct": c.residual_pct,
                "left_out": c.left_out,
                "left_out_error_pct": c.left_out_error_pct,
            }
            for c in report.claims
        ],
        "left_out_note": report.left_out_note,
        "predictions": [
            {
                "id": after.id,
                "base": before.simulated,
                "fitted": after.simulated,
                "within": after.within,
            }
            for before, after in report.predictions
        ],
        "evaluations": report.evaluations,
        "cache_hits": report.cache_hits,
        "fit_s": report.fit_s,
        "total_s": report.total_s,
    }
