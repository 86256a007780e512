"""Eager-dirty copy: only the pages that differ from the file server move.

Freeze, send the dirty pages and the state, resume; clean pages are faulted in from
the file server, which already holds them. The only residual dependency is on the file
server, never on the source.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import PageHolder, PageSet, Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy


@register
@attrs.frozen
class EagerDirty(BaseStrategy):
    """Freeze; copy dirty pages and state; clean pages come later from the file server."""

    name: ClassVar[str] = "eager-dirty"
    summary: ClassVar[str] = "freeze; copy dirty pages; clean pages from the file server"
    residual: ClassVar[str] = "file-server"

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space(clean=PageHolder.FILE, dirty=PageHolder.SOURCE)
        yield from session.send_pages(PageSet.DIRTY)
