"""The strategy map: which migration strategy wins where.

The RHODOS thesis asked under which conditions each strategy should be used. The map
answers it by brute force: for every combination of address-space size, dirty rate,
fraction of pages touched after the migration and network bandwidth, every built-in
strategy migrates the same process with the same seed, and the winner (lowest freeze
time, total time, bytes moved, slowdown) is recorded. Total time ends when the *source*
holds nothing the process needs, so strategies that leave pages on the file server win
it and pay later, in faults: the slowdown map shows that price. :func:`draw_map` turns
the result into heatmaps a student can read: one panel per (bandwidth, touched
fraction), address-space size across, dirty rate up, each cell coloured by its winner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.executor import make_executor
from rhodos.experiment.migration import Scenario, baseline_completion, run_migration
from rhodos.experiment.palette import colour
from rhodos.kernel import load_profile
from rhodos.migration_manager.map import CANDIDATES, METRICS, MapCell, MapGrid, StrategyMap
from rhodos.units import format_size

__all__ = [
    "METRICS",
    "MapCell",
    "MapGrid",
    "StrategyMap",
    "bandwidth_label",
    "candidate_metrics",
    "compute_map",
    "draw_cell",
    "draw_map",
    "lead",
    "map_figure",
    "save_per_metric",
]


def _measure(job: tuple[int, MapGrid, int, float, float, float]) -> tuple[int, MapCell]:
    """Cell ``index`` of the map: every candidate's metrics there."""
    index, grid, memory, dirty, touch, bandwidth = job
    profile = attrs.evolve(load_profile(grid.profile), network_bandwidth_bps=bandwidth)
    # The process must outlive the slowest migration (precopy's rounds on a slow link):
    # it computes for at least four times a full copy of its address space.
    copy_s = memory * 8 / bandwidth
    scenario = Scenario(
        profile=profile,
        memory_bytes=memory,
        dirty_rate=dirty,
        touch_fraction=touch,
        cpu_seconds=max(2.0, round(4 * copy_s, 1)),
        migrate_at=0.5,
        seed=grid.seed,
    )
    return index, MapCell(memory, dirty, touch, bandwidth, candidate_metrics(scenario))


def candidate_metrics(scenario: Scenario) -> dict[str, dict[str, float]]:
    """Every candidate strategy's value of every metric on ``scenario`` (metric ->
    strategy -> value; a migration that did not complete, the process having ended
    first, counts as infinite: it never wins)."""
    baseline = baseline_completion(scenario)
    metrics: dict[str, dict[str, float]] = {metric: {} for metric in METRICS}
    for name in CANDIDATES:
        record = run_migration(scenario, name, baseline=baseline)
        for metric in METRICS:
            value = getattr(record, metric) if record.ok else None
            metrics[metric][name] = math.inf if value is None else float(value)
    return metrics


def compute_map(
    grid: MapGrid | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> StrategyMap:
    """Run every candidate strategy in every cell of ``grid``, on ``workers`` processes.

    ``progress(done, total)`` is called as cells finish; the map lists them in grid order.
    """
    grid = grid or MapGrid()
    jobs = [(index, grid, *cell) for index, cell in enumerate(grid.cells())]
    done: dict[int, MapCell] = {}
    executor = make_executor(workers)
    try:
        for index, cell in executor.map_unordered(_measure, jobs):
            done[index] = cell
            if progress is not None:
                progress(len(done), len(jobs))
    finally:
        executor.close()
    return StrategyMap(grid, tuple(done[index] for index in range(len(jobs))))


def bandwidth_label(bps: float) -> str:
    """``10 Mb/s``, ``1 Gb/s``."""
    return f"{bps / 1e9:g} Gb/s" if bps >= 1e9 else f"{bps / 1e6:g} Mb/s"


#: A lead smaller than this (a fraction of the winner's value) is drawn as a near tie.
NEAR_TIE = 0.02


def lead(cell: MapCell, metric: str) -> float:
    """How far the winner of ``cell`` is ahead: the runner-up's ``metric`` over the
    winner's, minus one (``0.18``: the next best is 18% worse; ``inf``: no other strategy
    finished, or the winner's value is zero)."""
    values = sorted(cell.metrics[metric].values())
    first, second = values[0], values[1] if len(values) > 1 else math.inf
    if math.isinf(second) or first <= 0:
        return math.inf
    return second / first - 1


def _lead_text(ahead: float) -> str:
    """``+0.8%``, ``+18%`` below double, ``×3.2`` from there, ``alone`` with no runner-up."""
    if math.isinf(ahead):
        return "alone"
    if ahead < 0.1:
        return f"+{ahead:.1%}"
    return f"+{ahead:.0%}" if ahead < 1 else f"×{ahead + 1:.2g}"


def _cells(count: int) -> str:
    return f"{count} cell" if count == 1 else f"{count} cells"


def _winners_line(counts: dict[str, int], total: int) -> str:
    """In words: who wins how many cells (``freeze-free wins all 144 cells``)."""
    if len(counts) == 1:
        (name,) = counts
        return f"{name} wins all {_cells(total)}"
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return "winners: " + ", ".join(f"{name} {_cells(count)}" for name, count in ranked)


def draw_cell(
    ax: Any, x: int, y: int, winner: str, text: str, *, pale: bool, fontsize: float
) -> None:
    """Cell (x, y) of a heatmap: the winner's colour (pale for a near tie) and ``text``."""
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle((x - 0.5, y - 0.5), 1, 1, color=colour(winner), alpha=0.4 if pale else 1)
    )
    ax.text(
        x, y, text, ha="center", va="center", fontsize=fontsize,
        color="black" if pale else "white",
    )  # fmt: skip


def map_figure(strategy_map: StrategyMap, metric: str) -> Any:
    """The heatmap of ``metric``: panels of bandwidth x touched fraction, cells coloured by
    winner, each naming its winner and its lead over the runner-up (``+18%``, ``×3.2``; a
    near tie is drawn pale); the title says in words who wins how many cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    grid = strategy_map.grid
    index = {
        (c.memory_bytes, c.dirty_rate, c.touch_fraction, c.bandwidth_bps): c
        for c in strategy_map.cells
    }
    rows, cols = len(grid.bandwidths_bps), len(grid.touch_fractions)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 2.6, 3.0 * rows), squeeze=False)
    counts: dict[str, int] = {}
    for r, bandwidth in enumerate(grid.bandwidths_bps):
        for c, touch in enumerate(grid.touch_fractions):
            ax = axes[r][c]
            for y, dirty in enumerate(grid.dirty_rates):
                for x, memory in enumerate(grid.memory_bytes):
                    cell = index[(memory, dirty, touch, bandwidth)]
                    winner = cell.winner(metric)
                    counts[winner] = counts.get(winner, 0) + 1
                    ahead = lead(cell, metric)
                    pale = ahead < NEAR_TIE
                    text = winner.replace("-", "-\n", 1) + "\n" + _lead_text(ahead)
                    draw_cell(ax, x, y, winner, text, pale=pale, fontsize=6.2)
            ax.set_xlim(-0.5, len(grid.memory_bytes) - 0.5)
            ax.set_ylim(-0.5, len(grid.dirty_rates) - 0.5)
            ax.set_xticks(
                range(len(grid.memory_bytes)),
                [format_size(m) for m in grid.memory_bytes],
                fontsize=7,
            )
            ax.set_yticks(
                range(len(grid.dirty_rates)), [f"{d:g}" for d in grid.dirty_rates], fontsize=7
            )
            ax.set_title(f"{bandwidth_label(bandwidth)}, touches {touch:.0%}", fontsize=9)
            if c == 0:
                ax.set_ylabel("dirty rate (pages/s)", fontsize=8)
            if r == rows - 1:
                ax.set_xlabel("address space", fontsize=8)
    handles = [
        Patch(color=colour(n), label=f"{n} ({counts[n]})") for n in CANDIDATES if n in counts
    ]
    fig.legend(handles=handles, loc="center right", fontsize=8, title="winner (cells)")
    fig.text(
        0.99,
        0.12,
        "in each cell: the winner\nand how much worse the\nrunner-up is; pale: a\n"
        f"near tie (under {NEAR_TIE:.0%})",
        ha="right",
        fontsize=7,
    )
    fig.suptitle(
        f"Which strategy has the {METRICS[metric]} ({grid.profile}, bandwidth varied)\n"
        f"{_winners_line(counts, len(strategy_map.cells))}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 0.84, 0.95))
    return fig


def draw_map(strategy_map: StrategyMap, folder: str | Path) -> list[Path]:
    """One PNG per metric of the map (:func:`map_figure`) in ``folder``; the files written."""
    return save_per_metric(folder, "strategy-map", lambda metric: map_figure(strategy_map, metric))


def save_per_metric(folder: str | Path, stem: str, figure: Callable[[str], Any]) -> list[Path]:
    """``figure(metric)`` for every metric, saved as ``folder/STEM-freeze.png`` and so on."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for metric in METRICS:
        fig = figure(metric)
        path = folder / f"{stem}-{metric.removesuffix('_s').replace('_total', '')}.png"
        try:
            fig.savefig(path, dpi=100)
        finally:
            plt.close(fig)
        out.append(path)
    return out
