"""The cluster network: a flow-level model on top of the fluid scheduler.

A transfer of N payload bytes is ONE flow, not one event per packet. Its size on the
wire adds a header per packet (:meth:`Network.wire_bytes`); concurrent transfers share
the capacity of the links they cross by max-min fairness
(:mod:`rhodos.kernel.fluid`); the data arrives ``latency_s`` after its last bit left,
so a single transfer on an idle network takes exactly
``latency_s + wire_bytes(N) / bandwidth``.

Two topologies:

``shared``
    One segment of capacity ``bandwidth`` that every transfer crosses: the classic
    10 Mb/s Ethernet of the RHODOS, V-system and Sprite papers. Two concurrent
    transfers each get half the bandwidth, whoever the endpoints.
``star``
    A switched star: every node has an *up* link (out of the node) and a *down* link
    (into the node), each of capacity ``bandwidth``; a transfer from ``src`` to
    ``dst`` crosses ``[up(src), down(dst)]``. Transfers between disjoint pairs do not
    slow each other; two transfers into one node share its down link.

What happens to the messages of a node that is down is the kernel's business; the
network only pauses a star node's links (:meth:`Network.set_link_up`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import simpy

from rhodos.kernel.fluid import Flow, FluidScheduler, FluidStatistics, Link

__all__ = ["TOPOLOGIES", "Network", "NetworkStatistics"]

#: The topologies :class:`Network` can model.
TOPOLOGIES = ("shared", "star")


class _Arrival(simpy.Event):
    """The arrival of a transfer: made when it is sent, triggered when its last bit left.

    Like simpy's ``Timeout``, it succeeds after a delay (the latency), but the delay
    starts only when the flow completes: one event per transfer instead of a timeout
    and an event.
    """

    def succeed_in(self, delay: float) -> None:
        """Succeed (with value None) ``delay`` seconds from now."""
        self._ok = True
        self._value = None
        self.env.schedule(self, delay=delay)


@attrs.frozen
class NetworkStatistics:
    """A snapshot of the network's counters, taken at one simulated instant.

    Messages and bytes are counted when a transfer is sent.

    Attributes:
        bytes_by_kind: Payload bytes sent, by traffic kind.
        wire_bytes_by_kind: Bytes sent on the wire (payload + packet headers), by kind.
        messages_by_kind: Transfers sent, by kind.
        flows_active: Transfers whose bits are still on the links.
        messages_in_flight: Transfers sent but not yet arrived (flows_active plus
            those in their final latency).
        busy_time: Simulated seconds during which at least one flow was active.
    """

    bytes_by_kind: dict[str, int]
    wire_bytes_by_kind: dict[str, int]
    messages_by_kind: dict[str, int]
    flows_active: int
    messages_in_flight: int
    busy_time: float


class Network:
    """The cluster network: transfers are max-min fair flows plus a latency.

    Args:
        env: The simulation environment.
        node_ids: The nodes attached at construction (more with :meth:`add_node`).
        bandwidth_bytes_per_s: Capacity of the segment (``shared``) or of each node's
            up and down links (``star``), > 0.
        latency_s: Propagation delay paid once per transfer after its last bit, >= 0.
        topology: One of :data:`TOPOLOGIES`.
        packet_payload_bytes: Payload bytes carried by one packet, > 0.
        packet_header_bytes: Header (protocol overhead) bytes per packet, >= 0.

    Raises:
        ValueError: If a parameter is outside its range, the topology is unknown or
            a node id is repeated.
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        node_ids: Sequence[int],
        bandwidth_bytes_per_s: float,
        latency_s: float,
        topology: str,
        packet_payload_bytes: int,
        packet_header_bytes: int,
    ) -> None:
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}; got {topology!r}")
        if not (math.isfinite(bandwidth_bytes_per_s) and bandwidth_bytes_per_s > 0):
            raise ValueError(
                f"bandwidth_bytes_per_s must be a finite number > 0, got {bandwidth_bytes_per_s!r}"
            )
        if not (math.isfinite(latency_s) and latency_s >= 0):
            raise ValueError(f"latency_s must be a finite number >= 0, got {latency_s!r}")
        if packet_payload_bytes <= 0:
            raise ValueError(f"packet_payload_bytes must be > 0, got {packet_payload_bytes!r}")
        if packet_header_bytes < 0:
            raise ValueError(f"packet_header_bytes must be >= 0, got {packet_header_bytes!r}")

        self.env = env
        self.topology = topology
        self.bandwidth_bytes_per_s = float(bandwidth_bytes_per_s)
        self.latency_s = float(latency_s)
        self.packet_payload_bytes = packet_payload_bytes
        self.packet_header_bytes = packet_header_bytes
        self.fluid = FluidScheduler(env, name="network")
        self._segment: Link | None = None
        if topology == "shared":
            self._segment = self.fluid.add_link("segment", self.bandwidth_bytes_per_s)
        self._up: dict[int, Link] = {}
        self._down: dict[int, Link] = {}
        self._nodes: dict[int, bool] = {}  # node id -> link up
        self._bytes_by_kind: dict[str, int] = {}
        self._wire_bytes_by_kind: dict[str, int] = {}
        self._messages_by_kind: dict[str, int] = {}
        self._in_flight = 0
        self._flows_active = 0
        self._busy_time = 0.0
        self._busy_since = 0.0
        for node_id in node_ids:
            self.add_node(node_id)

    @property
    def node_ids(self) -> tuple[int, ...]:
        """The attached nodes, in the order they were added."""
        return tuple(self._nodes)

    def add_node(self, node_id: int) -> None:
        """Attach a node, e.g. a file server added after construction.

        Args:
            node_id: A new node id.

        Raises:
            ValueError: If the node is already attached.
        """
        if node_id in self._nodes:
            raise ValueError(f"node {node_id} is already attached to the network")
        self._nodes[node_id] = True
        if self.topology == "star":
            self._up[node_id] = self.fluid.add_link(f"node{node_id}.up", self.bandwidth_bytes_per_s)
            self._down[node_id] = self.fluid.add_link(
                f"node{node_id}.down", self.bandwidth_bytes_per_s
            )

    def wire_bytes(self, payload_bytes: int) -> int:
        """The bytes a payload occupies on the wire: payload plus one header per packet.

        An empty payload still takes one packet (a bare header).

        Args:
            payload_bytes: Payload size, >= 0.

        Returns:
            ``payload + packet_header_bytes * max(1, ceil(payload / packet_payload_bytes))``.
        """
        if payload_bytes < 0:
            raise ValueError(f"payload_bytes must be >= 0, got {payload_bytes!r}")
        packets = max(1, -(-payload_bytes // self.packet_payload_bytes))
        return payload_bytes + self.packet_header_bytes * packets

    def path(self, src: int, dst: int) -> tuple[Link, ...]:
        """The links a transfer from ``src`` to ``dst`` crosses.

        Raises:
            ValueError: If a node is unknown or ``src == dst``.
        """
        for node_id in (src, dst):
            if node_id not in self._nodes:
                raise ValueError(f"unknown node {node_id}: attached nodes are {self.node_ids}")
        if src == dst:
            raise ValueError(
                f"transfer from node {src} to itself: local delivery is the kernel's business"
            )
        if self._segment is not None:
            return (self._segment,)
        return (self._up[src], self._down[dst])

    def transfer(
        self, src: int, dst: int, payload_bytes: int, kind: str = "control"
    ) -> simpy.Event:
        """Send ``payload_bytes`` from ``src`` to ``dst`` as one flow.

        Args:
            src: Sending node.
            dst: Receiving node, different from ``src``.
            payload_bytes: Payload size, >= 0.
            kind: Traffic kind the bytes and the message are counted under.

        Returns:
            An event that succeeds (with value None) when the data has arrived: the
            flow's completion plus ``latency_s``.

        Raises:
            ValueError: If a node is unknown, ``src == dst`` or the size is negative.
        """
        path = self.path(src, dst)
        wire = self.wire_bytes(payload_bytes)
        self._bytes_by_kind[kind] = self._bytes_by_kind.get(kind, 0) + payload_bytes
        self._wire_bytes_by_kind[kind] = self._wire_bytes_by_kind.get(kind, 0) + wire
        self._messages_by_kind[kind] = self._messages_by_kind.get(kind, 0) + 1

        arrived = _Arrival(self.env)
        arrived.callbacks.append(self._arrived)
        self._in_flight += 1
        if self._flows_active == 0:
            self._busy_since = self.env.now
        self._flows_active += 1

        def _on_last_bit(_: Flow) -> None:
            self._flows_active -= 1
            if self._flows_active == 0:
                self._busy_time += self.env.now - self._busy_since
            arrived.succeed_in(self.latency_s)

        self.fluid.start(wire, path, tag=(kind, src, dst), on_done=_on_last_bit)
        return arrived

    def _arrived(self, _: simpy.Event) -> None:
        self._in_flight -= 1

    def set_link_up(self, node_id: int, up: bool) -> None:
        """Cut or restore a node's attachment to the network.

        On a ``star``, the node's up and down links get capacity 0 (flows crossing
        them pause where they are) or their bandwidth back (they resume). On a
        ``shared`` segment this is a no-op: the segment is one medium shared by all,
        and one node's tap cannot be modelled apart from it — refusing or delaying a
        dead node's traffic is the kernel's job.

        Args:
            node_id: An attached node.
            up: True to restore, False to cut.

        Raises:
            ValueError: If the node is unknown.
        """
        if node_id not in self._nodes:
            raise ValueError(f"unknown node {node_id}: attached nodes are {self.node_ids}")
        if self._nodes[node_id] == up:
            return
        self._nodes[node_id] = up
        if self.topology == "star":
            capacity = self.bandwidth_bytes_per_s if up else 0.0
            self.fluid.set_capacity(self._up[node_id], capacity)
            self.fluid.set_capacity(self._down[node_id], capacity)

    def is_link_up(self, node_id: int) -> bool:
        """Whether a node's attachment is up (see :meth:`set_link_up`)."""
        if node_id not in self._nodes:
            raise ValueError(f"unknown node {node_id}: attached nodes are {self.node_ids}")
        return self._nodes[node_id]

    def statistics(self) -> NetworkStatistics:
        """Take a snapshot of the counters."""
        busy = self._busy_time
        if self._flows_active > 0:
            busy += self.env.now - self._busy_since
        return NetworkStatistics(
            bytes_by_kind=dict(self._bytes_by_kind),
            wire_bytes_by_kind=dict(self._wire_bytes_by_kind),
            messages_by_kind=dict(self._messages_by_kind),
            flows_active=self._flows_active,
            messages_in_flight=self._in_flight,
            busy_time=busy,
        )

    def fluid_statistics(self) -> FluidStatistics:
        """The underlying scheduler's snapshot: wire bytes moved per link name."""
        return self.fluid.statistics()
