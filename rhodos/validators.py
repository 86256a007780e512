"""What a value may be: the validators every layer shares, and the hint for a misspelt name.

A :class:`Rule` is a condition on a value and the words that say it. Used as an
``attrs`` validator it raises :class:`ValueError` naming the field, what is allowed and
what it got (``dirty_rate must be >= 0, got -5.0``); :meth:`Rule.check` does the same for
a value that is not an attrs field, naming it as the caller says and raising the
caller's error class. Each word means one thing everywhere in rhodos:

==================== ================================
``positive``         a number > 0
``non_negative``     a number >= 0
``fraction``         a number within [0, 1]
``positive_fraction`` a number within (0, 1] (some of it, at most all)
``one_of(choices)``  one of the choices
==================== ================================

A number is an int or a float (numpy's too), never a bool; NaN is no number a rule
accepts. This module imports nothing of rhodos, so the kernel may use it as well as the
servers, the workloads and the experiments.
"""

from __future__ import annotations

import difflib
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
]


def is_number(value: Any) -> bool:
    """An int or a float (numpy's included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@attrs.frozen
class Rule:
    """A condition a value must meet (``holds``) and the words that say it (``words``);
    ``numeric`` rules hold for numbers only, and say so to a value of another type."""

    words: str
    holds: Callable[[Any], bool]
    numeric: bool = False

    def check(self, subject: str, value: Any, error: type[ValueError] = ValueError) -> None:
        """Raise ``error("<subject> must be <words>, got <value>")`` unless the rule holds
        (``must be a number <words>, got 'abc' (text)`` for a value that is no number)."""
        if self.holds(value):
            return
        if self.numeric and not is_number(value):
            kind = "text" if isinstance(value, str) else f"a {type(value).__name__}"
            raise error(f"{subject} must be a number {self.words}, got {value!r} ({kind})")
        raise error(f"{subject} must be {self.words}, got {value!r}")

    def __call__(self, _instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        """The rule as an attrs validator: the error names the field."""
        self.check(attribute.name, value)


def _number_that(condition: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: is_number(value) and bool(condition(value))


positive = Rule("> 0", _number_that(lambda v: v > 0), numeric=True)
non_negative = Rule(">= 0", _number_that(lambda v: v >= 0), numeric=True)
fraction = Rule("within [0, 1]", _number_that(lambda v: 0 <= v <= 1), numeric=True)
positive_fraction = Rule("within (0, 1]", _number_that(lambda v: 0 < v <= 1), numeric=True)


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
