"""Auto: pick a strategy from the conditions, as the strategy map says.

At the moment of migration the strategy asks the Memory Manager about the address space
(its size, how fast the process writes pages, how much of it the process has touched)
and reads the network bandwidth from the profile; it finds the nearest cell of the
strategy map (``rhodos map`` computes it: ``strategy-map.json`` beside this module) and
runs that cell's winner for its ``objective``: ``freeze``, ``total``, ``bytes`` or
``slowdown``. The choice is a phase of the record (``auto-chose-<name>``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

import attrs

from rhodos.migration_manager.map import StrategyMap
from rhodos.migration_manager.registry import make_strategy, register
from rhodos.migration_manager.session import Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy, Strategy, parameter
from rhodos.validators import one_of

__all__ = ["MAP_PATH", "OBJECTIVES", "Auto", "choose"]

#: The map the auto strategy reads (written by ``rhodos map``).
MAP_PATH = Path(__file__).with_name("strategy-map.json")

#: Objective -> the map's metric.
OBJECTIVES = {
    "freeze": "freeze_s",
    "total": "total_s",
    "bytes": "bytes_total",
    "slowdown": "slowdown",
}


@functools.cache
def _shipped_map() -> StrategyMap:
    if not MAP_PATH.is_file():
        raise FileNotFoundError(f"no strategy map at {MAP_PATH}: run `rhodos map` first")
    return StrategyMap.from_json(MAP_PATH.read_text())


def choose(
    memory_bytes: float,
    dirty_rate: float,
    touch_fraction: float,
    bandwidth_bps: float,
    objective: str = "slowdown",
) -> str:
    """The strategy the map says wins under these conditions, for ``objective``."""
    cell = _shipped_map().nearest(memory_bytes, dirty_rate, touch_fraction, bandwidth_bps)
    winner: str = cell.winner(OBJECTIVES[objective])
    return winner


@register
@attrs.frozen
class Auto(BaseStrategy):
    """Measure the conditions, then run the strategy the map says wins there."""

    name: ClassVar[str] = "auto"
    summary: ClassVar[str] = "picks the strategy the strategy map says wins under these conditions"
    residual: ClassVar[str] = "source"

    #: What to minimise: freeze, total, bytes or slowdown.
    objective: str = attrs.field(default="slowdown", validator=parameter(one_of(OBJECTIVES)))
    _chosen: dict[int, Strategy] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, alias="_chosen"
    )

    def run(self, session: Session) -> Steps:
        info = yield from session.describe()
        pages = max(1, info.pages)
        choice = choose(
            memory_bytes=pages * session.profile.page_size_bytes,
            dirty_rate=info.write_rate,
            touch_fraction=info.referenced / pages,
            bandwidth_bps=session.profile.network_bandwidth_bps,
            objective=self.objective,
        )
        session.mark(f"auto-chose-{choice}")
        delegate = make_strategy(choice)
        self._chosen[session.pid] = delegate
        yield from delegate.run(session)

    def cleanup(self, session: Session) -> Steps:
        yield from self._chosen.pop(session.pid).cleanup(session)

    def params(self) -> dict[str, Any]:
        return {"objective": self.objective}
