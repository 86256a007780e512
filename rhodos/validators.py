"""What a value may be: the validators every layer shares, and the hint for a misspelt name.

A :class:`Rule` is a condition on a value and the words that say it. Used as an
``attrs`` validator it raises :class:`ValueError` naming the field, what is allowed and
what it got (``dirty_rate must be >= 0, got -5.0``); :meth:`Rule.check` does the same for
a value that is not an attrs field, naming it as the caller says and raising the
caller's error class. Each word means one thing everywhere in rhodos:

======================== ===========================================================
``positive``             a number > 0
``non_negative``         a number >= 0
``fraction``             a number within [0, 1]
``positive_fraction``    a number within (0, 1] (some of it, at most all)
``within(low, high)``    a number within [low, high] (``above=True``: (low, high])
``one_of(choices)``      one of the choices
======================== ===========================================================

A number is an int or a float (numpy's too), never a bool, and always finite: NaN and
the infinities are no number a rule accepts (an infinite CPU time or dirty rate is no
quantity a simulation can reach; the error then says "finite"). ``within`` gives a
quantity its physically sensible range, each bound written as people read it (``1e6``,
not ``1000000.0``). This module imports nothing of rhodos, so the kernel may use it as
well as the servers, the workloads and the experiments.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import attrs

__all__ = [
    "Rule",
    "did_you_mean",
    "fraction",
    "is_number",
    "non_negative",
    "one_of",
    "positive",
    "positive_fraction",
    "shown",
    "within",
]


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    # An int of any size is finite; math.isfinite would overflow converting a huge one.
    return isinstance(value, numbers.Integral) or math.isfinite(value)


def is_number(value: Any) -> bool:
    """A finite int or float (numpy's included), not a bool."""
    return _real(value) and _finite(value)


@attrs.frozen
class Rule:
    """A condition a value must meet (``holds``) and the words that say it (``words``);
    ``numeric`` rules hold for numbers only, and say so to a value of another type."""

    words: str
    holds: Callable[[Any], bool]
    numeric: bool = False

    def check(self, subject: str, value: Any, error: type[ValueError] = ValueError) -> None:
        """Raise ``error("<subject> must be <words>, got <value>")`` unless the rule holds
        (``must be a number <words>, got 'abc' (text)`` for a value that is no number,
        ``must be finite and <words>`` for NaN or an infinity)."""
        if self.holds(value):
            return
        if self.numeric and not _real(value):
            kind = "text" if isinstance(value, str) else f"a {type(value).__name__}"
            raise error(f"{subject} must be a number {self.words}, got {shown(value)} ({kind})")
        finite = "finite and " if _real(value) and not _finite(value) else ""
        raise error(f"{subject} must be {finite}{self.words}, got {shown(value)}")

    def __call__(self, _instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        """The rule as an attrs validator: the error names the field."""
        self.check(attribute.name, value)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error line: a long one cut short, a huge integer by its size.

    Input may hold a 5,000-digit integer or a megabyte string; the line that refuses it
    stays one short line (and Python will not even ``repr`` an int over 4,300 digits).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {round(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _number_that(condition: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: is_number(value) and bool(condition(value))


positive = Rule("> 0", _number_that(lambda v: v > 0), numeric=True)
non_negative = Rule(">= 0", _number_that(lambda v: v >= 0), numeric=True)
fraction = Rule("within [0, 1]", _number_that(lambda v: 0 <= v <= 1), numeric=True)
positive_fraction = Rule("within (0, 1]", _number_that(lambda v: 0 < v <= 1), numeric=True)


def _bound(value: float) -> str:
    """A bound as people write it: ``0``, ``0.5``, ``1e6``, ``32766``, ``1e-3``."""
    if float(value).is_integer() and abs(value) < 1e5:
        return str(int(value))
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def within(
    low: float, high: float, unit: str = "", *, above: bool = False, words: str | None = None
) -> Rule:
    """A number within ``[low, high]`` (``above``: strictly above ``low``), in ``unit``.

    The words name the unit after the interval (``within (0, 1e6] s``), so that the
    error says what is allowed in the units the value is written in; ``words`` replaces
    them where the bounds read better otherwise (``within [1 byte, 1 TiB]``).
    """
    opening = "(" if above else "["
    if words is None:
        words = f"within {opening}{_bound(low)}, {_bound(high)}]" + (f" {unit}" if unit else "")
    if above:
        return Rule(words, _number_that(lambda v: low < v <= high), numeric=True)
    return Rule(words, _number_that(lambda v: low <= v <= high), numeric=True)


def one_of(choices: Iterable[Any]) -> Rule:
    """The value is one of ``choices`` (listed in the error, quoted)."""
    allowed = tuple(choices)
    return Rule(f"one of {', '.join(map(repr, allowed))}", lambda value: value in allowed)


def did_you_mean(name: str, candidates: Iterable[str], show: Callable[[str], str] = repr) -> str:
    """A ``" (did you mean 'x'?)"`` hint for ``name`` among ``candidates``, or ``""``.

    ``show`` writes the candidate (default: quoted; a TOML table is shown as ``[x]``).
    """
    close = difflib.get_close_matches(str(name), list(candidates), n=1)
    return f" (did you mean {show(close[0])}?)" if close else ""
