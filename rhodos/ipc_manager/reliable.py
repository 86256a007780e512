"""Reliable channels: what the IPC Manager adds once crashes are expected.

Once crashes are expected (the kernel's failure detection is on), channels stay
exactly-once across a crash and a restart from a checkpoint:

* every message a process takes is first logged on stable storage (the recovery
  manager's journal on the file-server node, :class:`~rhodos.kernel.LogReceive`;
  pessimistic receiver-based logging), then acknowledged to its sender's IPC Manager
  (:class:`~rhodos.ipc_manager.requests.Ack`);
* the sender keeps every message until it is acknowledged, sends it again when it is
  not acknowledged within the detection's suspicion time (then twice as long each
  time), and at once when the recovery manager says that its receiver was restarted
  (:class:`~rhodos.ipc_manager.requests.Relocated`); a receiver recognises the copies it
  has by their sequence numbers and acknowledges them again;
* a message for a process that has ended for good is returned to its sender's IPC
  Manager (:class:`~rhodos.ipc_manager.requests.Nack`), which tells the sending process
  with an :class:`~rhodos.kernel.Undeliverable` notice in its mailbox;
* a checkpoint copies the process's communication state
  (:class:`~rhodos.ipc_manager.requests.Checkpointed`), and a restart begins from that
  copy and the messages logged since (:class:`~rhodos.ipc_manager.requests.Open`).

Without detection none of this runs, and nothing is sent or waited for that was not
before.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from rhodos.ipc_manager.channel import CommState, Unacked
from rhodos.ipc_manager.requests import Ack, Checkpointed, Nack, Relocated
from rhodos.kernel import LogReceive, RequestFailed, Server, Undeliverable, UserMessage

__all__ = ["LOG_PATIENCE_S", "RESEND_BACKOFF", "ReliableChannels"]

#: A message not acknowledged is sent again after the detection's suspicion time, then
#: after twice as long each time, up to this many times that time.
RESEND_BACKOFF = 8
#: How long a receive waits for a crashed file server to log its message before the
#: message is handed over unlogged (recorded as ``unlogged``).
LOG_PATIENCE_S = 60.0


class ReliableChannels(Server):
    """The IPC Manager's acknowledgements, resending, message log and notices.

    The IPC Manager (:class:`~rhodos.ipc_manager.server.IPCManager`) holds the tables and
    routes the messages; this base class keeps what a sender must send again and tells
    who needs telling.
    """

    #: pid -> the communication state of each process on this node.
    comm: dict[int, CommState]
    #: pid -> the node a process was last heard of on.
    location: dict[int, int]
    #: Communication states of processes that exited with messages not acknowledged:
    #: the kernel keeps sending those until they are.
    exited: dict[int, CommState]
    _reliability: dict[str, int]
    _counts: dict[str, int]
    _resending: bool

    def _state(self, pid: int) -> Generator[simpy.events.Event, Any, CommState]:
        """The process's communication state, waiting for it if it is on its way."""
        raise NotImplementedError

    def _route(
        self,
        message: UserMessage,
        target: int,
        *,
        origin: int,
        traffic: str,
        since: float | None = None,
    ) -> None:
        """Send ``message`` towards ``target`` (this node: it arrives here)."""
        raise NotImplementedError

    def _checkpointed(self, req: Checkpointed) -> Generator[simpy.events.Event, Any, CommState]:
        """A copy of the process's communication state, for its checkpoint."""
        state = yield from self._state(req.pid)
        return state.checkpointed()

    def _log_taken(
        self, state: CommState, message: UserMessage
    ) -> Generator[simpy.events.Event, Any, None]:
        """Log ``message`` on stable storage before the process takes it."""
        index = state.receives
        if index < state.logged:
            return  # a restarted process takes again what the log holds already
        node = self.node
        began = float(self.env.now)
        while True:
            try:
                yield node.call(
                    node.role_port("recovery", node.file_server()),
                    LogReceive(state.pid, index, message),
                    size_bytes=64 + message.size_bytes,
                    traffic="flush",
                    account=state.pid,
                )
                break
            except RequestFailed:
                if self.env.now - began > LOG_PATIENCE_S:
                    self.log("unlogged", pid=state.pid, src=message.src_pid, seq=message.seq)
                    return
                yield self.env.timeout(self._resend_wait())
        state.logged = index + 1

    def _resend_wait(self) -> float:
        detection = self.node.detection
        return detection.suspicion_s if detection is not None else 1.0

    def _acknowledge(self, state: CommState, src: int) -> None:
        """Tell ``src``'s IPC Manager how far the process has taken its channel."""
        channel = state.inbound.get(src)
        if channel is None or channel.received == 0:
            return
        self._to_process(src, Ack(src, state.pid, channel.received))

    def _to_process(self, pid: int, request: Ack | Nack) -> None:
        """Send ``request`` to the IPC Manager of the node ``pid`` last committed to."""
        where = self.node.location_of(pid)
        if where is None:
            return
        if where != self.node.node_id:
            self.node.send(self.peer(where), request, account=pid)
        elif isinstance(request, Ack):
            self._ack(request)
        else:
            self._nack(request)

    def _sender(self, pid: int) -> CommState | None:
        return self.comm.get(pid) or self.exited.get(pid)

    def _ack(self, req: Ack) -> None:
        state = self._sender(req.src)
        sent = state.unacked.get(req.dst) if state is not None else None
        if state is None or sent is None:
            return  # it moved on, or it was acknowledged already
        for seq in [seq for seq in sent if seq <= req.upto]:
            del sent[seq]
        if not sent:
            del state.unacked[req.dst]
        if not state.unacked and self.exited.get(req.src) is state:
            del self.exited[req.src]

    def _keep(self, state: CommState, message: UserMessage) -> None:
        """Keep ``message`` until it is acknowledged."""
        wait = self._resend_wait()
        sent = state.unacked.setdefault(message.dst_pid, {})
        sent[message.seq] = Unacked(message, float(self.env.now) + wait, wait)
        self._watch_unacked()

    def _watch_unacked(self) -> None:
        if not self._resending:
            self._resending = True
            self.env.process(self._resender())

    def _resender(self) -> Generator[simpy.events.Event, Any, None]:
        """Send again what is not acknowledged in time, while anything is not."""
        while not self.node.crashed:
            states = [*self.comm.values(), *self.exited.values()]
            if not any(state.unacked for state in states):
                break
            yield self.env.timeout(self._resend_wait())
            now = float(self.env.now)
            for state in [*self.comm.values(), *self.exited.values()]:
                self._resend_due(state, now)
        self._resending = False

    def _resend_due(self, state: CommState, now: float, *, to: int | None = None) -> None:
        """Send again the messages of ``state`` that are due (``to``: every one to that pid)."""
        limit = RESEND_BACKOFF * self._resend_wait()
        for dst in sorted(state.unacked):
            if to is not None and dst != to:
                continue
            for seq in sorted(state.unacked.get(dst, {})):
                unacked = state.unacked.get(dst, {}).get(seq)
                if unacked is None or (to is None and unacked.due > now):
                    continue
                unacked.wait = min(2 * unacked.wait, limit)
                unacked.due = now + unacked.wait
                self._resend(unacked.message)
        if state.unacked:
            self._watch_unacked()

    def _resend(self, message: UserMessage) -> None:
        dst = message.dst_pid
        if self.node.exit_event(dst).triggered:
            self._nack(Nack(message, f"process {dst} has ended"))
            return
        where = self.location.get(dst, self.node.location_of(dst))
        if where is None:
            return
        self._reliability["resent"] += 1
        self.log("resend", src=message.src_pid, dst=dst, seq=message.seq, to=where)
        self._route(message, where, origin=self.node.node_id, traffic="user")

    def _misdirected(self, message: UserMessage, origin: int, since: float | None) -> bool:
        """A message for a process not here: forward it where the naming service says
        the process lives, or return it when the process has ended; ``False``: drop it
        (it is not anywhere yet, and its sender will send it again)."""
        pid = message.dst_pid
        if self.node.exit_event(pid).triggered:
            self._to_process(message.src_pid, Nack(message, f"process {pid} has ended"))
            return True
        where = self.node.location_of(pid)
        if where is None or where == self.node.node_id:
            return False
        self._counts["forwarded"] += 1
        self.log("forward", src=message.src_pid, dst=pid, seq=message.seq, to=where)
        since = float(self.env.now) if since is None else since
        self._route(message, where, origin=origin, traffic="forwarded", since=since)
        return True

    def _nack(self, req: Nack) -> None:
        """``req.message`` will never be delivered: tell the process that sent it."""
        message = req.message
        state = self._sender(message.src_pid)
        sent = state.unacked.get(message.dst_pid) if state is not None else None
        if state is None or sent is None or sent.pop(message.seq, None) is None:
            return  # told already, or acknowledged
        if not sent:
            del state.unacked[message.dst_pid]
        self._reliability["bounced"] += 1
        self.log("bounce", src=message.src_pid, dst=message.dst_pid, seq=message.seq)
        if self.exited.get(message.src_pid) is state:
            if not state.unacked:
                del self.exited[message.src_pid]
            return  # the sender has exited: nobody to tell
        now = float(self.env.now)
        notice = UserMessage(
            message.dst_pid, message.src_pid, 0, 64, Undeliverable(message, req.why), now
        )
        state.deliver([notice], now)

    def _relocated(self, req: Relocated) -> None:
        """``req.pid`` was restarted (or lost): send it again what it has not acknowledged."""
        pid, now = req.pid, float(self.env.now)
        if req.node is not None:
            self.location[pid] = req.node
        for state in [*self.comm.values(), *self.exited.values()]:
            if pid not in state.unacked:
                continue
            if req.node is None:
                for seq in sorted(state.unacked[pid]):
                    self._nack(Nack(state.unacked[pid][seq].message, req.why))
            else:
                self._resend_due(state, now, to=pid)
