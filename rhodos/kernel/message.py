"""Kernel messages, the requests they carry, and ports.

Every interaction between servers is a :class:`Message` sent to a :class:`Port`; its
body is a :class:`Request` (a frozen attrs class declared in the receiving server's
``requests`` module), whose type selects the handler in the server's dispatch table,
or the reply to one. A port
lives on one node; the cluster's naming service maps port ids to nodes. A message's
``size_bytes`` is its payload on the wire and ``traffic`` the kind its bytes are booked
under (``control``, ``state``, ``pages``, ``user``, ``forwarded``, ``flush``, ``home``), and
``account`` the process on whose behalf it travels (``None`` for the system's own), so
a migration's bytes can be told from everything else on the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import simpy

__all__ = [
    "TRAFFIC_KINDS",
    "Failure",
    "Message",
    "Port",
    "Request",
    "RequestFailed",
    "UserMessage",
]

#: The kinds network bytes and messages are accounted under.
TRAFFIC_KINDS = ("control", "state", "pages", "user", "forwarded", "flush", "home", "files")


class Request:
    """Base of every request a server handles; subclasses are ``@attrs.frozen`` classes.

    The request's type selects its handler (as a call number does in MINIX's
    ``table.c``). ``kind`` names it in the event log and the traces: the class name in
    snake case (``SendPages`` -> ``send_pages``) unless the class sets its own.
    """

    __slots__ = ()
    kind: ClassVar[str] = "request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            cls.kind = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


@attrs.frozen
class Message:
    """A kernel message: a :class:`Request` (its ``kind`` is the request's) or a ``reply``."""

    kind: str
    dst: int
    msg_id: int
    body: Any = None
    size_bytes: int = 64
    traffic: str = "control"
    reply_to: int | None = None
    account: int | None = None


@attrs.frozen
class Failure:
    """The reply to a request its server met in a state where it cannot be carried out.

    A handler that raises does not take the simulation down: its server logs the error
    (``handler-error``) and answers the caller with this body, naming the request and
    the error, so that the caller can end what it was doing with a clear record (a
    migration records it as failed, a process is reported lost).
    """

    request: str
    reason: str
    #: The node whose crash made the request fail (``None``: not a crash).
    crashed: int | None = None

    def __str__(self) -> str:
        return f"{self.request} failed: {self.reason}"


class RequestFailed(RuntimeError):
    """Raised where a request/reply call gets a :class:`Failure` back: what the caller was
    doing cannot go on either (its own server answers its caller with a failure in turn,
    a thread reports its process lost, a migration records that it failed)."""

    def __init__(self, failure: Failure) -> None:
        # The failure is the one argument: simpy re-raises an exception in the process
        # that waited on it as ``type(error)(*error.args)``.
        super().__init__(failure)
        self.failure = failure

    def __str__(self) -> str:
        return str(self.failure)


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
    """A kernel port on one node, owned by a server or a process.

    Messages to it either wait in its ``mailbox`` until taken with :meth:`get`, or, when
    the port has a ``receiver`` (a server's dispatch, the answer slot of a call), are
    handed to the receiver the moment they are delivered: no mailbox, no waiting loop.
    """

    port_id: int
    node_id: int
    owner: str
    mailbox: simpy.Store | None = None
    receiver: Callable[[Message], None] | None = None

    def get(self) -> simpy.events.Event:
        """The event of the next message arriving at this port (a port with a mailbox)."""
        if self.mailbox is None:
            raise RuntimeError(f"port {self.port_id} ({self.owner}) hands its messages over")
        return self.mailbox.get()

    def put(self, message: Message) -> None:
        """Deliver ``message`` to this port."""
        if self.receiver is not None:
            self.receiver(message)
        else:
            assert self.mailbox is not None
            self.mailbox.put(message)
