"""The traces shipped with the package, in ``rhodos/workload/traces/``, and opening one by name.

``make traces`` records them again (:mod:`rhodos.workload.pagetrace.remake`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from rhodos.validators import did_you_mean
from rhodos.workload.pagetrace.format import PageTrace

__all__ = ["TRACES_DIR", "open_trace", "shipped_traces"]

#: Where the shipped traces live (package data).
TRACES_DIR = Path(__file__).resolve().parent.parent / "traces"


def shipped_traces() -> dict[str, Path]:
    """The shipped traces, by name (``sort`` for ``traces/sort.trace.npz``)."""
    return {p.name.split(".")[0]: p for p in sorted(TRACES_DIR.glob("*.trace.npz"))}


def open_trace(name_or_path: str | Path) -> PageTrace:
    """A shipped trace by name (``sqlite``), or a trace file by path; opened once per process.

    Raises:
        ValueError: neither a shipped name nor an existing file (the message lists the
            shipped names), or the file is not a page trace.
    """
    shipped = shipped_traces()
    if isinstance(name_or_path, str) and name_or_path in shipped:
        return _open(str(shipped[name_or_path]))
    path = Path(name_or_path)
    if path.is_file():
        return _open(str(path.resolve()))
    hint = did_you_mean(str(name_or_path), list(shipped))
    raise ValueError(
        f"unknown trace {str(name_or_path)!r}{hint}: not a shipped trace "
        f"({', '.join(shipped) or 'none'}) and no such file"
    )


@functools.lru_cache(maxsize=32)
def _open(path: str) -> PageTrace:
    return PageTrace(path)
