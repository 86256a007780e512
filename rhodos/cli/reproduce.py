"""``rhodos reproduce``: papers' figures beside ours."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rhodos.cli.application import app, clear_errors, console

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
    """Paper figures beside the simulator's: deviation, tolerance, calibration or prediction."""
    from rhodos.experiment.claims import COLUMNS, render_rows, row_cells
    from rhodos.experiment.reproduce import list_experiments, load_experiment, run_experiment

    known = list_experiments()
    if list_only:
        for name in known:
            console.print(f"{name}: {load_experiment(name).title}", highlight=False)
        return
    chosen = known if run_all else list(names or [])
    if not chosen:
        raise ValueError(f"name experiments or use --all; experiments: {', '.join(known)}")
    rows = []
    for name in chosen:
        experiment = load_experiment(name)
        found = run_experiment(experiment)
        if update_expected:
            (experiment.folder / "expected.txt").write_text(render_rows(found))
        rows.extend(found)
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    table = Table(title="Published figures and the simulator's")
    for column in COLUMNS:
        right = column in ("dev %", "tol %")  # every character shown: cells fold
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for row in rows:
        *cells, judged = row_cells(row)
        colour = {"yes": "green", "MISSED": "bold red"}.get(judged, "dim")
        table.add_row(*cells, f"[{colour}]{judged}[/]")
    console.print(table)
    missed = [r for r in rows if r.within is False]
    console.print(
        f"{len(rows)} figures: {sum(1 for r in rows if r.within)} within, {len(missed)} missed, "
        f"{sum(1 for r in rows if r.paper is None)} with no paper value to check "
        "(each experiment's README explains its misses)"
    )
