"""`rhodos map` writes where --out says; the map `auto` ships with changes only on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import strategymap
from rhodos.migration_manager.map import CANDIDATES, METRICS, MapCell, MapGrid, StrategyMap
from rhodos.migration_manager.strategies import auto


def one_cell_map(*_: Any, **__: Any) -> StrategyMap:
    """A map of one cell (what compute_map would give, without running anything)."""
    grid = MapGrid(
        memory_bytes=(64 << 10,), dirty_rates=(0.0,), touch_fractions=(1.0,), bandwidths_bps=(1e9,)
    )
    values = {m: {name: 1.0 + i for i, name in enumerate(CANDIDATES)} for m in METRICS}
    return StrategyMap(grid, (MapCell(64 << 10, 0.0, 1.0, 1e9, values),))


@pytest.fixture
def package_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The auto strategy's map file, stood in for by a copy; cells come from one_cell_map."""
    stand_in = tmp_path / "installed" / "strategy-map.json"
    stand_in.parent.mkdir()
    stand_in.write_text(auto.MAP_PATH.read_text())
    monkeypatch.setattr(auto, "MAP_PATH", stand_in)
    monkeypatch.setattr(strategymap, "compute_map", one_cell_map)
    monkeypatch.chdir(tmp_path)
    return stand_in


def test_map_writes_into_results_and_nowhere_else(package_map: Path) -> None:
    """By default the heatmaps and the JSON go to results/; neither docs/images nor the
    package's map is touched."""
    before = package_map.read_text()
    result = CliRunner().invoke(app, ["map"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in Path("results").iterdir())
    assert written == [
        "strategy-map-bytes.png",
        "strategy-map-freeze.png",
        "strategy-map-slowdown.png",
        "strategy-map-total.png",
        "strategy-map.json",
    ]
    assert not Path("docs").exists()
    assert package_map.read_text() == before


def test_out_chooses_the_folder_of_a_quick_map_too(package_map: Path) -> None:
    """--out puts everything in the folder named, creating it; --quick changes nothing else."""
    before = package_map.read_text()
    result = CliRunner().invoke(app, ["map", "--quick", "--out", "somewhere/maps"])
    assert result.exit_code == 0, result.output
    assert len(list(Path("somewhere/maps").glob("strategy-map*"))) == 5
    assert not Path("results").exists() and not Path("docs").exists()
    assert package_map.read_text() == before


def test_install_map_is_the_one_way_to_change_autos_map(package_map: Path) -> None:
    """--install-map replaces the package's map with the one computed (a full one only)."""
    refused = CliRunner().invoke(app, ["map", "--quick", "--install-map"])
    assert refused.exit_code == 2 and "full map" in refused.output
    result = CliRunner().invoke(app, ["map", "--install-map"])
    assert result.exit_code == 0, result.output
    assert StrategyMap.from_json(package_map.read_text()) == one_cell_map()
