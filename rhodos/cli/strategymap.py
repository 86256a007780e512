"""``rhodos map``: which strategy wins where, computed, drawn and (deliberately) installed.

The map is written where ``--out`` says (``results/`` by default: the heatmaps and
``strategy-map.json``), never into the repository's documentation or the installed
package. The map the ``auto`` strategy reads ships with the package; ``--install-map``
replaces it with the one just computed (a maintainer's step: it changes ``auto`` for
everyone using this installation; see docs/how-to/strategy-map.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rhodos.cli.application import (
    app,
    clear_errors,
    console,
    progress_bar,
    writable_file,
    writable_folder,
    write_output,
)

__all__ = ["strategy_map"]


@app.command("map")
@clear_errors
def strategy_map(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the heatmaps and strategy-map.json.")
    ] = Path("results"),
    quick: Annotated[bool, typer.Option("--quick", help="A 2x2x2x2 grid (seconds).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Processes to run cells in.")] = 2,
    install_map: Annotated[
        bool,
        typer.Option(
            "--install-map",
            help="Also make this map the one the auto strategy reads (maintainers; a full "
            "grid only).",
        ),
    ] = False,
) -> None:
    """Which strategy wins where: sweep size x dirty rate x touched fraction x bandwidth."""
    from rhodos.experiment.strategymap import MapGrid, compute_map, draw_map
    from rhodos.migration_manager.strategies.auto import MAP_PATH

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if install_map and quick:
        raise ValueError("--install-map takes a full map: the auto strategy needs every cell")
    data = out / "strategy-map.json"
    writable_folder(out, "--out folder")  # checked before the cells run, not after
    writable_file(data, "map file")
    if install_map:
        writable_file(MAP_PATH, "installed map")
    grid = MapGrid.quick() if quick else MapGrid()
    console.print(f"running {len(grid.cells())} cells x 7 strategies ...")
    with progress_bar("map", enabled=console.is_terminal) as update:
        result = compute_map(grid, workers=workers, progress=update)
    write_output(data, "map file", lambda path: path.write_text(result.to_json()))
    for path in draw_map(result, out):
        console.print(f"wrote {path}", highlight=False)
    console.print(f"wrote {data}", highlight=False)
    if install_map:
        write_output(MAP_PATH, "installed map", lambda path: path.write_text(result.to_json()))
        console.print(f"installed {data} as the map of the auto strategy: {MAP_PATH}")
