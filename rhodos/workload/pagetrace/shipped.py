"""The traces shipped with the package, in ``rhodos/workload/traces/``.

``make traces`` records them again (:mod:`rhodos.workload.pagetrace.remake`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TRACES_DIR", "shipped_traces"]

#: Where the shipped traces live (package data).
TRACES_DIR = Path(__file__).resolve().parent.parent / "traces"


def shipped_traces() -> dict[str, Path]:
    """The shipped traces, by name (``sort`` for ``traces/sort.trace.npz``)."""
    return {p.name.split(".")[0]: p for p in sorted(TRACES_DIR.glob("*.trace.npz"))}
