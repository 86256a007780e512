"""Kernel messages as the event log tells them, with who sent and who received each.

With the log's :attr:`~rhodos.kernel.EventLog.messages` on, every kernel message is
logged -- ``network`` ``send`` and ``arrive`` across nodes, ``kernel`` ``local`` within
one -- with the port it goes to, that port's owner and, for a request, the port its
answer will come to. :func:`read_messages` reads them back:

* the **receiver** of a message is the owner of its port: a server's role
  (``migration``, ``process``, ``ipc``, ``memory``, ``files``, ``file``), or, for a reply, the
  sender of the request it answers (the request named the reply's port);
* the **sender** of a request is the one its docstring names (:data:`SENDERS`:
  ``Migration Manager -> source Memory Manager``): the kernel knows which node sent a
  message, not which server; the sender of a reply is the receiver of its request.

A test checks that every request of rhodos has its sender here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from rhodos.kernel import LogEvent

__all__ = ["PEER", "SENDERS", "LoggedMessage", "read_messages"]

#: A request whose sender has the receiver's role: a server asking its peer.
PEER = "peer"

#: Who sends each request, by its kind (as the request's docstring says). ``free`` and
#: ``close`` come from the Process Manager when the process exits (booked to nobody),
#: from the Migration Manager otherwise.
SENDERS: dict[str, str] = {
    # the Process Manager's requests
    "spawn": "system",
    "suspend": "migration",
    "resume": "migration",
    "migrate_out": "migration",
    "install": PEER,  # the Process Managers' and the IPC Managers' own
    "departed": PEER,
    "status": "migration",
    "resumed": "process",
    "abandon": "migration",
    "capture": "migration",
    "restart": "recovery",
    # the Memory Manager's
    "create": "process",
    "fetch": PEER,
    "send_pages": "migration",
    "install_pages": PEER,
    "install_space": PEER,
    "export_space": "migration",
    "export_critical": "migration",
    "adopt": "process",
    "relocate": "migration",
    "push": "migration",
    "flush": "migration",
    "describe": "migration",
    "wait_released": "migration",
    "free": "migration",
    "release": PEER,
    "select": "migration",
    "invalidate": "migration",
    # the IPC Manager's
    "open": "process",
    "close": "migration",
    "deliver": PEER,
    "hold": "migration",
    "expect": "migration",
    "location": PEER,
    "stop_expecting": "migration",
    "unhold": "migration",
    "orphaned": "migration",
    "checkpointed": "migration",
    "ack": PEER,
    "nack": PEER,
    "relocated": "recovery",
    # the Migration Manager's
    "migrate": "system",
    "negotiate": PEER,
    "migrated": PEER,
    "call_off": PEER,
    "checkpoint": "system",
    # the recovery manager's (crashes: rhodos.faults)
    "heartbeat": "kernel",
    "node_crashed": "recovery",
    "process_failed": "process",
    "log_receive": "ipc",
    # the Load Manager's (the trader and a central load server are Load Managers too)
    "configure": "system",
    "exec": "system",
    "remote_exec": PEER,
    "load_report": PEER,
    "probe": PEER,
    "least_loaded": PEER,
    "export": PEER,
    "import": PEER,
    "pull": PEER,
    "handover": PEER,
    # the File Manager's
    "close_all": "process",
    "migrate_files": "migration",
    "install_files": PEER,
    "where": "recovery",
    # the file server's
    "write": "memory",
    "read": "memory",
    "forget": "memory",
    "write_blocks": "files",
    "file_rpc": "files",
    "store-checkpoint": "migration",
    "read-checkpoint": "recovery",
    # a thread's traps
    "fault": "thread",
    "send": "thread",
    "receive": "thread",
    "cancel_receive": "thread",
    "home_call": "thread",
    "file_call": "thread",
    "exited": "thread",
}

#: The receiver of a message sent to a port no server owns, by the port's owner.
_PORT_OWNERS = {"migration-notify": "migration"}


@attrs.define(eq=False)
class LoggedMessage:
    """A kernel message as the log tells it: its nodes, times, ports, and the roles
    (``migration``, ``memory``..., ``thread``) of its sender and receiver."""

    msg: int
    kind: str
    src: int
    dst: int
    sent: float
    arrived: float | None
    to: str | None
    port: int
    reply_to: int | None
    account: int | None
    traffic: str
    bytes: int
    request: LoggedMessage | None = None
    src_role: str | None = None
    dst_role: str | None = None


def read_messages(events: Iterable[LogEvent]) -> list[LoggedMessage]:
    """Every message the log names, local and remote, in the order they were sent, each
    with its sender's and receiver's roles, and a reply with its request."""
    found: dict[int, LoggedMessage] = {}
    for e in events:
        f = dict(e.fields)
        if (e.component, e.event) == ("kernel", "local"):
            found[f["msg"]] = LoggedMessage(
                f["msg"], f["kind"], e.node, e.node, f["sent"], e.time, f["to"], f["port"],
                f["reply_to"], f["account"], "local", 64,
            )  # fmt: skip
        elif (e.component, e.event) == ("network", "send") and "port" in f:
            found[f["msg"]] = LoggedMessage(
                f["msg"], f["kind"], e.node, f["dst"], e.time, None, f["to"], f["port"],
                f["reply_to"], f["account"], f["traffic"], f["bytes"],
            )  # fmt: skip
        elif (e.component, e.event) == ("network", "arrive") and f["msg"] in found:
            found[f["msg"]].arrived = e.time
    messages = sorted(found.values(), key=lambda m: (m.sent, m.msg))
    _roles(messages)
    return messages


def _roles(messages: list[LoggedMessage]) -> None:
    """Who sent and who received each message (see :data:`SENDERS`)."""
    asked = {m.reply_to: m for m in messages if m.reply_to is not None}
    for m in messages:
        if m.kind == "reply":
            m.request = asked.get(m.port)
            continue
        m.dst_role = _PORT_OWNERS.get(m.to or "", m.to)
        sender = SENDERS.get(m.kind)
        if m.kind in ("free", "close") and m.account is None:
            sender = "process"  # at the process's exit
        m.src_role = m.dst_role if sender == PEER else sender
    for m in messages:
        if m.request is not None:
            m.src_role, m.dst_role = m.request.dst_role, m.request.src_role
