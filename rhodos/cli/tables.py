"""Tables that fit the terminal: every digit shown, in units that keep numbers short.

A command builds its table from :class:`Column` s: a heading, one text per row, and
whether it is a *key* (the strategy, a sweep's axes: what a row is about). Cells are
never cut: :func:`fitted` gives as many tables as the width needs, each with the key
columns and as many of the others as fit (a narrow terminal gets the table in parts,
one under the other, rather than ``1,0…``). Headings wrap at their spaces.

:func:`metric_columns` writes metrics the same way everywhere: times in ms, sizes in
KiB (MiB when a column holds tens of MiB or more), counts with four significant digits,
and the unit in the heading (``latency ms``, ``bytes KiB``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import attrs
import typer
from rich import box
from rich.table import Table

from rhodos.migration_manager.metrics import COMPARED, compared, metric

__all__ = [
    "MISSING",
    "TABLE_METRICS",
    "Column",
    "MetricOption",
    "chosen_metrics",
    "fitted",
    "metric_columns",
    "metric_unit",
    "short_number",
]

#: What a table cell shows for a metric a row does not have.
MISSING = "-"

#: The metrics a comparison or a sweep summary shows unless ``--metric`` chooses.
TABLE_METRICS = ("latency_s", "freeze_s", "total_s", "bytes_total", "remote_faults", "slowdown")

MetricOption = Annotated[
    list[str] | None,
    typer.Option(
        "--metric",
        "-m",
        help=f"A metric to show (repeat for several): {', '.join(COMPARED)}.",
    ),
]


def chosen_metrics(chosen: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """The metrics ``--metric`` chose (else ``default``); a misspelt one fails here."""
    names = list(chosen or default)
    compared(names)
    return names


@attrs.frozen
class Column:
    """One column: its heading, its cells (one per row), and whether it says what a row is."""

    heading: str
    cells: tuple[str, ...]
    #: A key column (the strategy, an axis) is repeated in every part of a split table.
    key: bool = False
    #: Text columns are left-aligned; numbers right-aligned.
    numeric: bool = True

    @property
    def width(self) -> int:
        """The narrowest this column can be: its longest cell, or its heading's longest word."""
        words = [len(word) for word in self.heading.split()] or [0]
        return max([max(words), *(len(cell) for cell in self.cells)])

    @property
    def full_width(self) -> int:
        """Its width with the heading on one line."""
        return max(self.width, len(self.heading))


def _table_width(widths: Sequence[int]) -> int:
    """Characters a table of columns this wide needs (a space of padding each side of a
    cell, one between columns)."""
    return sum(w + 2 for w in widths) + len(widths) - 1


def _widths(columns: Sequence[Column], width: int) -> list[int]:
    """Each column's width: the narrowest, then headings on one line while room is left."""
    widths = [c.width for c in columns]
    for i, column in enumerate(columns):
        wider = [*widths[:i], column.full_width, *widths[i + 1 :]]
        if _table_width(wider) <= width:
            widths = wider
    return widths


def fitted(
    title: str, columns: Sequence[Column], width: int, style: Callable[[int], str] | None = None
) -> list[Table]:
    """``columns`` as tables no wider than ``width``: one, or parts that each repeat the keys.

    ``style(row)`` gives a row's rich style (e.g. red for a refused migration).
    """
    keys = [c for c in columns if c.key]
    parts: list[list[Column]] = []
    for column in (c for c in columns if not c.key):
        if parts and _table_width([c.width for c in (*keys, *parts[-1], column)]) <= width:
            parts[-1].append(column)
        else:
            parts.append([column])
    if not parts:
        parts = [[]]
    tables = []
    for number, part in enumerate(parts, start=1):
        heading = title if len(parts) == 1 else f"{title} ({number}/{len(parts)})"
        table = Table(title=heading, box=box.SIMPLE_HEAD, show_edge=False)
        shown = [*keys, *part]
        for column, fixed in zip(shown, _widths(shown, width), strict=True):
            # A fixed width: headings wrap at their spaces, cells are never cut (a cell
            # wider than its column, were the widths wrong, would fold, not lose digits).
            table.add_column(
                column.heading,
                justify="right" if column.numeric else "left",
                overflow="fold",
                width=fixed,
            )
        rows = len(shown[0].cells) if shown else 0
        for row in range(rows):
            table.add_row(*(c.cells[row] for c in shown), style=style(row) if style else None)
        tables.append(table)
    return tables


def short_number(value: float, is_count: bool = False) -> str:
    """Four significant digits (``1080``, ``13.30``, ``0.052``); counts at most one decimal."""
    if value == 0:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    if is_count:
        decimals = min(decimals, 1 if value != int(value) else 0)
    return f"{value:,.{min(decimals, 6)}f}"


def metric_unit(name: str, values: Sequence[float | None]) -> tuple[str, float]:
    """The unit a column of metric ``name`` is shown in, and what one of it is worth."""
    unit = metric(name).unit
    if unit == "s":
        return "ms", 1e-3
    if unit == "bytes":
        largest = max((abs(v) for v in values if v is not None), default=0.0)
        return ("MiB", float(1 << 20)) if largest >= 10 * (1 << 20) else ("KiB", 1024.0)
    return "", 1.0


def metric_columns(
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    cell: Callable[[str, Mapping[str, Any], float], str] | None = None,
) -> list[Column]:
    """A column per metric of ``names`` over ``rows`` (each a mapping metric -> value).

    ``cell(name, row, scale)`` writes one cell (default: the row's value of ``name``,
    divided by ``scale``, in four significant digits).
    """

    def plain(name: str, row: Mapping[str, Any], scale: float) -> str:
        value = row.get(name)
        if value is None:
            return MISSING
        return short_number(value / scale, metric(name).is_count and scale == 1.0)

    write = cell or plain
    columns = []
    for name in names:
        unit, scale = metric_unit(name, [r.get(name) for r in rows])
        heading = f"{metric(name).column} {unit}".strip()
        columns.append(Column(heading, tuple(write(name, row, scale) for row in rows)))
    return columns
