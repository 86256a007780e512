"""Precopy: the V-system's (and Xen's) iterative copy while the process runs.

Copy the whole address space while the process keeps running, then copy again the
pages it dirtied meanwhile, round after round, until few enough remain
(``stop_pages``) or the rounds run out (``max_rounds``); then freeze, copy the rest and
the state, resume. The freeze covers only the last round; the total is longer.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import PageSet, Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy, non_negative, positive


@register
@attrs.frozen
class Precopy(BaseStrategy):
    """Copy while running, iterate on dirtied pages, freeze for the remainder."""

    name: ClassVar[str] = "precopy"
    summary: ClassVar[str] = "copy while running, iterate on dirtied pages, then freeze (V, Xen)"
    residual: ClassVar[str] = "none"

    #: Rounds while the process runs (the first copies everything).
    max_rounds: int = attrs.field(default=5, validator=positive)
    #: Stop iterating when at most this many pages were dirtied in the last round.
    stop_pages: int = attrs.field(default=8, validator=non_negative)

    def before_freeze(self, session: Session) -> Steps:
        yield from session.export_space()
        session.rounds.append((yield from session.send_pages(PageSet.RESIDENT, keep=True)))
        session.mark("round-1")
        while len(session.rounds) < self.max_rounds:
            info = yield from session.describe()
            if info.modified <= self.stop_pages:
                break
            session.rounds.append((yield from session.send_pages(PageSet.MODIFIED, keep=True)))
            session.mark(f"round-{len(session.rounds)}")

    def transfer(self, session: Session) -> Steps:
        session.rounds.append((yield from session.send_pages(PageSet.MODIFIED)))
