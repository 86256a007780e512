"""``rhodos reproduce``: papers' figures beside ours."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from rhodos.cli.application import app, clear_errors, console

if TYPE_CHECKING:
    from rhodos.experiment.claims import Row

__all__ = ["reproduce"]


@app.command()
@clear_errors
def reproduce(
    names: Annotated[
        list[str] | None, typer.Argument(help="Experiments to run (see --list).")
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every experiment.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of rows.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="List the experiments.")] = False,
    update_expected: Annotated[
        bool,
        typer.Option(
            "--update-expected",
            help="Rewrite each experiment's expected.txt with this run's table (maintainers).",
        ),
    ] = False,
) -> None:
    """Paper figures beside the simulator's: predictions counted, the rest listed apart."""
    from rhodos.experiment.claims import render_rows, tally
    from rhodos.experiment.reproduce import list_experiments, load_experiment, run_experiment

    known = list_experiments()
    if list_only:
        for name in known:
            console.print(f"{name}: {load_experiment(name).title}", highlight=False)
        return
    chosen = known if run_all else list(names or [])
    if not chosen:
        raise ValueError(f"name experiments or use --all; experiments: {', '.join(known)}")
    experiments = [load_experiment(name) for name in chosen]  # every file read before any run
    rows = []
    for experiment in experiments:
        found = run_experiment(experiment)
        if update_expected:
            (experiment.folder / "expected.txt").write_text(render_rows(found))
        rows.extend(found)
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    apart = [r for r in rows if r.role == "calibration" or r.basis == "construction"]
    console.print(_table("Predictions: published figures and the simulator's", rows, apart))
    if apart:
        console.print(_table("Not counted: calibrations and figures true by construction", apart))
    console.print(tally(rows).text() + " Each experiment's README explains its misses.")


def _table(title: str, rows: list[Row], leave_out: list[Row] | None = None) -> Table:
    from rhodos.experiment.claims import COLUMNS, row_cells

    skipped = {id(r) for r in leave_out or []}
    table = Table(title=title)
    for column in COLUMNS:
        right = column in ("dev %", "tol %")  # every character shown: cells fold
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for row in rows:
        if id(row) in skipped:
            continue
        *cells, judged = row_cells(row)
        colour = {"yes": "green", "MISSED": "bold red"}.get(judged, "dim")
        table.add_row(*cells, f"[{colour}]{judged}[/]")
    return table
