"""Checkpoint and restart: Condor's and LSF's migration.

Freeze the process, write a checkpoint of it -- every resident page -- to the file
server, and restart it on the destination from that checkpoint: the destination gets
the page map with every page on the file server, and its first page fault reads the
whole image back in one request. Nothing is left on the source; the price is that every
page crosses the network twice and the file server's disk once each way.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import PageHolder, PageSet, Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy


@register
@attrs.frozen
class CheckpointRestart(BaseStrategy):
    """Freeze; checkpoint every resident page to the file server; restart from it there."""

    name: ClassVar[str] = "checkpoint-restart"
    summary: ClassVar[str] = "freeze; checkpoint to the file server; restart from it (Condor)"
    residual: ClassVar[str] = "none"

    def transfer(self, session: Session) -> Steps:
        info = yield from session.describe()
        yield from session.flush(PageSet.RESIDENT)  # the checkpoint image
        yield from session.export_space(
            clean=PageHolder.FILE, dirty=PageHolder.FILE, prefetch=info.pages
        )
