"""Kernel messages and ports.

Every interaction between servers is a :class:`Message` sent to a :class:`Port`. A port
lives on one node; the cluster's naming service maps port ids to nodes. A message's
``size_bytes`` is its payload on the wire and ``traffic`` the kind its bytes are booked
under (``control``, ``state``, ``pages``, ``user``, ``forwarded``, ``flush``, ``home``), and
``account`` the process on whose behalf it travels (``None`` for the system's own), so
a migration's bytes can be told from everything else on the network.
"""

from __future__ import annotations

from typing import Any

import attrs
import simpy

__all__ = ["TRAFFIC_KINDS", "Message", "Port", "UserMessage"]

#: The kinds network bytes and messages are accounted under.
TRAFFIC_KINDS = ("control", "state", "pages", "user", "forwarded", "flush", "home")


@attrs.frozen
class Message:
    """A kernel message: ``kind`` selects the handler in the receiving server's dispatch table."""

    kind: str
    dst: int
    msg_id: int
    body: Any = None
    size_bytes: int = 64
    traffic: str = "control"
    reply_to: int | None = None
    account: int | None = None


@attrs.frozen
class UserMessage:
    """A message between two processes, as the IPC Manager carries and delivers it.

    ``seq`` numbers the messages of one sender -> receiver channel from 1, so the
    receiving IPC Manager can deliver them in order, exactly once, whatever paths
    (forwarding, migration) they took.
    """

    src_pid: int
    dst_pid: int
    seq: int
    size_bytes: int
    body: Any = None
    sent_at: float = 0.0


@attrs.define(eq=False)
class Port:
    """A kernel port: a mailbox on one node, owned by a server or a process."""

    port_id: int
    node_id: int
    owner: str
    mailbox: simpy.Store

    def get(self) -> simpy.events.Event:
        """The event of the next message arriving at this port."""
        return self.mailbox.get()
