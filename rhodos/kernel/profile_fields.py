"""The kinds of field a machine profile has: what each value may be, its unit, its meaning.

:class:`~rhodos.kernel.profile.MachineProfile` declares each field once, as
``attrs.field(**helper(unit, validator, doc))`` with one of the helpers here:
:func:`number` (a float cost or rate), :func:`count` (an int), :func:`field` (anything
with its own validator). They return the keyword arguments of ``attrs.field`` rather than
the field itself, so that type checkers still see a field without a default. Each keeps
the field's unit
(``"bytes"``, ``"bit/s"``, ``"s"``, or ``""`` when dimensionless) and its one-sentence
meaning in the attrs metadata, from which the profile derives ``FIELD_UNITS``,
``FIELD_DOCS``, the comments of its TOML files and the ``rhodos profiles`` table. Every
validator raises :class:`ProfileError` naming the field, its unit, what is allowed and
the value given; ranges use the shared words of :mod:`rhodos.validators`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from rhodos.validators import Rule, did_you_mean, one_of, positive

__all__ = [
    "NAME",
    "TEXT",
    "ProfileError",
    "choice",
    "copy_sources",
    "count",
    "field",
    "number",
    "power_of_two",
    "source_map",
    "whole_pages",
]

_MIN_PAGE_SIZE = 256

_UNIT_WORDS = {
    "bytes": "bytes",
    "bit/s": "bits per second",
    "s": "seconds",
    "instructions/s": "instructions per second",
    "": "dimensionless",
}

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


class ProfileError(ValueError):
    """A machine profile's input is invalid: the message names the field and what is allowed."""


# -- the helpers that declare a field ----------------------------------------------------


def field(unit: str, validator: Validator, doc: str) -> dict[str, Any]:
    """A profile field: its ``unit``, its validator and its one-sentence ``doc``."""
    return {"validator": validator, "metadata": {"unit": unit, "doc": doc}}


def number(unit: str, rule: Rule, doc: str) -> dict[str, Any]:
    """A finite float meeting ``rule``; an int is accepted (TOML writes ``10`` for ``10.0``)."""
    return {**field(unit, _quantity(float, rule), doc), "converter": _int_to_float}


def count(unit: str, rule: Rule, doc: str) -> dict[str, Any]:
    """An int meeting ``rule``."""
    return field(unit, _quantity(int, rule), doc)


# -- validators and converters -------------------------------------------------------------


def _int_to_float(value: Any) -> Any:
    """Accept an int where a float is expected."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _quantity(kind: type[int] | type[float], rule: Rule) -> Validator:
    """An int, or a finite float, that meets ``rule`` (``positive`` or ``non_negative``)."""
    noun = "an integer" if kind is int else "a finite number"

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        unit = _UNIT_WORDS[attribute.metadata["unit"]]
        wrong_type = isinstance(value, bool) or not isinstance(value, kind)
        if wrong_type or (kind is float and not math.isfinite(value)):
            raise ProfileError(
                f"{attribute.name} must be {noun} ({unit}), got {type(value).__name__} {value!r}"
            )
        if not rule.holds(value):
            raise ProfileError(f"{attribute.name} must be {rule.words} ({unit}), got {value!r}")

    return validate


_POSITIVE_INT = _quantity(int, positive)


def power_of_two(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A page size: an int power of two, at least 256."""
    _POSITIVE_INT(instance, attribute, value)
    if value < _MIN_PAGE_SIZE or value & (value - 1):
        raise ProfileError(
            f"{attribute.name} must be a power of two >= {_MIN_PAGE_SIZE}, got {value!r}"
        )


def whole_pages(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A memory size: a positive multiple of the profile's page size."""
    _POSITIVE_INT(instance, attribute, value)
    if value % instance.page_size_bytes:
        raise ProfileError(
            f"{attribute.name} must be a multiple of page_size_bytes "
            f"({instance.page_size_bytes}), got {value!r}"
        )


def choice(choices: tuple[str, ...]) -> Validator:
    """One of ``choices``."""
    rule = one_of(choices)

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        rule.check(attribute.name, value, ProfileError)

    return validate


def _unicode(subject: str, text: str) -> None:
    """TOML files are UTF-8: a lone surrogate cannot be stored."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProfileError(f"{subject} must be valid Unicode text, got {text!r}") from None


def _text(*, is_name: bool) -> Validator:
    """A string that TOML can store: valid Unicode; non-empty and printable if a name."""

    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            raise ProfileError(
                f"{attribute.name} must be a string, got {type(value).__name__} {value!r}"
            )
        if is_name and (not value or not value.isprintable()):
            raise ProfileError(
                f"{attribute.name} must be a non-empty printable string, got {value!r}"
            )
        _unicode(attribute.name, value)

    return validate


NAME = _text(is_name=True)
TEXT = _text(is_name=False)


def source_map(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """The ``sources`` table: value field name -> valid Unicode text."""
    if not isinstance(value, dict):
        raise ProfileError(
            f"{attribute.name} must be a table of field name -> string, "
            f"got {type(value).__name__} {value!r}"
        )
    fields = [f.name for f in attrs.fields(type(instance)) if f.name != attribute.name]
    for key, text in value.items():
        if key not in fields:
            raise ProfileError(
                f"{attribute.name} names an unknown field {key!r}{did_you_mean(str(key), fields)}; "
                f"allowed: {', '.join(fields)}"
            )
        if not isinstance(text, str):
            raise ProfileError(
                f"{attribute.name}[{key!r}] must be a string, got {type(text).__name__} {text!r}"
            )
        _unicode(f"{attribute.name}[{key!r}]", text)


def copy_sources(value: Any) -> Any:
    """Keep a private copy of a sources mapping, so a profile never aliases caller data."""
    return dict(value) if isinstance(value, Mapping) else value
