"""Copy-on-reference: Accent's lazy copy (and RHODOS's lazy strategy).

Freeze, send the state and the page map only, resume; every page is fetched from the
source the first time the process touches it (one request/reply, plus ``prefetch``
following pages). The latency no longer depends on the address-space size; the source
keeps serving pages until every page has been fetched or the process exits.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.migration_manager.registry import register
from rhodos.migration_manager.session import Session, Steps
from rhodos.migration_manager.strategy import BaseStrategy, non_negative


@register
@attrs.frozen
class CopyOnReference(BaseStrategy):
    """Freeze; move the state and page map; pages follow on first touch."""

    name: ClassVar[str] = "copy-on-reference"
    summary: ClassVar[str] = "freeze; move state + page map; fetch pages on first touch (Accent)"
    residual: ClassVar[str] = "source"

    #: Pages fetched after the faulting one, in address order, on each remote fault.
    prefetch: int = attrs.field(default=0, validator=non_negative)

    def transfer(self, session: Session) -> Steps:
        yield from session.export_space(prefetch=self.prefetch)

    def cleanup(self, session: Session) -> Steps:
        yield from session.source_released()
