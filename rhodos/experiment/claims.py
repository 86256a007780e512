"""Claims: a paper's figure, the expression that computes ours, and the row that judges them.

A :class:`Claim` (one ``[[claims]]`` table of an experiment) names a figure of a paper,
its unit, the paper's value and how to compare: ``equal`` (within ``tolerance_pct``),
``at_least`` or ``at_most`` (a bound), or ``trend`` (a series that must be
``decreasing`` or ``increasing``). Its ``value`` is an expression over the experiment's
runs (see :mod:`rhodos.experiment.expression`). :func:`judge` compares, and each claim
becomes a :class:`Row` of the reproduction table, rendered by :func:`row_cells` and
:func:`render_rows` (the format of every ``expected.txt``).

Every claim says what it is, so that a match means what it says:

* ``role``: ``calibration`` (the profile was fitted to this figure: a match shows the
  fit worked, nothing more) or ``prediction``.
* ``basis``: ``paper`` (the paper states the figure, in numbers or in words that fix it:
  "19.9 ms", "an order of magnitude"); ``interpretation`` (the paper's sentence is
  qualitative and the threshold is ours: "substantially" read as "at least halves");
  ``construction`` (true by how the model is built, whatever the profile: shown to
  teach how the model works, never counted); ``none`` (the paper gives no figure: the
  row shows what the model predicts, unchecked).

:func:`tally` counts predictions only; calibrations and construction rows are listed
apart and never counted.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "BASES",
    "COLUMNS",
    "COMPARES",
    "ROLES",
    "Claim",
    "ExperimentError",
    "Row",
    "Tally",
    "check_claim",
    "counted",
    "format_value",
    "judge",
    "paper_text",
    "render_rows",
    "row_cells",
    "tally",
    "verdict",
]

#: What a figure did: the profile was fitted to it, or the model predicts it.
ROLES = ("calibration", "prediction")
#: Where the comparison comes from (see the module docstring).
BASES = ("paper", "interpretation", "construction", "none")
#: How the simulated value is compared with the paper's.
COMPARES = ("equal", "at_least", "at_most", "trend")
TRENDS = ("decreasing", "increasing")


class ExperimentError(ValueError):
    """An experiment folder or its TOML is invalid (the message says where and why)."""


def counted(role: str, basis: str) -> bool:
    """Whether a figure counts in the tally: a prediction checked against what a paper says."""
    return role == "prediction" and basis in ("paper", "interpretation")


@attrs.frozen
class Claim:
    """One figure of a paper and how to compute ours."""

    id: str
    metric: str
    unit: str
    value: str
    role: str
    basis: str
    paper: float | str | None = None
    tolerance_pct: float | None = None
    compare: str = "equal"
    source: str = ""
    note: str = ""

    @property
    def counted(self) -> bool:
        """The claim counts in the tally: a prediction checked against a paper's figure."""
        return counted(self.role, self.basis)


def check_claim(claim: Claim, where: str) -> None:
    """Refuse a claim whose parts do not fit together (the error says where and why)."""

    def refuse(why: str) -> ExperimentError:
        return ExperimentError(f"{where} (claim {claim.id!r}): {why}")

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", str(claim.id)):
        raise refuse("id must be lower-case letters, digits and dashes, e.g. 'latency'")
    for key, allowed in (("role", ROLES), ("basis", BASES), ("compare", COMPARES)):
        if getattr(claim, key) not in allowed:
            raise refuse(f"{key} must be one of {', '.join(allowed)}")
    if (claim.paper is None) != (claim.basis == "none"):
        raise refuse(
            "basis 'none' is for a claim with no paper value, and a claim with no paper "
            "value has basis 'none'"
        )
    if claim.compare == "trend":
        if claim.paper is not None and claim.paper not in TRENDS:
            raise refuse(f"a trend's paper value is one of {', '.join(TRENDS)}")
    elif claim.paper is not None and (
        isinstance(claim.paper, bool | str) or not isinstance(claim.paper, int | float)
    ):
        raise refuse("paper must be a number (or a trend with compare = 'trend')")
    if claim.role == "calibration" and (
        claim.basis != "paper" or claim.compare != "equal" or claim.paper is None
    ):
        raise refuse(
            "a calibration is a figure the paper states (basis 'paper', compare 'equal', a "
            "paper value): a profile is fitted to measurements, not to a reading"
        )
    if claim.basis == "construction" and claim.role != "prediction":
        raise refuse("a figure true by construction cannot calibrate anything")


@attrs.frozen
class Row:
    """One line of the reproduction table."""

    experiment: str
    id: str
    metric: str
    unit: str
    paper: float | str | None
    simulated: float | str
    deviation_pct: float | None
    tolerance_pct: float | None
    role: str
    basis: str
    within: bool | None
    compare: str = "equal"
    note: str = ""

    @property
    def counted(self) -> bool:
        """The row counts in the tally (a prediction checked against a paper's figure)."""
        return counted(self.role, self.basis)

    def as_dict(self) -> dict[str, Any]:
        """The row as the JSON object ``rhodos reproduce --json`` prints (all but the note)."""
        return attrs.asdict(self, filter=attrs.filters.exclude(attrs.fields(Row).note))


@attrs.frozen
class Tally:
    """How the predictions fared; calibrations and construction rows apart, never counted."""

    within: int
    within_interpretation: int
    missed: int
    missed_interpretation: int
    unchecked: int
    calibrations: int
    construction: int

    def text(self) -> str:
        """The tally as the ``rhodos reproduce`` output and the README print it."""

        def ours(count: int) -> str:
            return f" ({count} on a threshold we read into a sentence)" if count else ""

        return (
            f"Predictions: {self.within} within{ours(self.within_interpretation)}, "
            f"{self.missed} missed{ours(self.missed_interpretation)}, "
            f"{self.unchecked} unchecked (the paper gives no figure). "
            f"Not counted: {self.calibrations} calibrations (the profiles were fitted to "
            f"them) and {self.construction} figures true by construction (shown to teach)."
        )


def tally(rows: Sequence[Row]) -> Tally:
    """Count the rows: predictions within, missed and unchecked; the rest apart."""
    checked = [r for r in rows if r.counted and r.within is not None]
    return Tally(
        within=sum(1 for r in checked if r.within),
        within_interpretation=sum(1 for r in checked if r.within and r.basis != "paper"),
        missed=sum(1 for r in checked if not r.within),
        missed_interpretation=sum(1 for r in checked if not r.within and r.basis != "paper"),
        unchecked=sum(1 for r in rows if r.role == "prediction" and r.within is None),
        calibrations=sum(1 for r in rows if r.role == "calibration"),
        construction=sum(1 for r in rows if r.basis == "construction"),
    )


# -- the verdict ------------------------------------------------------------------------
def judge(claim: Claim, simulated: Any) -> tuple[Any, float | None, bool | None]:
    """What ``simulated`` shows against the claim: the value as the table shows it, its
    deviation from the paper in percent, and whether it is within (None: no verdict)."""
    try:
        return _judge(claim, simulated)
    except (TypeError, ValueError):
        raise ExperimentError(
            f"claim {claim.id!r}: {claim.value!r} gives {type(simulated).__name__} "
            f"{str(simulated)[:40]!r}, not "
            + ("a series of numbers" if claim.compare == "trend" else "a number")
        ) from None


def _judge(claim: Claim, simulated: Any) -> tuple[Any, float | None, bool | None]:
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
    """The within column: yes, MISSED, or what a match means when it is not a prediction's
    (``fitted``: a calibration; ``by construction``), or why there is no verdict."""
    if row.within is None:
        return "no paper value" if row.paper is None else "-"
    if not row.within:
        return "MISSED"
    return {"calibration": "fitted"}.get(
        row.role, "by construction" if row.basis == "construction" else "yes"
    )


#: The columns of the reproduction table.
COLUMNS = (
    "experiment",
    "metric",
    "unit",
    "paper",
    "simulated",
    "dev %",
    "tol %",
    "role",
    "basis",
    "within",
)


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
        row.basis,
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
