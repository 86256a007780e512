"""Flushing: Sprite's strategy.

Freeze, flush the dirty pages to the file server, move the open files (their dirty
blocks flushed to the file server too), move the state, resume; the process faults its
pages in from the file server. The source is left with nothing: the file
server, which Sprite used as backing store anyway, holds every page.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import PageHolder, PageSet, Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy


@register
@attrs.frozen
class Flushing(BaseStrategy):
    """Freeze; flush dirty pages to the file server; resume; fault pages from it."""

    name: ClassVar[str] = "flushing"
    summary: ClassVar[str] = "freeze; flush dirty pages to the file server; fault from it (Sprite)"
    residual: ClassVar[str] = "none"
    file_blocks: ClassVar[str] = "flush"

    def transfer(self, session: Session) -> Steps:
        yield from session.flush(PageSet.DIRTY)
        yield from session.export_space(clean=PageHolder.FILE, dirty=PageHolder.FILE)
