"""One precopy round, then postcopy: the hybrid of docs/how-to/new-strategy.md.

While the process runs, copy its whole address space to the destination once (a
precopy round). Freeze it; the pages it wrote during that round are stale at the
destination: read their numbers from the source, tell the destination to drop those
copies, and resume at once. Then move the stale pages in the background, while a fault
fetches any the process needs first (postcopy). The freeze no longer grows with what
the process writes; the residual dependency lasts until the stale pages have moved.

Load it without making a package: ``rhodos --plugin precopy_postcopy.py strategies``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager import BaseStrategy, PageSet, Session, Steps, register


@register
@attrs.frozen
class PrecopyPostcopy(BaseStrategy):
    """Copy everything while running; freeze; resume; move the pages dirtied meanwhile."""

    # The name it is chosen by (`rhodos migrate --strategy precopy-postcopy`).
    name: ClassVar[str] = "precopy-postcopy"
    # One line for `rhodos strategies`.
    summary: ClassVar[str] = "one precopy round; resume; the pages it dirtied follow"
    # The stale pages stay on the source until they have moved: a residual dependency.
    residual: ClassVar[str] = "source"

    # Steps not defined here keep BaseStrategy's: detach (hold messages, freeze),
    # redirect (move the communication state), resume (move the execution state, run).

    def before_freeze(self, session: Session) -> Steps:
        # The process runs: send the page map, then copy every page (keep: the source
        # keeps its copies and starts noting the pages written again: MODIFIED).
        yield from session.export_space()
        session.rounds.append((yield from session.send_pages(PageSet.RESIDENT, keep=True)))
        session.mark("round-1")

    def transfer(self, session: Session) -> Steps:
        # Frozen. The pages written since the round, as an array of page numbers...
        stale = yield from session.pages(PageSet.MODIFIED)
        # ...are stale at the destination: it drops them and will look for them at the
        # source. Nothing else moves before the resume.
        yield from session.invalidate(stale)
        session.mark(f"invalidated-{stale.size}")

    def cleanup(self, session: Session) -> Steps:
        # Resumed. Move the stale pages the process has not fetched yet, in one flow
        # (a page it fetched meanwhile is not resident at the source any more, and
        # overwrite=False keeps a page it has already written at the destination).
        moved = yield from session.send_pages(PageSet.MODIFIED, overwrite=False)
        session.rounds.append(moved)
        # The source drops its copies of the pages the destination already has; the
        # residual dependency ends there.
        yield from session.free_source()
