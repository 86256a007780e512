"""The strategy map of one recorded program: which strategy wins for it, where.

The synthetic map (:mod:`rhodos.experiment.strategymap`) varies the address-space size,
the dirty rate and the touched fraction. A recorded program (``trace:NAME``) fixes all
three itself, so its map varies what is still free: *when* in its run the program is
migrated (a fraction of its CPU time on the profile: early, its working set is still
growing; late, little of it is touched again) across, and the network bandwidth up, on
one machine profile. Every cell migrates the program with every candidate strategy and
the same seed, as the synthetic map does; a migration that does not complete (the
program ended first) never wins. Beside each winner the JSON keeps what the synthetic
map predicts for the program's own size, dirty rate and touched fraction there
(:func:`~rhodos.migration_manager.strategies.auto.choose`), so a reader sees where the
synthetic model is wrong for this program.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from rhodos.experiment.executor import make_executor
from rhodos.experiment.migration import Scenario
from rhodos.experiment.strategymap import (
    NEAR_TIE,
    bandwidth_label,
    candidate_metrics,
    draw_cell,
    lead,
    save_per_metric,
)
from rhodos.kernel import MachineProfile, load_profile
from rhodos.migration_manager.map import METRICS, MapCell
from rhodos.migration_manager.strategies.auto import OBJECTIVES, choose

__all__ = ["TraceMap", "TraceMapGrid", "compute_trace_map", "draw_trace_map"]

#: The synthetic map's objective for each metric (all four are ranked by both).
_OBJECTIVE = {metric: name for name, metric in OBJECTIVES.items()}


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _fractions(_: Any, attribute: attrs.Attribute[Any], value: tuple[float, ...]) -> None:
    for fraction in value:
        if not 0 < fraction < 1:
            raise ValueError(f"{attribute.name}: each must be in (0, 1), got {fraction}")


@attrs.frozen
class TraceMapGrid:
    """The axes of a recorded program's map.

    Attributes:
        workload: the program, ``trace:NAME`` or ``trace:PATH``.
        profile: the machine profile it runs on (name or TOML path).
        points: when it is migrated, as fractions of its CPU time on the profile.
        bandwidths_bps: the network bandwidths (the profile's other costs kept).
        node_memory_bytes: each node's memory (``None``: the profile's).
        seed: root seed.
    """

    workload: str
    profile: str = "sparc-ethernet"
    points: tuple[float, ...] = attrs.field(
        default=(0.1, 0.25, 0.5, 0.75, 0.9), converter=_floats, validator=_fractions
    )
    bandwidths_bps: tuple[float, ...] = attrs.field(default=(10e6, 100e6, 1e9), converter=_floats)
    node_memory_bytes: int | None = None
    seed: int = 0

    def quick(self) -> TraceMapGrid:
        """A 2 x 2 grid (tests, a first look)."""
        return attrs.evolve(self, points=(0.25, 0.75), bandwidths_bps=(10e6, 1e9))

    def scenario(self, point: float, bandwidth_bps: float) -> Scenario:
        """The migration of one cell (the program migrated at ``point`` of its run)."""
        profile = attrs.evolve(load_profile(self.profile), network_bandwidth_bps=bandwidth_bps)
        base = Scenario(
            profile=profile, workload=self.workload, node_memory_bytes=self.node_memory_bytes
        )
        figures = base.trace_figures()
        assert figures is not None  # the CLI and the grid's users pass trace: workloads
        return attrs.evolve(base, migrate_at=point * figures.cpu_seconds, seed=self.seed)

    def check(self) -> None:
        """Raise ConfigError now if the program does not fit a node (before any cell runs)."""
        self.scenario(self.points[0], self.bandwidths_bps[0]).check_fits()


@attrs.frozen
class TraceMap:
    """A recorded program's map: one :class:`MapCell` per (point, bandwidth), and the
    synthetic map's prediction for each (metric -> strategy)."""

    grid: TraceMapGrid
    cells: tuple[MapCell, ...]
    points: tuple[float, ...]
    predicted: tuple[dict[str, str], ...]

    def cell(self, point: float, bandwidth_bps: float) -> tuple[MapCell, dict[str, str]]:
        """The cell migrated at ``point`` over ``bandwidth_bps``, and its prediction."""
        for cell, at, guess in zip(self.cells, self.points, self.predicted, strict=True):
            if at == point and cell.bandwidth_bps == bandwidth_bps:
                return cell, guess
        raise KeyError((point, bandwidth_bps))

    def to_json(self) -> str:
        """The map as JSON: the grid, then per cell its point, metrics and prediction."""
        rows = [
            {"point": at, **attrs.asdict(cell), "predicted": guess}
            for cell, at, guess in zip(self.cells, self.points, self.predicted, strict=True)
        ]
        return json.dumps({"grid": attrs.asdict(self.grid), "cells": rows}, indent=1)


def _measure(job: tuple[int, TraceMapGrid, float, float]) -> tuple[int, MapCell, dict[str, str]]:
    """Cell ``index``: every candidate's metrics, and the synthetic map's prediction."""
    index, grid, point, bandwidth = job
    scenario = grid.scenario(point, bandwidth)
    figures = scenario.trace_figures()
    assert figures is not None
    metrics = candidate_metrics(scenario)
    touched = figures.touched_between(scenario.migrate_at) / figures.pages
    cell = MapCell(figures.memory_bytes, figures.dirty_rate, touched, bandwidth, metrics)
    guess = {
        metric: choose(figures.memory_bytes, figures.dirty_rate, touched, bandwidth, objective)
        for metric, objective in _OBJECTIVE.items()
    }
    return index, cell, guess


def compute_trace_map(
    grid: TraceMapGrid, *, workers: int = 1, progress: Callable[[int, int], None] | None = None
) -> TraceMap:
    """Every candidate strategy in every cell of ``grid``, on ``workers`` processes."""
    grid.check()
    cells = [(p, b) for b in grid.bandwidths_bps for p in grid.points]
    jobs = [(index, grid, p, b) for index, (p, b) in enumerate(cells)]
    done: dict[int, tuple[MapCell, dict[str, str]]] = {}
    executor = make_executor(workers)
    try:
        for index, cell, guess in executor.map_unordered(_measure, jobs):
            done[index] = (cell, guess)
            if progress is not None:
                progress(len(done), len(jobs))
    finally:
        executor.close()
    order = range(len(jobs))
    return TraceMap(
        grid,
        tuple(done[i][0] for i in order),
        tuple(cells[i][0] for i in order),
        tuple(done[i][1] for i in order),
    )


def trace_map_figure(trace_map: TraceMap, metric: str, profile: MachineProfile) -> Any:
    """The heatmap of ``metric``: migration point across, bandwidth up; each cell coloured
    by its winner, naming it, its lead (``+18%``) and, when they differ, what the
    synthetic map predicted (``map: eager``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = trace_map.grid
    size = (1.5 * len(grid.points) + 2.4, 1.1 * len(grid.bandwidths_bps) + 1.6)
    fig, ax = plt.subplots(figsize=size)
    wrong = 0
    for y, bandwidth in enumerate(grid.bandwidths_bps):
        for x, point in enumerate(grid.points):
            cell, guess = trace_map.cell(point, bandwidth)
            winner = cell.winner(metric)
            ahead = lead(cell, metric)
            pale = ahead < NEAR_TIE
            text = f"{winner}\n{'tie' if pale else _ahead(ahead)}"
            if guess[metric] != winner:
                wrong += 1
                text += f"\nmap: {guess[metric]}"
            draw_cell(ax, x, y, winner, text, pale=pale, fontsize=6.5)
    ax.set_xlim(-0.5, len(grid.points) - 0.5)
    ax.set_ylim(-0.5, len(grid.bandwidths_bps) - 0.5)
    ax.set_xticks(range(len(grid.points)), [f"{p:.0%}" for p in grid.points], fontsize=7)
    ax.set_yticks(
        range(len(grid.bandwidths_bps)),
        [bandwidth_label(b) for b in grid.bandwidths_bps],
        fontsize=7,
    )
    ax.set_xlabel("migrated at (fraction of its CPU time)", fontsize=8)
    ax.set_ylabel("network bandwidth", fontsize=8)
    ax.set_title(
        f"{grid.workload} on {profile.name}: {METRICS[metric]}\n"
        f"the synthetic map predicts another winner in {wrong} of {len(trace_map.cells)} cells",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _ahead(ahead: float) -> str:
    if math.isinf(ahead):
        return "alone"
    return f"+{ahead:.0%}" if ahead < 1 else f"×{ahead + 1:.2g}"


def draw_trace_map(trace_map: TraceMap, folder: str | Path) -> list[Path]:
    """One PNG per metric (``trace-map-freeze.png``...) in ``folder``; the files written."""
    profile = load_profile(trace_map.grid.profile)
    return save_per_metric(
        folder, "trace-map", lambda metric: trace_map_figure(trace_map, metric, profile)
    )
