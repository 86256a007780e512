"""``rhodos reproduce``: papers' figures beside ours."""

from __future__ import annotations

import json
from collections.abc import Callable
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
    run_all: Annotated[
        bool,
        typer.Option(
            "--all", help="Run every migration experiment (load-sharing studies: by name)."
        ),
    ] = False,
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
    """Paper figures beside the simulator's: predictions counted, the rest listed apart.

    Load-sharing studies (folders with a study.toml, e.g. classic-load-sharing) run only
    when named: each prints its own table, its expected.txt.
    """
    import attrs

    from rhodos.experiment.claims import render_rows, tally
    from rhodos.experiment.reproduce import (
        experiments_root,
        list_experiments,
        load_experiment,
        run_experiment,
    )
    from rhodos.experiment.studies import list_studies, load_study, run_study

    known = list_experiments()
    studies = list_studies(experiments_root())
    if list_only:
        for name in known:
            console.print(f"{name}: {load_experiment(name).title}", highlight=False)
        for name in studies:
            title = load_study(name, experiments_root()).title
            console.print(f"{name}: {title} (a load-sharing study: run by name)", highlight=False)
        return
    chosen = known if run_all else list(names or [])
    if not chosen:
        raise ValueError(
            f"name experiments or use --all; experiments: {', '.join(known)}; "
            f"load-sharing studies (by name only): {', '.join(studies)}"
        )
    from rhodos.validators import did_you_mean

    for name in chosen:
        if name not in known and name not in studies:
            raise ValueError(
                f"unknown experiment {name!r}{did_you_mean(name, known + studies)}; experiments: "
                f"{', '.join(known)}; load-sharing studies: {', '.join(studies)}"
            )
    # every file read before any run
    experiments = [load_experiment(name) for name in chosen if name not in studies]
    chosen_studies = [load_study(name, experiments_root()) for name in chosen if name in studies]
    rows = []
    for experiment in experiments:
        found = run_experiment(experiment)
        if update_expected:
            (experiment.folder / "expected.txt").write_text(render_rows(found))
        rows.extend(found)
    listed: list[dict[str, object]] = [row.as_dict() for row in rows]
    for study in chosen_studies:
        tell = None if as_json else _teller(study.name)
        found_rows = run_study(study, tell)
        text = study.renderer(found_rows)
        if update_expected:
            (study.folder / "expected.txt").write_text(text)
        if as_json:
            listed += [{"experiment": study.name, **attrs.asdict(r)} for r in found_rows]
        else:
            console.print(text, highlight=False, markup=False, soft_wrap=True)
    if as_json:
        typer.echo(json.dumps(listed, indent=2))
        return
    if not experiments:
        return
    apart = [r for r in rows if r.role == "calibration" or r.basis == "construction"]
    console.print(_table("Predictions: published figures and the simulator's", rows, apart))
    if apart:
        console.print(_table("Not counted: calibrations and figures true by construction", apart))
    console.print(tally(rows).text() + " Each experiment's README explains its misses.")


def _teller(name: str) -> Callable[[str], None]:
    """Progress lines of the study ``name``."""
    return lambda message: console.print(f"{name}: {message}", highlight=False)


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
