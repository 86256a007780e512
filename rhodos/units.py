"""Sizes as people write them: ``parse_size("4MiB")`` and its inverse, :func:`format_size`.

Binary units (KiB, MiB, GiB: powers of 1024) and decimal ones (KB, MB, GB: powers of
1000), any case, with or without a space; a bare number is bytes. This module imports
nothing of rhodos, so every layer may use it.
"""

from __future__ import annotations

import re

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1,
    "b": 1,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
}


def parse_size(text: str | int) -> int:
    """Bytes from ``4096``, ``100KiB``, ``4MiB``, ``1GiB`` (or decimal KB/MB/GB)."""
    if isinstance(text, int):
        return text
    raw = str(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", raw) if len(raw) < 99 else None
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"cannot read size {_shown(text)}: use bytes (4096) or a number with KiB, MiB, "
            "GiB (or KB, MB, GB), e.g. 100KiB, 4MiB, 1GiB"
        )
    value = float(match.group(1)) * _UNITS[unit]
    if value < 1:
        raise ValueError(f"size {text!r} must be at least one byte")
    if value >= 2**63:  # also an overflowed float: no memory is that large
        raise ValueError(f"size {_shown(text)} is too large: a size is below 2**63 bytes")
    return int(value)


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else f"{shown[:39]}…"


def format_size(size: int) -> str:
    """``size`` bytes as :func:`parse_size` reads them: ``256 KiB``, ``1.5 MiB``, ``2 GiB``;
    a size that is not whole KiB (or below 1 KiB) as its number of bytes."""
    if size < 1 << 10 or size % (1 << 10):
        return str(size)
    if size < 1 << 20:
        return f"{size >> 10} KiB"
    return f"{size / (1 << 20):g} MiB" if size < 1 << 30 else f"{size / (1 << 30):g} GiB"
