"""Claims: a paper's figure, the expression that computes ours, and the row that judges them.

A :class:`Claim` (one ``[[claims]]`` table of an experiment) names a figure of a paper,
its unit, the paper's value and how to compare: ``equal`` (within ``tolerance_pct``),
``at_least`` or ``at_most`` (a bound the paper states), or ``trend`` (a series that must
be ``decreasing`` or ``increasing``). Its ``value`` is an arithmetic expression over
the experiment's runs, read by :func:`evaluate` (names, attributes, indexing, ``+ - *
/ **`` and a few functions; nothing else). :func:`judge` compares, and each claim
becomes a :class:`Row` of the reproduction table, rendered by :func:`row_cells` and
:func:`render_rows` (the format of every ``expected.txt``).
"""

from __future__ import annotations

import ast
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import attrs

__all__ = [
    "COLUMNS",
    "Claim",
    "ExperimentError",
    "Row",
    "evaluate",
    "format_value",
    "judge",
    "paper_text",
    "render_rows",
    "row_cells",
    "verdict",
]


class ExperimentError(ValueError):
    """An experiment folder or its TOML is invalid (the message says where and why)."""


@attrs.frozen
class Claim:
    """One figure of a paper and how to compute ours."""

    metric: str
    unit: str
    value: str
    role: str
    paper: float | str | None = None
    tolerance_pct: float | None = None
    compare: str = "equal"
    source: str = ""
    note: str = ""


@attrs.frozen
class Row:
    """One line of the reproduction table."""

    experiment: str
    metric: str
    unit: str
    paper: float | str | None
    simulated: float | str
    deviation_pct: float | None
    tolerance_pct: float | None
    role: str
    within: bool | None
    compare: str = "equal"
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row as the JSON object ``rhodos reproduce --json`` prints (all but the note)."""
        return attrs.asdict(self, filter=attrs.filters.exclude(attrs.fields(Row).note))


# -- the expressions and the verdict ---------------------------------------------------
def _values(series: Sequence[Any], attribute: str) -> list[Any]:
    return [getattr(item, attribute) for item in series]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "values": _values,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def evaluate(expression: str, names: dict[str, Any]) -> Any:
    """Evaluate a claim's arithmetic over the runs (names, attributes, [i], + - * / **, calls
    to min, max, abs, len and values(series, "attribute"))."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ExperimentError(
                    f"{expression!r}: no run called {node.id!r}; runs: {', '.join(names)}"
                )
            return names[node.id]
        if isinstance(node, ast.Attribute) and not node.attr.startswith("_"):
            return getattr(walk(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return walk(node.value)[walk(node.slice)]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function = _FUNCTIONS.get(node.func.id)
            if function is not None and not node.keywords:
                return function(*[walk(arg) for arg in node.args])
        raise ExperimentError(f"{expression!r}: {ast.dump(node)[:60]} is not allowed here")

    return walk(ast.parse(expression, mode="eval"))


def judge(claim: Claim, simulated: Any) -> tuple[Any, float | None, bool | None]:
    """What ``simulated`` shows against the claim: the value as the table shows it, its
    deviation from the paper in percent, and whether it is within (None: no verdict)."""
    if claim.compare == "trend":
        series = [float(v) for v in simulated]
        steps = [b - a for a, b in itertools.pairwise(series)]
        trend = (
            "decreasing"
            if all(s < 0 for s in steps)
            else "increasing"
            if all(s > 0 for s in steps)
            else "not monotonic"
        )
        shown = trend + " (" + ", ".join(f"{v:.3g}" for v in series) + ")"
        return shown, None, None if claim.paper is None else trend == claim.paper
    value = float(simulated)
    if claim.paper is None or isinstance(claim.paper, str):
        return value, None, None
    paper = float(claim.paper)
    deviation = 100.0 * (value - paper) / paper if paper else None
    if claim.compare == "at_least":
        return value, deviation, value >= paper
    if claim.compare == "at_most":
        return value, deviation, value <= paper
    tolerance = claim.tolerance_pct if claim.tolerance_pct is not None else 0.0
    if deviation is None:
        return value, None, value == paper
    return value, deviation, abs(deviation) <= tolerance


# -- rendering --------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A cell of the table: 4 significant digits for floats, ``-`` for nothing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def paper_text(row: Row) -> str:
    """The paper column: the value, with ``>=``/``<=`` for the bounds a paper states."""
    if row.paper is None:
        return "-"
    prefix = {"at_least": ">= ", "at_most": "<= "}.get(row.compare, "")
    return prefix + format_value(row.paper)


def verdict(row: Row) -> str:
    """The within column: yes, MISSED, or why there is no verdict."""
    if row.within is None:
        return "no paper value" if row.paper is None else "-"
    return "yes" if row.within else "MISSED"


#: The columns of the reproduction table.
COLUMNS = ("experiment", "metric", "unit", "paper", "simulated", "dev %", "tol %", "role", "within")


def row_cells(row: Row) -> tuple[str, ...]:
    """One row of the table as text, in :data:`COLUMNS` order."""
    return (
        row.experiment,
        row.metric,
        row.unit,
        paper_text(row),
        format_value(row.simulated),
        "-" if row.deviation_pct is None else f"{row.deviation_pct:+.1f}",
        format_value(row.tolerance_pct),
        row.role,
        verdict(row),
    )


def render_rows(rows: Sequence[Row]) -> str:
    """The table as plain text (the format of every ``expected.txt``)."""
    header = COLUMNS
    lines = [row_cells(r) for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    return "\n".join(out) + "\n"
