"""The strategy map's data: which strategy won where, and the nearest cell to a situation.

The map is computed and drawn by :mod:`rhodos.experiment.strategymap` (``rhodos map``);
this module only holds its data model, so that the ``auto`` strategy can read it without
the migration manager depending on the experiment layer.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

__all__ = ["CANDIDATES", "METRICS", "MapCell", "MapGrid", "StrategyMap"]

#: The metrics the map ranks strategies by: record attribute -> what the figure says.
METRICS = {
    "freeze_s": "lowest freeze time",
    "total_s": "lowest total time",
    "bytes_total": "fewest bytes moved",
    "slowdown": "smallest slowdown of the migrated process",
}

#: The strategies the map compares (the built-in ones the auto strategy chooses from).
CANDIDATES = (
    "eager",
    "eager-dirty",
    "precopy",
    "copy-on-reference",
    "flushing",
    "freeze-free",
    "postcopy",
)


@attrs.frozen
class MapGrid:
    """The axes of the map."""

    memory_bytes: tuple[int, ...] = (64 << 10, 256 << 10, 1 << 20, 4 << 20)
    dirty_rates: tuple[float, ...] = (0.0, 20.0, 100.0, 400.0)
    touch_fractions: tuple[float, ...] = (0.1, 0.5, 1.0)
    bandwidths_bps: tuple[float, ...] = (10e6, 100e6, 1e9)
    profile: str = "sparc-ethernet"
    seed: int = 0

    @classmethod
    def quick(cls) -> MapGrid:
        """A 2 x 2 x 2 x 2 grid for tests."""
        return cls(
            memory_bytes=(64 << 10, 1 << 20),
            dirty_rates=(0.0, 200.0),
            touch_fractions=(0.1, 1.0),
            bandwidths_bps=(10e6, 1e9),
        )

    def cells(self) -> list[tuple[int, float, float, float]]:
        """Every (memory, dirty rate, touch fraction, bandwidth) of the grid."""
        return [
            (m, d, t, b)
            for b in self.bandwidths_bps
            for t in self.touch_fractions
            for d in self.dirty_rates
            for m in self.memory_bytes
        ]


@attrs.frozen
class MapCell:
    """One point of the map: every strategy's metrics and the winners."""

    memory_bytes: int
    dirty_rate: float
    touch_fraction: float
    bandwidth_bps: float
    metrics: dict[str, dict[str, float]]

    def winner(self, metric: str) -> str:
        """The strategy with the lowest ``metric`` here (ties go to the earlier candidate)."""
        values = self.metrics[metric]
        if any(math.isnan(v) for v in values.values()):
            raise ValueError(f"the map cell {self} has an undefined {metric}")
        return min(values, key=lambda name: (values[name], CANDIDATES.index(name)))


@attrs.frozen
class StrategyMap:
    """The whole map, serialisable to JSON."""

    grid: MapGrid
    cells: tuple[MapCell, ...]

    def to_json(self) -> str:
        """The map as JSON (what `rhodos map` writes and the auto strategy reads)."""
        return json.dumps(attrs.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StrategyMap:
        """Read a map written by :meth:`to_json`."""
        data = json.loads(text)
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data["grid"].items()
        }
        grid = MapGrid(**fields)
        return cls(grid, tuple(MapCell(**cell) for cell in data["cells"]))

    def nearest(
        self, memory_bytes: float, dirty_rate: float, touch_fraction: float, bandwidth_bps: float
    ) -> MapCell:
        """The cell nearest to these conditions (log scale for size, rate and bandwidth)."""

        def distance(cell: MapCell) -> float:
            return (
                (math.log2(cell.memory_bytes) - math.log2(max(memory_bytes, 1))) ** 2 / 4
                + (math.log2(1 + cell.dirty_rate) - math.log2(1 + max(dirty_rate, 0))) ** 2 / 4
                + ((cell.touch_fraction - touch_fraction) * 4) ** 2
                + (math.log10(cell.bandwidth_bps) - math.log10(bandwidth_bps)) ** 2
            )

        return min(self.cells, key=distance)
