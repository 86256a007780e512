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
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload",
            help="A recorded program, trace:NAME or trace:PATH: its own map, migration point "
            "x bandwidth (default: the synthetic grid).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="The profile a trace map runs on (default: sparc-ethernet)."
        ),
    ] = None,
    node_memory: Annotated[
        str | None,
        typer.Option("--node-memory", help="Each node's memory in a trace map: 64MiB."),
    ] = None,
) -> None:
    """Which strategy wins where: sweep size x dirty rate x touched fraction x bandwidth,
    or, for a recorded program (--workload trace:NAME), migration point x bandwidth."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if workload is not None:
        _trace_map(workload, profile, node_memory, out, quick, workers, install_map)
        return
    if profile is not None or node_memory is not None:
        given = "--profile" if profile is not None else "--node-memory"
        raise ValueError(
            f"{given} applies to a recorded program's map (--workload trace:NAME); the "
            "synthetic map's grid runs on sparc-ethernet"
        )
    _synthetic_map(out, quick, workers, install_map)


def _synthetic_map(out: Path, quick: bool, workers: int, install_map: bool) -> None:
    """The synthetic map: size x dirty rate x touched fraction x bandwidth."""
    from rhodos.experiment.strategymap import MapGrid, compute_map, draw_map
    from rhodos.migration_manager.strategies.auto import MAP_PATH

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
    _written(data, result.to_json(), draw_map(result, out))
    if install_map:
        write_output(MAP_PATH, "installed map", lambda path: path.write_text(result.to_json()))
        console.print(f"installed {data} as the map of the auto strategy: {MAP_PATH}")


def _trace_map(
    workload: str,
    profile: str | None,
    node_memory: str | None,
    out: Path,
    quick: bool,
    workers: int,
    install_map: bool,
) -> None:
    """A recorded program's map: migration point x bandwidth on one profile."""
    from rhodos.experiment.tracemap import TraceMapGrid, compute_trace_map, draw_trace_map
    from rhodos.units import parse_size
    from rhodos.workload.catalog import is_trace

    if not is_trace(workload):
        raise ValueError(
            f"--workload {workload}: a map's workload is a recorded program, trace:NAME or "
            "trace:PATH (a synthetic workload's size, dirty rate and touched fraction are "
            "the synthetic map's axes: run rhodos map without --workload)"
        )
    if install_map:
        raise ValueError(
            "--install-map takes the synthetic map: the auto strategy reads size x dirty rate "
            "x touched fraction x bandwidth, not one program's map"
        )
    grid = TraceMapGrid(
        workload,
        profile=profile or "sparc-ethernet",
        node_memory_bytes=None if node_memory is None else parse_size(node_memory),
    )
    grid = grid.quick() if quick else grid
    grid.check()  # the trace exists and fits a node, before any cell runs
    data = out / "trace-map.json"
    writable_folder(out, "--out folder")
    writable_file(data, "map file")
    cells = len(grid.points) * len(grid.bandwidths_bps)
    console.print(f"running {cells} cells x 7 strategies on {workload} ...", highlight=False)
    with progress_bar("map", enabled=console.is_terminal) as update:
        result = compute_trace_map(grid, workers=workers, progress=update)
    _written(data, result.to_json(), draw_trace_map(result, out))


def _written(data: Path, text: str, pictures: list[Path]) -> None:
    """Write the map's JSON to ``data`` and say what was written (the pictures are)."""
    write_output(data, "map file", lambda path: path.write_text(text))
    for path in pictures:
        console.print(f"wrote {path}", highlight=False)
    console.print(f"wrote {data}", highlight=False)
