"""The requests the IPC Manager handles, and its replies that carry several values.

The kernel's traps to it -- :class:`~rhodos.kernel.SendMessage`,
:class:`~rhodos.kernel.ReceiveMessage` and :class:`~rhodos.kernel.CancelReceive` -- are
declared in the kernel.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.ipc_manager.channel import CommState
from rhodos.kernel import Request, UserMessage

__all__ = [
    "Ack",
    "Checkpointed",
    "Close",
    "CommMoved",
    "Deliver",
    "Expect",
    "Hold",
    "Install",
    "Location",
    "MigrateOut",
    "Nack",
    "Open",
    "Orphaned",
    "Relocated",
    "StopExpecting",
    "Unhold",
]


@attrs.frozen(eq=False)
class Open(Request):
    """Process Manager -> IPC Manager: process ``pid`` starts here; reply ``None``.

    A process restarted from a checkpoint starts from the communication state the
    checkpoint holds (``checkpoint``, from :class:`Checkpointed`) and the messages it
    took since (``received``, from the message log, in order).
    """

    pid: int
    checkpoint: Any = None
    received: tuple[UserMessage, ...] = ()


@attrs.frozen
class Checkpointed(Request):
    """Migration Manager -> IPC Manager: a checkpoint of ``pid`` is being taken; reply a
    copy of its communication state (a :class:`~rhodos.ipc_manager.channel.CommState`)."""

    pid: int


@attrs.frozen
class Ack(Request):
    """Receiver's IPC Manager -> sender's IPC Manager: process ``dst`` has taken every
    message of the channel from ``src`` up to sequence number ``upto`` (one-way)."""

    src: int
    dst: int
    upto: int


@attrs.frozen(eq=False)
class Nack(Request):
    """IPC Manager -> the IPC Manager of a message's sender: ``message`` cannot be
    delivered (``why``: its receiver has ended); tell the sending process (one-way)."""

    message: UserMessage
    why: str


@attrs.frozen
class Relocated(Request):
    """Recovery manager -> every IPC Manager: process ``pid`` was restarted on ``node``
    (``None``: it was lost, and ``why``); send it again what it was sent and has not
    acknowledged, or tell the senders that it never will (one-way)."""

    pid: int
    node: int | None
    why: str = ""


@attrs.frozen
class Close(Request):
    """Process Manager (at exit) or Migration Manager (abort) -> IPC Manager: drop what is
    still queued or held for ``pid`` (waiting first for its state if that is on its way
    here); reply ``None``."""

    pid: int


@attrs.frozen
class Deliver(Request):
    """IPC Manager -> its peer: ``message`` arrives, first sent from node ``origin``
    (one-way); ``since``: when it first reached a node where it could be neither received
    nor queued where its process will run (``None``: it has not; a forwarded message
    has)."""

    message: UserMessage
    origin: int
    since: float | None = None


@attrs.frozen
class Hold(Request):
    """Migration Manager -> source IPC Manager: keep new arrivals for ``pid`` aside (the
    message freeze starts); reply the instant."""

    pid: int


@attrs.frozen
class Unhold(Request):
    """Migration Manager -> source IPC Manager: a migration rolled back; deliver what was
    held for ``pid`` here, in order, and stop holding (the message freeze ends); reply
    how many messages."""

    pid: int


@attrs.frozen
class Orphaned(Request):
    """Destination Migration Manager -> its IPC Manager: ``pid`` runs here, and its
    communication state, sent one-way by a source that crashed, will not come: start it
    from an empty one (what the source held for it was lost with it) and deliver what
    was queued here; reply whether the state was still awaited."""

    pid: int


@attrs.frozen
class Expect(Request):
    """Destination Migration Manager -> its IPC Manager: queue arrivals for ``pid``, which is
    not installed yet; reply ``None``."""

    pid: int


@attrs.frozen
class StopExpecting(Request):
    """Destination Migration Manager -> its IPC Manager: ``pid`` will not come (its
    migration was called off; it stays on node ``at``): pass on what was queued for it;
    reply how many messages."""

    pid: int
    at: int


@attrs.frozen
class MigrateOut(Request):
    """Migration Manager -> source IPC Manager: move ``pid``'s communication state and held
    messages to ``dest`` as one message (``oneway``: without waiting for the destination's
    acknowledgement, only for the kernel's delivery) and forward what arrives later;
    ``frozen_at``: when the process stopped running here (``None``: it was not frozen),
    from which instant, or the hold's if earlier, a message that reached its mailbox here
    was not where the process will run; reply :class:`CommMoved`."""

    pid: int
    dest: int
    oneway: bool = False
    frozen_at: float | None = None


@attrs.frozen(eq=False)
class Install(Request):
    """Source IPC Manager -> destination IPC Manager: ``pid``'s communication ``state`` and
    the ``held`` messages arrive; reply the instant they were installed.

    ``detached_at`` is when the source's mailbox stopped being where the process will run
    (its hold began, or the process was frozen): the message freeze runs from then until
    the installation. ``waiting_since`` holds, for each held message and each message
    queued in ``state`` after that instant, when it reached the source.
    """

    pid: int
    state: CommState
    held: list[UserMessage]
    detached_at: float = float("nan")
    waiting_since: tuple[float, ...] = ()


@attrs.frozen
class Location(Request):
    """IPC Manager -> the IPC Manager of a message's origin: ``pid`` now lives on ``node``
    (one-way)."""

    pid: int
    node: int


@attrs.frozen
class CommMoved:
    """The reply to :class:`MigrateOut`: bytes sent, messages held, when the state was sent,
    and when it was installed (NaN for a one-way move, whose reply comes once the state
    has reached the destination)."""

    bytes: int
    held: int
    installed_at: float
    sent_at: float = float("nan")
