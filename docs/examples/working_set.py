"""A working-set strategy: the example of docs/how-to/new-strategy.md.

Freeze the process, send eagerly the pages it has referenced (its working set, as far
as the Memory Manager has seen it), and leave every other page to copy-on-reference.
The latency grows with the working set, not with the address space; few pages are
fetched remotely afterwards, because the ones the process uses are already there.

Register it by importing this module (the ``@register`` decorator), or from your own
package through the entry-point group ``rhodos.strategies``::

    [project.entry-points."rhodos.strategies"]
    working-set = "my_package.working_set:WorkingSet"
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager import (
    BaseStrategy,
    PageSet,
    Session,
    Steps,
    non_negative,
    register,
)


@register
@attrs.frozen
class WorkingSet(BaseStrategy):
    """Freeze; send the referenced pages; fetch the others on first touch."""

    # The name it is registered and chosen by (`rhodos migrate --strategy working-set`).
    name: ClassVar[str] = "working-set"
    # One line for `rhodos strategies`.
    summary: ClassVar[str] = "freeze; send the referenced pages; the rest on first touch"
    # The pages not sent stay on the source until fetched: a residual dependency.
    residual: ClassVar[str] = "source"

    # A parameter: pages fetched after each faulting one (like copy-on-reference's).
    prefetch: int = attrs.field(default=0, validator=non_negative)

    # Steps not defined here keep BaseStrategy's: detach (hold messages, freeze),
    # redirect (move the communication state), resume (move the execution state, run).

    def transfer(self, session: Session) -> Steps:
        # 1. The page map: every page the source holds will be found at the source.
        yield from session.export_space(prefetch=self.prefetch)
        # 2. The working set, in one flow; these pages leave the source.
        sent = yield from session.send_pages(PageSet.REFERENCED)
        session.mark(f"sent-{sent}-referenced")

    def cleanup(self, session: Session) -> Steps:
        # The residual dependency ends when the source has given away its last page
        # (or the process exits and releases it).
        yield from session.source_released()
