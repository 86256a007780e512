"""Eager (total) copy: Charlotte, LOCUS, RHODOS's direct copy.

Freeze the process, send the whole address space, the communication state and the
execution state, resume. Nothing is left behind; the freeze lasts as long as the copy.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.strategy import BaseStrategy


@register
@attrs.frozen
class Eager(BaseStrategy):
    """Freeze; copy the whole address space and the state; resume."""

    name: ClassVar[str] = "eager"
    summary: ClassVar[str] = "freeze; copy everything; resume (Charlotte, LOCUS, RHODOS)"
    residual: ClassVar[str] = "none"
