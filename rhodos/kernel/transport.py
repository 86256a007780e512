"""The cluster's message path: how a kernel message goes from one port to another.

A message moves by callbacks, one simpy event per step: on one node, a piece of local
IPC kernel work; between nodes, the sender's kernel work, the network flow's arrival,
then the receiver's kernel work. Each step checks what a crash may have done meanwhile
(:mod:`rhodos.kernel.failure`): a message whose sender crashed is lost with it; one to a
node that crashed, or rebooted, on its way, or to a port a crash closed, is reported
back to its sender's kernel after the transport's timeout. Kernels also probe each
other's liveness here.

:class:`Transport` is a part of :class:`~rhodos.kernel.Cluster`, which holds the state
it works on (ports, nodes, the network, the log and the ledger).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from rhodos.kernel.failure import Detection
from rhodos.kernel.later import Later, hold_back
from rhodos.kernel.ledger import TrafficLedger
from rhodos.kernel.log import EventLog
from rhodos.kernel.message import Failure, Message, Port
from rhodos.kernel.network import Network
from rhodos.kernel.profile import MachineProfile

if TYPE_CHECKING:
    from rhodos.kernel.node import Node

__all__ = ["PROBE_BYTES", "PROBE_PATIENCE", "PROBE_TRIES", "Transport"]

#: Payload bytes of a liveness probe and of its answer.
PROBE_BYTES = 64
#: How many network round trips a probe waits for its answer before it tries again.
PROBE_PATIENCE = 4
#: How many times a probe is sent before the node is taken for down.
PROBE_TRIES = 3


def _call_all(callbacks: list[Callable[[simpy.Event], None]], event: simpy.Event) -> None:
    for callback in callbacks:
        callback(event)


def _put(port: Port, msg: Message, _: simpy.Event) -> None:
    port.put(msg)


class Transport:
    """Kernel messages and probes between the ports and nodes of a cluster."""

    env: simpy.Environment
    profile: MachineProfile
    log: EventLog
    ledger: TrafficLedger
    network: Network
    detection: Detection | None
    undeliverable: Counter[str]
    _by_id: list[Node]
    _ports: dict[int, Port]
    _port_node: dict[int, int]
    _crashed_ports: dict[int, int]
    _next_msg: int

    def transmit(
        self,
        src_node: int,
        dst: int,
        kind: str,
        body: Any = None,
        *,
        size_bytes: int = 64,
        traffic: str = "control",
        reply_to: int | None = None,
        account: int | None = None,
    ) -> simpy.Event:
        """Send a message from ``src_node`` to port ``dst``; the event fires on delivery.

        The message moves by callbacks, one simpy event per step: on one node, a piece of
        local IPC kernel work; between nodes, the sender's kernel work, the network
        flow's arrival, then the receiver's kernel work. The event returned is the last
        step's own event (or a plain one when the message is dropped).
        """
        msg = Message(
            kind=kind,
            dst=dst,
            msg_id=self._next_msg,
            body=body,
            size_bytes=size_bytes,
            traffic=traffic,
            reply_to=reply_to,
            account=account,
        )
        self._next_msg += 1
        delivered = Later(self.env)
        src = self._by_id[src_node]
        dst_id = self._port_node.get(dst)
        if src.up and dst_id is None and dst in self._crashed_ports:
            self._undeliverable(src, msg, self._crashed_ports[dst], delivered)
        elif dst_id is None or not src.up:
            self.log.record(src_node, "kernel", "drop", msg=msg.msg_id, kind=msg.kind)
            delivered.succeed()
        elif dst_id == src_node:
            callbacks = delivered.callbacks
            callbacks.append(partial(self._local, msg, src, self.env.now, callbacks))
            src.cpu.kernel_work(self.profile.local_ipc_s, delivered)
        else:
            cpu_cost = self.profile.message_cpu_s(msg.size_bytes)
            sent = src.cpu.kernel_work(cpu_cost)
            incarnation = self._by_id[dst_id].incarnation
            sent.callbacks.append(
                partial(self._send, msg, src, dst_id, incarnation, cpu_cost, delivered)
            )
        return delivered

    # The steps of a message, each a callback of the event that ends the step before. The
    # sender is the :class:`Node` object it was sent from: if that node crashes (and is
    # perhaps rebooted as a new object) meanwhile, the message is lost with it. The last
    # step runs while the delivery event is processed, and is given that event's list of
    # callbacks (simpy calls them in its order).

    def _local(
        self, msg: Message, src: Node, sent: float, callbacks: list[Any], event: simpy.Event
    ) -> None:
        """A message between two ports of one node: its local IPC work is done."""
        if src.crashed:
            self.log.record(src.node_id, "kernel", "lost", msg=msg.msg_id, kind=msg.kind)
            return
        if self.log.messages:
            self.log.record(
                src.node_id,
                "kernel",
                "local",
                msg=msg.msg_id,
                kind=msg.kind,
                account=msg.account,
                sent=sent,
                **self._addressing(msg),
            )
        self._hand_over(msg, src, src.node_id, event, callbacks)

    def _send(
        self,
        msg: Message,
        src: Node,
        dst_id: int,
        incarnation: int,
        cpu_cost: float,
        delivered: Later,
        _: simpy.Event,
    ) -> None:
        """The sender's kernel work is done: the message goes on the wire."""
        src_id = src.node_id
        self.ledger.book(msg.account, msg.traffic, msg.size_bytes)
        self.log.record(
            src_id,
            "network",
            "send",
            msg=msg.msg_id,
            kind=msg.kind,
            dst=dst_id,
            traffic=msg.traffic,
            bytes=msg.size_bytes,
            account=msg.account,
            **(self._addressing(msg) if self.log.messages else {}),
        )
        arrival = self.network.transfer(src_id, dst_id, msg.size_bytes, msg.traffic)
        arrival.callbacks.append(
            partial(self._arrive, msg, src, dst_id, incarnation, cpu_cost, delivered)
        )

    def _arrive(
        self,
        msg: Message,
        src: Node,
        dst_id: int,
        incarnation: int,
        cpu_cost: float,
        delivered: Later,
        _: simpy.Event,
    ) -> None:
        """The message reached the receiver's node (the ``incarnation`` it was sent to):
        its kernel takes it in."""
        dst_node = self._by_id[dst_id]
        if src.crashed:  # the sender crashed with the message on the wire
            self.log.record(src.node_id, "kernel", "lost", msg=msg.msg_id, kind=msg.kind)
            delivered.succeed()
        elif dst_node.crashed or dst_node.incarnation != incarnation:
            self._undeliverable(src, msg, dst_id, delivered)
        elif not dst_node.up:
            self.log.record(dst_id, "kernel", "drop", msg=msg.msg_id, kind=msg.kind)
            delivered.succeed()
        else:
            callbacks = delivered.callbacks
            callbacks.insert(0, partial(self._arrived, msg, src, dst_id, callbacks))
            dst_node.cpu.kernel_work(cpu_cost, delivered)

    def _arrived(
        self, msg: Message, src: Node, dst_id: int, callbacks: list[Any], event: simpy.Event
    ) -> None:
        self.log.record(dst_id, "network", "arrive", msg=msg.msg_id, src=src.node_id)
        self._hand_over(msg, src, dst_id, event, callbacks)

    def _hand_over(
        self, msg: Message, src: Node, node_id: int, event: simpy.Event, callbacks: list[Any]
    ) -> None:
        """``msg`` is delivered (``event``, whose ``callbacks`` are being called): it goes
        to its port once those waiting for its delivery have gone on, as when a mailbox
        took it. Dropped, and logged, when the port is gone; reported undeliverable when
        a crash closed it while the message crossed the network, and then delivered for
        those waiting only when the report is made."""
        port = self._ports.get(msg.dst)
        if port is not None:
            callbacks.append(partial(_put, port, msg))
        elif msg.dst in self._crashed_ports and node_id != src.node_id and not src.crashed:
            held = hold_back(callbacks, self._arrived)
            after = self.env.event()
            after.callbacks.append(lambda _: _call_all(held, event))
            self._undeliverable(src, msg, node_id, after)
        else:
            self.log.record(node_id, "kernel", "drop", msg=msg.msg_id, kind=msg.kind)

    def _undeliverable(self, src: Node, msg: Message, dst_id: int, then: simpy.Event) -> None:
        """The transport gives up on a message to a crashed node and tells its sender.

        After the detection's transport timeout the sender's kernel counts and logs it
        (a caller waiting for the message's reply gets a failure naming the node); then
        ``then`` (the message's delivery event) fires.
        """
        wait = self.detection.transport_timeout_s if self.detection is not None else 0.0
        self.env.timeout(wait).callbacks.append(partial(self._given_up, src, msg, dst_id, then))

    def _given_up(
        self, src: Node, msg: Message, dst_id: int, then: simpy.Event, _: simpy.Event
    ) -> None:
        if not src.crashed:
            self.undeliverable[msg.kind] += 1
            reason = f"undeliverable: node {dst_id} crashed"
            self.log.record(
                src.node_id, "kernel", "undeliverable", msg=msg.msg_id, kind=msg.kind, dst=dst_id
            )
            port = self._ports.get(msg.reply_to) if msg.reply_to is not None else None
            if port is not None:  # after those waiting for the message's delivery
                failure = Failure(msg.kind, reason, dst_id)
                reply = Message("reply", port.port_id, self._next_msg, failure)
                then.callbacks.append(partial(_put, port, reply))
                self._next_msg += 1
        then.succeed()

    def probe(self, src_node: int, dst_node: int, *, account: int | None = None) -> simpy.Event:
        """Is ``dst_node`` alive? A kernel-to-kernel probe from ``src_node``; the event's value
        is ``True`` when an answer came back, ``False`` when none did in time.

        The destination's kernel answers at interrupt level, behind no kernel work, so a
        node busy for seconds still answers within a network round trip: a slow node is
        not a dead one. The probe waits :data:`PROBE_PATIENCE` round trips of the network
        as it is loaded when it is sent, and tries :data:`PROBE_TRIES` times; any answer,
        even a late one to an earlier try, means alive.
        """
        return self.env.process(self._probe(src_node, dst_node, account))

    def ask_incarnation(self, src_node: int, dst_node: int) -> simpy.Event:
        """A probe whose answer carries the incarnation ``dst_node``'s kernel is in: the
        event's value is that number, ``None`` when no answer came (it is down)."""
        return self.env.process(self._probe(src_node, dst_node, None, incarnation=True))

    def probe_round_trip_s(self) -> float:
        """What a probe and its answer take on the network as it is loaded now.

        A flow gets at least an equal share of the bandwidth among those now on the
        network (max-min fairness), so each way takes at most the latency plus its
        bytes at that share.
        """
        profile = self.profile
        share = profile.bandwidth_bytes_per_s / (1 + self.network.statistics().flows_active)
        return 2 * (profile.network_latency_s + profile.wire_bytes(PROBE_BYTES) / share)

    def _probe(
        self, src_id: int, dst_id: int, account: int | None, *, incarnation: bool = False
    ) -> Generator[simpy.events.Event, Any, Any]:
        answered = self.env.event()
        for _ in range(PROBE_TRIES):
            self.env.process(self._echo(src_id, dst_id, account, answered))
            yield answered | self.env.timeout(PROBE_PATIENCE * self.probe_round_trip_s())
            if answered.triggered:
                return answered.value if incarnation else True
        return None if incarnation else False

    def _echo(
        self, src_id: int, dst_id: int, account: int | None, answered: simpy.Event
    ) -> Generator[simpy.events.Event, Any, None]:
        answer = 0
        for here, there in ((src_id, dst_id), (dst_id, src_id)):
            if not self._by_id[here].up:
                self.log.record(here, "kernel", "drop", kind="probe")
                return
            self.ledger.book(account, "control", PROBE_BYTES)
            yield self.network.transfer(here, there, PROBE_BYTES, "control")
            if not self._by_id[there].up:
                self.log.record(there, "kernel", "drop", kind="probe")
                return
            if there == dst_id:
                answer = self._by_id[there].incarnation
        if not answered.triggered:
            answered.succeed(answer)

    def _addressing(self, msg: Message) -> dict[str, Any]:
        """Where a message goes, for the log's :attr:`~EventLog.messages`: the port, its
        owner (a server's role, ``reply``...), the reply port of a request."""
        port = self._ports.get(msg.dst)
        return {
            "port": msg.dst,
            "to": port.owner if port is not None else None,
            "reply_to": msg.reply_to,
        }
