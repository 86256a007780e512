"""The requests the recovery manager handles."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rhodos.kernel import Request

__all__ = ["HEARTBEAT_BYTES", "Heartbeat"]

#: Payload bytes of a heartbeat: the node id and its incarnation.
HEARTBEAT_BYTES = 16


@attrs.frozen
class Heartbeat(Request):
    """A node's kernel -> recovery manager: node ``node`` lives, in incarnation
    ``incarnation`` (one-way, every heartbeat interval)."""

    kind: ClassVar[str] = "heartbeat"

    node: int
    incarnation: int
