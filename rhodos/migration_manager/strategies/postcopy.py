"""Post-copy: the modern lazy strategy (Hines & Gopalan, VEE 2009).

Freeze, move the state and the page map, resume at once; the source then pushes the
pages in the background (``push_rate`` pages per second in batches of ``push_batch``;
0 means as fast as the network allows) while faults on pages not yet pushed fetch them
on demand. The residual dependency on the source ends when the push does.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy, non_negative, positive


@register
@attrs.frozen
class Postcopy(BaseStrategy):
    """Freeze; move state; resume; push pages in the background, fetch faults on demand."""

    name: ClassVar[str] = "postcopy"
    summary: ClassVar[str] = "freeze; move state; resume; push pages in the background"
    residual: ClassVar[str] = "source"

    #: Background push rate, pages per second (0: as fast as the network allows).
    push_rate: float = attrs.field(default=0.0, validator=non_negative)
    #: Pages per pushed batch (one flow each).
    push_batch: int = attrs.field(default=16, validator=positive)

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space()

    def cleanup(self, session: Session) -> Steps:
        yield from session.push(self.push_rate, self.push_batch)
        yield from session.source_released()
