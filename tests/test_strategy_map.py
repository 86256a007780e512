"""The strategy map and the auto strategy that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhodos.experiment import Scenario, run_migration
from rhodos.experiment.strategymap import (
    CANDIDATES,
    METRICS,
    MapGrid,
    StrategyMap,
    compute_map,
    draw_map,
)
from rhodos.migration_manager import make_strategy
from rhodos.migration_manager.strategies.auto import MAP_PATH, OBJECTIVES, choose


@pytest.fixture(scope="module")
def shipped() -> StrategyMap:
    """The map the auto strategy ships with."""
    return StrategyMap.from_json(MAP_PATH.read_text())


def test_a_quick_map_names_the_argmin_and_draws_every_metric(tmp_path: Path) -> None:
    """Each cell's winner has the lowest value of its metric; one PNG per metric is drawn."""
    result = compute_map(MapGrid.quick())
    assert len(result.cells) == 16
    for cell in result.cells:
        for metric in METRICS:
            values = cell.metrics[metric]
            assert set(values) == set(CANDIDATES)
            assert values[cell.winner(metric)] == min(values.values())
    paths = draw_map(result, tmp_path)
    assert len(paths) == len(METRICS) and all(p.stat().st_size > 10_000 for p in paths)
    assert StrategyMap.from_json(result.to_json()) == result


def test_the_shipped_map_is_the_current_models_map(shipped: StrategyMap) -> None:
    """Recomputing cells of the shipped map gives the same numbers (else rerun `rhodos map`)."""
    grid = shipped.grid
    picks = [c for c in shipped.cells if c.memory_bytes == grid.memory_bytes[0]][::7]
    for cell in picks:
        fresh = compute_map(
            MapGrid(
                memory_bytes=(cell.memory_bytes,),
                dirty_rates=(cell.dirty_rate,),
                touch_fractions=(cell.touch_fraction,),
                bandwidths_bps=(cell.bandwidth_bps,),
                profile=grid.profile,
                seed=grid.seed,
            )
        ).cells[0]
        assert fresh.metrics == cell.metrics


def test_auto_chooses_the_maps_winner_at_every_cell(shipped: StrategyMap) -> None:
    """At the conditions of each cell, auto's choice is that cell's winner, for every objective."""
    for cell in shipped.cells:
        for objective, metric in OBJECTIVES.items():
            chosen = choose(
                cell.memory_bytes,
                cell.dirty_rate,
                cell.touch_fraction,
                cell.bandwidth_bps,
                objective,
            )
            assert chosen == cell.winner(metric)


@pytest.mark.parametrize("objective", ["freeze", "slowdown"])
def test_auto_does_nearly_as_well_as_the_best_strategy_off_the_grid(objective: str) -> None:
    """Between grid points, auto's measured objective is within 25% of the best strategy's."""
    scenario = Scenario(
        profile="sparc-ethernet", memory_bytes="512KiB", dirty_rate=60.0, touch_fraction=0.7
    )
    metric = OBJECTIVES[objective]
    auto = run_migration(scenario, "auto", {"objective": objective})
    [choice] = [p.removeprefix("auto-chose-") for p, _ in auto.phases if p.startswith("auto-")]
    assert choice in CANDIDATES
    best = min(getattr(run_migration(scenario, name), metric) for name in CANDIDATES)
    assert getattr(auto, metric) <= 1.25 * best


def test_auto_refuses_an_unknown_objective() -> None:
    """The objective is checked when the strategy is built, naming the allowed ones."""
    with pytest.raises(ValueError, match="one of 'freeze', 'total', 'bytes', 'slowdown'"):
        make_strategy("auto", objective="speed")
