"""How every figure shows things: a colour per strategy, when to use a log scale, units.

Each figure of rhodos (the comparison bars, a sweep's lines, the strategy maps) takes
these from here, so that a strategy has the same colour everywhere, the same data get
the same scale, and every axis says its unit the same way (times in µs, ms or s, sizes
in binary units as the inputs are written, counts in their own words).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from rhodos.migration_manager.metrics import metric
from rhodos.units import format_size

__all__ = [
    "LOG_SPAN",
    "STRATEGY_COLOURS",
    "colour",
    "log_scale",
    "metric_axis",
    "scale_axis",
    "value_label",
]

#: The built-in strategies' colours (matplotlib's tab10, in the tables' order).
STRATEGY_COLOURS = {
    "eager": "#1f77b4",
    "eager-dirty": "#ff7f0e",
    "precopy": "#2ca02c",
    "copy-on-reference": "#d62728",
    "flushing": "#9467bd",
    "freeze-free": "#8c564b",
    "postcopy": "#e377c2",
    "auto": "#7f7f7f",
}
#: Colours for other strategies (plugins), chosen by a hash of the name: stable.
_MORE = ("#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")

#: Positive values spanning at least this factor get a log scale.
LOG_SPAN = 20.0


def colour(strategy: str) -> str:
    """The colour of ``strategy`` in every figure."""
    known = STRATEGY_COLOURS.get(strategy)
    if known is not None:
        return known
    return _MORE[zlib.crc32(strategy.encode()) % len(_MORE)]


def log_scale(values: Iterable[float | None]) -> bool:
    """Whether an axis showing ``values`` is logarithmic: when they are all positive and
    span :data:`LOG_SPAN` or more (13 ms beside 1080 ms would be invisible on a linear
    axis; a zero would be invisible on a log one)."""
    shown = [v for v in values if v is not None and math.isfinite(v)]
    if len(shown) < 2 or min(shown) <= 0:
        return False
    return max(shown) / min(shown) >= LOG_SPAN


def scale_axis(ax: Any, values: Iterable[float | None], which: str = "y", base: int = 10) -> bool:
    """Make ``ax``'s ``which`` axis logarithmic when :func:`log_scale` says so, with ticks
    written as plain numbers (``20``, ``50``, ``100``); whether it did."""
    shown = [v for v in values if v is not None and math.isfinite(v)]
    if not log_scale(shown):
        return False
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    (ax.set_yscale if which == "y" else ax.set_xscale)("log", base=base)
    decades = math.log10(max(shown) / min(shown))
    subs = (1.0, 2.0, 5.0) if base == 10 and decades <= 2.5 else (1.0,)
    axis.set_major_locator(LogLocator(base=base, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
    return True


def _time_unit(largest: float) -> tuple[str, float]:
    if largest >= 10:
        return "s", 1.0
    return ("ms", 1e-3) if largest >= 1e-3 else ("µs", 1e-6)


def _size_unit(largest: float) -> tuple[str, float]:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if largest >= size:
            return unit, float(size)
    return "bytes", 1.0


def metric_axis(name: str, values: Sequence[float | None]) -> tuple[str, float]:
    """An axis label for metric ``name`` with its unit, and the scale its values are
    divided by (``("latency (ms)", 1e-3)``): the unit fits the largest of ``values``."""
    shown = metric(name)
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if shown.unit == "s":
        unit, scale = _time_unit(largest)
    elif shown.unit == "bytes":
        unit, scale = _size_unit(largest)
    elif shown.unit:
        unit, scale = shown.unit, 1.0
    else:
        return f"{shown.label} (× the run without migration)", 1.0
    return f"{shown.label} ({unit})", scale


#: How a legend writes a value of a scenario key.
_FORMATS = {
    "memory_bytes": lambda v: format_size(int(v)),
    "node_memory_bytes": lambda v: f"nodes of {format_size(int(v))}",
    "dirty_rate": lambda v: f"{v:g} pages/s",
    "touch_fraction": lambda v: f"touches {v:.0%}",
    "cpu_seconds": lambda v: f"{v:g} CPU-s",
    "migrate_at": lambda v: f"at {v:g} s",
    "nodes": lambda v: f"{v} nodes",
    "home_calls_per_s": lambda v: f"{v:g} home calls/s",
}


def value_label(key: str, value: Any) -> str:
    """``value`` of ``key`` as a legend says it: ``1 MiB``, ``20 pages/s``, ``max_rounds=3``."""
    write = _FORMATS.get(key)
    if write is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return write(value)
    if key in ("strategy", "profile", "workload", "topology"):
        return str(value)
    return f"{key.rpartition('.')[2]}={value}"
