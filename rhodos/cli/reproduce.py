"""``rhodos reproduce`` and ``rhodos map``: papers' figures beside ours; the strategy map."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rhodos.cli.application import (
    app,
    clear_errors,
    console,
    progress_bar,
    writable_file,
    writable_folder,
    write_output,
)

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
        table.add_column(column, justify="right" if column in ("dev %", "tol %") else "left")
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


@app.command("map")
@clear_errors
def strategy_map(
    out: Annotated[str, typer.Option("--out", help="Folder for the heatmap PNGs.")] = "docs/images",
    data: Annotated[
        str,
        typer.Option("--data", help="Where to write the map's JSON (the auto strategy reads it)."),
    ] = "",
    quick: Annotated[bool, typer.Option("--quick", help="A 2x2x2x2 grid (seconds).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Processes to run cells in.")] = 2,
) -> None:
    """Which strategy wins where: sweep size x dirty rate x touched fraction x bandwidth."""
    from pathlib import Path

    from rhodos.experiment.strategymap import MapGrid, compute_map, draw_map
    from rhodos.migration_manager.strategies.auto import MAP_PATH

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    target = Path(data) if data else (Path(out) / "strategy-map.json" if quick else MAP_PATH)
    writable_folder(Path(out), "--out folder")  # checked before the cells run
    writable_file(target, "--data file")
    grid = MapGrid.quick() if quick else MapGrid()
    console.print(f"running {len(grid.cells())} cells x 7 strategies ...")
    with progress_bar("map", enabled=console.is_terminal) as update:
        result = compute_map(grid, workers=workers, progress=update)
    write_output(target, "--data file", lambda path: path.write_text(result.to_json()))
    for path in draw_map(result, out):
        console.print(f"wrote {path}")
    console.print(f"wrote {target}")
