"""The requests the kernel makes of the servers on behalf of a running process.

A thread traps to a server when its program needs something only a server can give:
a page that is not resident (the Memory Manager), a message sent or received (the IPC
Manager), a file opened, written or closed (the File Manager), a location-dependent
call or its own end (the Process Manager). The kernel imports no server, so these
requests are declared here, and the servers' dispatch tables list them beside the
requests of their own ``requests`` modules.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rhodos.kernel.message import Request

__all__ = [
    "CancelReceive",
    "FileCall",
    "HomeService",
    "PageFault",
    "ReceiveMessage",
    "SendMessage",
    "ThreadExited",
]


@attrs.frozen
class PageFault(Request):
    """Thread -> its node's Memory Manager: ``page`` is not resident; reply where it came from
    (``local``, ``remote`` or ``file``)."""

    kind: ClassVar[str] = "fault"

    pid: int
    page: int
    write: bool


@attrs.frozen
class SendMessage(Request):
    """Thread -> its node's IPC Manager: send ``size_bytes`` with ``body`` to process ``dst``;
    reply ``None`` (the sender does not wait for delivery)."""

    kind: ClassVar[str] = "send"

    src: int
    dst: int
    size_bytes: int
    body: Any = None


@attrs.frozen
class ReceiveMessage(Request):
    """Thread -> its node's IPC Manager: the next message for ``pid``; reply the
    :class:`~rhodos.kernel.UserMessage`, or ``"cancelled"``."""

    kind: ClassVar[str] = "receive"

    pid: int


@attrs.frozen
class CancelReceive(Request):
    """Thread -> its node's IPC Manager: withdraw ``pid``'s waiting receive (it is being
    frozen); reply ``"cancelled"``, or ``"none"`` when a message was already on its way."""

    pid: int


@attrs.frozen
class HomeService(Request):
    """Thread -> the Process Manager of the process's home node: a location-dependent call
    (``call`` names it) taking ``service_s``; reply ``call``, ``size_bytes`` long, booked as
    ``home`` traffic when the caller runs on another node."""

    kind: ClassVar[str] = "home_call"

    pid: int
    call: str
    service_s: float
    size_bytes: int
    caller: int


@attrs.frozen
class FileCall(Request):
    """Thread -> its node's File Manager: ``action`` (an :class:`~rhodos.kernel.OpenFile`,
    :class:`~rhodos.kernel.WriteFile` or :class:`~rhodos.kernel.CloseFile`) for ``pid``;
    reply the new descriptor (open), the bytes written (write) or ``None`` (close)."""

    kind: ClassVar[str] = "file_call"

    pid: int
    action: Any


@attrs.frozen
class ThreadExited(Request):
    """Thread -> its node's Process Manager: the program of ``pid`` ended (one-way); ``lost``
    says why it could not go on, when a server failed it (a page lost, say)."""

    kind: ClassVar[str] = "exited"

    pid: int
    lost: str | None = None
