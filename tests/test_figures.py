"""Figures a reader can trust: a colour per strategy everywhere, one rule for log scales,
units on every axis, no confidence interval below zero, legends in the inputs' words,
maps that show by how much the winner wins."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from rhodos.experiment import Scenario, compare
from rhodos.experiment.figures import _figure
from rhodos.experiment.palette import colour, log_scale, value_label
from rhodos.experiment.plot import PANELS, comparison_figure
from rhodos.experiment.strategymap import map_figure
from rhodos.migration_manager.map import CANDIDATES, METRICS, MapCell, MapGrid, StrategyMap


@pytest.fixture(scope="module")
def records() -> Any:
    return compare(Scenario(memory_bytes="256KiB", cpu_seconds=1.0), ["eager", "postcopy"])


def test_a_strategy_has_its_colour_in_every_figure(records: Any) -> None:
    """The comparison's bars, a sweep's lines and the map's cells use the palette's colour."""
    figure = comparison_figure(records)
    bars = figure.axes[0].patches
    assert [to_hex(b.get_facecolor()) for b in bars] == [colour("eager"), colour("postcopy")]
    plt.close(figure)
    summary = [
        {"strategy": s, "memory_bytes": m, "n": 1, "latency_s_mean": 0.1 * i, "latency_s_ci95": 0}
        for i, (s, m) in enumerate([("postcopy", 1 << 20), ("postcopy", 4 << 20)], start=1)
    ]
    figure = _figure(summary, "memory_bytes", ["strategy", "memory_bytes"], ["latency_s"], "t")
    (line,) = figure.axes[0].get_lines()[:1]
    assert to_hex(line.get_color()) == colour("postcopy")
    plt.close(figure)
    assert len({colour(name) for name in CANDIDATES}) == len(CANDIDATES)
    assert colour("a-plugin") == colour("a-plugin")


def test_log_scales_follow_one_rule() -> None:
    """Positive values spanning 20x or more get a log axis; a zero never does."""
    assert log_scale([13.3, 1080.1])
    assert not log_scale([13.3, 200.0])
    assert not log_scale([0.0, 13.3, 1080.1])
    assert not log_scale([5.0])


def test_every_panel_says_its_unit_in_binary_units_for_bytes(records: Any) -> None:
    """Each panel of the comparison names its unit; bytes are KiB/MiB/GiB, never MB; the
    comparison shows slowdown and remote faults too."""
    figure = comparison_figure(records)
    titles = [ax.get_title() for ax in figure.axes]
    plt.close(figure)
    assert len(titles) == len(PANELS) >= 6
    assert all("(" in title and title.endswith(")") for title in titles)
    assert any("KiB" in t or "MiB" in t for t in titles) and not any("MB" in t for t in titles)
    assert any(t.startswith("slowdown") for t in titles)
    assert any(t.startswith("remote faults") for t in titles)


def test_confidence_bars_stop_at_zero_and_legends_read_as_inputs() -> None:
    """A CI wider than its mean ends at zero; a line's legend says `1 MiB`, not bytes."""
    summary = [
        {
            "strategy": "precopy",
            "memory_bytes": m,
            "touch_fraction": 0.5,
            "n": 3,
            "freeze_s_mean": 0.01,
            "freeze_s_ci95": 0.05,
        }
        for m in (1 << 20, 4 << 20)
    ]
    axes = ["strategy", "memory_bytes", "touch_fraction"]
    figure = _figure(summary, "touch_fraction", axes, ["freeze_s"], "t")
    panel = figure.axes[0]
    lowest = min(seg[:, 1].min() for c in panel.collections for seg in c.get_segments())
    assert lowest >= 0
    labels = panel.get_legend_handles_labels()[1]
    plt.close(figure)
    assert labels == ["precopy, 1 MiB", "precopy, 4 MiB"]
    assert value_label("touch_fraction", 0.5) == "touches 50%"
    assert value_label("precopy.max_rounds", 3) == "max_rounds=3"


def _map(values: dict[str, float]) -> StrategyMap:
    grid = MapGrid(
        memory_bytes=(64 << 10, 1 << 20),
        dirty_rates=(0.0,),
        touch_fractions=(1.0,),
        bandwidths_bps=(1e9,),
    )
    cells = tuple(
        MapCell(m, 0.0, 1.0, 1e9, {metric: dict(values) for metric in METRICS})
        for m in grid.memory_bytes
    )
    return StrategyMap(grid, cells)


def test_a_map_shows_the_winners_lead_and_says_when_one_wins_everywhere() -> None:
    """Each cell names its winner and how much worse the runner-up is; a map with one
    winner says so in its title."""
    values = {name: 10.0 for name in CANDIDATES} | {"postcopy": 5.0, "precopy": 5.9}
    figure = map_figure(_map(values), "freeze_s")
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    title = figure._suptitle.get_text()
    plt.close(figure)
    assert "postcopy\n+18%" in texts
    assert "postcopy wins all 2 cells" in title
