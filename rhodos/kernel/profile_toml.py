"""Machine profiles as TOML files: read through :mod:`tomllib`, written by hand.

A profile file is flat: two comment lines, then one ``key = value`` line per field, each
after a comment with the field's unit and meaning, then the ``[sources]`` table (field
-> where its value came from). Strings are TOML basic strings; floats are written with
``repr`` so they read back exactly. This module knows the format, not the profile:
:mod:`rhodos.kernel.profile` gives it the fields and builds the profile from what it reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from rhodos.paths import parse_toml, read_toml

__all__ = ["read", "read_builtins", "read_file", "write"]

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _scalar(value: str | int | float) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float):
        return repr(value)  # shortest repr round-trips exactly; inf/nan are refused earlier
    return str(value)


def read(text: str, origin: str, error: type[ValueError]) -> dict[str, Any]:
    """The tables of a profile file; ``error`` names ``origin`` when it is not TOML."""
    return parse_toml(text, origin, error)


def read_file(path: str | os.PathLike[str], error: type[ValueError]) -> dict[str, Any]:
    """The tables of the profile file at ``path``, read as data (:func:`rhodos.paths.read_toml`).

    Raises:
        error: the file cannot be read (missing, a folder, not UTF-8) or is not TOML;
            the message starts with the path.
    """
    return read_toml(path, error)


def read_builtins(error: type[ValueError]) -> list[tuple[str, dict[str, Any]]]:
    """``(origin, tables)`` of every file in ``rhodos/kernel/profiles/``, by file name."""
    folder = resources.files("rhodos.kernel") / "profiles"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            origin = f"rhodos/kernel/profiles/{entry.name}"
            found.append((origin, read(entry.read_text(encoding="utf-8"), origin, error)))
    return found


def write(
    name: str,
    fields: Sequence[tuple[str, str, str, str | int | float]],
    sources: Mapping[str, str],
    base: str | None = None,
) -> str:
    """The file of profile ``name``.

    Args:
        name: the profile's name, for the heading.
        fields: ``(field, unit, doc, value)`` in the order the file lists them.
        sources: field -> where its value came from, in the order the table lists them.
        base: the profile every field not listed comes from (``None``: every field is).
    """
    lines = [
        f"# rhodos machine profile {name!r}.",
        "# Units are SI: bytes, bits per second (bit/s), seconds (s).",
        "",
    ]
    if base is not None:
        lines += ["# Every field not given here is the base profile's.", f"base = {_string(base)}"]
    for field, unit, doc, value in fields:
        prefix = f"[{unit}] " if unit else ""
        lines.append(f"# {prefix}{doc}")
        lines.append(f"{field} = {_scalar(value)}")
    lines += ["", "[sources]"]
    lines += [f"{field} = {_string(text)}" for field, text in sources.items()]
    return "\n".join(lines) + "\n"
