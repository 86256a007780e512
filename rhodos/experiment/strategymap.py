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
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from rhodos.experiment.executor import make_executor
from rhodos.experiment.migration import Scenario, baseline_completion, run_migration
from rhodos.kernel import load_profile
from rhodos.migration_manager.map import CANDIDATES, METRICS, MapCell, MapGrid, StrategyMap
from rhodos.units import format_size

__all__ = [
    "METRICS",
    "MapCell",
    "MapGrid",
    "StrategyMap",
    "compute_map",
    "draw_map",
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
    baseline = baseline_completion(scenario)
    metrics: dict[str, dict[str, float]] = {metric: {} for metric in METRICS}
    for name in CANDIDATES:
        record = run_migration(scenario, name, baseline=baseline)
        for metric in METRICS:
            # a refused migration (the process ended first) never wins
            value = getattr(record, metric) if record.ok else None
            metrics[metric][name] = math.inf if value is None else float(value)
    return index, MapCell(memory, dirty, touch, bandwidth, metrics)


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


def _bandwidth_label(bps: float) -> str:
    return f"{bps / 1e9:g} Gb/s" if bps >= 1e9 else f"{bps / 1e6:g} Mb/s"


def draw_map(
    strategy_map: StrategyMap, folder: str | Path, names: Sequence[str] = ()
) -> list[Path]:
    """One PNG per metric: panels of bandwidth x touched fraction, cells coloured by winner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    grid = strategy_map.grid
    palette = plt.get_cmap("tab10")
    colours = {name: palette(i) for i, name in enumerate(CANDIDATES)}
    index = {
        (c.memory_bytes, c.dirty_rate, c.touch_fraction, c.bandwidth_bps): c
        for c in strategy_map.cells
    }
    out = []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for metric, meaning in METRICS.items():
        rows, cols = len(grid.bandwidths_bps), len(grid.touch_fractions)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 2.4, 3.0 * rows), squeeze=False)
        used: set[str] = set()
        for r, bandwidth in enumerate(grid.bandwidths_bps):
            for c, touch in enumerate(grid.touch_fractions):
                ax = axes[r][c]
                codes = []
                for dirty in grid.dirty_rates:
                    row = []
                    for memory in grid.memory_bytes:
                        winner = index[(memory, dirty, touch, bandwidth)].winner(metric)
                        used.add(winner)
                        row.append(CANDIDATES.index(winner))
                    codes.append(row)
                cmap = ListedColormap([colours[n] for n in CANDIDATES])
                ax.imshow(
                    codes,
                    origin="lower",
                    cmap=cmap,
                    vmin=-0.5,
                    vmax=len(CANDIDATES) - 0.5,
                    aspect="auto",
                )
                for y, row in enumerate(codes):
                    for x, code in enumerate(row):
                        ax.text(
                            x,
                            y,
                            CANDIDATES[code].replace("-", "-\n", 1),
                            ha="center",
                            va="center",
                            fontsize=6.5,
                            color="white",
                        )
                ax.set_xticks(
                    range(len(grid.memory_bytes)),
                    [format_size(m) for m in grid.memory_bytes],
                    fontsize=7,
                )
                ax.set_yticks(
                    range(len(grid.dirty_rates)), [f"{d:g}" for d in grid.dirty_rates], fontsize=7
                )
                ax.set_title(f"{_bandwidth_label(bandwidth)}, touches {touch:.0%}", fontsize=9)
                if c == 0:
                    ax.set_ylabel("dirty rate (pages/s)", fontsize=8)
                if r == rows - 1:
                    ax.set_xlabel("address space", fontsize=8)
        handles = [Patch(color=colours[n], label=n) for n in CANDIDATES if n in used]
        fig.legend(handles=handles, loc="center right", fontsize=8, title="winner")
        fig.suptitle(
            f"Which strategy has the {meaning} ({grid.profile}, bandwidth varied)", fontsize=11
        )
        fig.tight_layout(rect=(0, 0, 0.86, 0.96))
        path = folder / f"strategy-map-{metric.removesuffix('_s').replace('_total', '')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        out.append(path)
    return out
