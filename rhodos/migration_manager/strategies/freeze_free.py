"""Freeze free: Roush & Campbell's fast migration (ICDCS 1996).

No request/reply crosses the network in the latency period: the source blasts, in one
one-way message, the process control and execution state, the current code page, the
current heap page and the used part of the current stack page (from the stack pointer
to the page's end: as many bytes as the program has on that page); the destination
resumes the process the moment they arrive. The communication state moves separately,
after the resume, so messages keep being received throughout: they queue in the
process's mailbox, which moves with that state, and are never held. In parallel the
source flushes the modified pages to the file server, from the moment the blast has
been delivered: nothing in the algorithm waits for the destination's resume notice.
The rest is demand-paged -- from the source until the flush ends, from the file server
after. Open files move after the resume too, their dirty blocks flushed to the file
server; a file call at the destination waits for them.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import PageSet, Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy


@register
@attrs.frozen
class FreezeFree(BaseStrategy):
    """Blast the four critical items; resume; comm state and flush run in parallel."""

    name: ClassVar[str] = "freeze-free"
    summary: ClassVar[str] = "one-way blast of 4 critical items; resume; flush in parallel"
    residual: ClassVar[str] = "flush"
    file_blocks: ClassVar[str] = "flush"

    def run(self, session: Session) -> Steps:
        yield from session.freeze()
        bundle = yield from session.critical_bundle()
        yield from session.blast_state(bundle, meanwhile=self.flush(session))

    def flush(self, session: Session) -> Steps:
        """The old host flushes while the process resumes and runs on the new one; once
        the destination runs it, the pages left behind are on the file server."""
        yield from session.flush(PageSet.DIRTY)
        yield session.when("resumed")  # the destination holds the map it relocates
        yield from session.relocate_to_file()
        yield from session.free_source()

    def cleanup(self, session: Session) -> Steps:
        # Messages were never held: until the state moves they queue in the source's
        # mailbox, which travels with it; later ones are forwarded to the destination.
        session.in_background(session.move_comm(oneway=True))
        if session.has_open_files:
            session.in_background(session.move_files(self.file_blocks))
        return
        yield
