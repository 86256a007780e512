"""Strategies broken on purpose: the checkers and the fuzzer must catch them.

A test that a checker finds a defect needs a defect. These strategies are not
registered: register one for the test (:func:`rhodos.migration_manager.register`) and
unregister it afterwards.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager import BaseStrategy, Session, Steps

__all__ = ["DropsThePages", "LeavesTheFiles", "SpinsAtOneInstant"]


@attrs.frozen
class DropsThePages(BaseStrategy):
    """Sends the page map, then lets the source drop every page: each page is lost."""

    name: ClassVar[str] = "drops-the-pages"
    summary: ClassVar[str] = "page map only; the source drops the pages (broken on purpose)"
    residual: ClassVar[str] = "none"

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space()


@attrs.frozen
class LeavesTheFiles(BaseStrategy):
    """Moves everything but the open files: they stay on the node the process left."""

    name: ClassVar[str] = "leaves-the-files"
    summary: ClassVar[str] = "eager, but the open files stay behind (broken on purpose)"
    residual: ClassVar[str] = "none"

    def files(self, session: Session) -> Steps:
        return
        yield


@attrs.frozen
class SpinsAtOneInstant(BaseStrategy):
    """After the freeze it waits for nothing, for ever: simulated time stops."""

    name: ClassVar[str] = "spins-at-one-instant"
    summary: ClassVar[str] = "loops at one simulated instant (broken on purpose)"
    residual: ClassVar[str] = "none"

    def transfer(self, session: Session) -> Steps:
        while True:
            yield session.env.timeout(0)
