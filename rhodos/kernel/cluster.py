"""The cluster: simulated clock, root seed, nodes, network, naming service and file servers.

A :class:`Cluster` is built from a frozen :class:`ClusterConfig`. It owns the simpy
environment and the root :class:`numpy.random.SeedSequence`; every random source in a
run is a stream spawned from that root under a stable key (:meth:`Cluster.rng`), so the
same seed gives the same run, bit for bit, whatever order the streams are created in.

The kernel part of inter-process communication is the cluster's :class:`Transport`
(:mod:`rhodos.kernel.transport`): :meth:`transmit` moves a message from one node to a
port (local IPC cost on one node; sender overhead, network flow, latency and receiver
overhead between nodes); a node builds request/reply on it.
The cluster knows nothing of the servers: they are started on each node by the
factories passed to it (see :func:`rhodos.system.boot`), and see the cluster only as
the :class:`~rhodos.kernel.node.Kernel` services their node passes on.
"""

from __future__ import annotations

import gc
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import numpy as np
import simpy

from rhodos.kernel.failure import Detection
from rhodos.kernel.ledger import TrafficLedger
from rhodos.kernel.log import EventLog
from rhodos.kernel.message import Message, Port
from rhodos.kernel.network import TOPOLOGIES, Network
from rhodos.kernel.node import Node
from rhodos.kernel.profile import MachineProfile, load_profile
from rhodos.kernel.transport import PROBE_BYTES, PROBE_PATIENCE, PROBE_TRIES, Transport

__all__ = [
    "MAX_NODES",
    "PROBE_BYTES",
    "PROBE_PATIENCE",
    "PROBE_TRIES",
    "Cluster",
    "ClusterConfig",
    "ConfigError",
]

#: The most nodes a cluster may have, file servers included: a page's location is a
#: node id in an int16 map (a few bytes per page; HERE, FILE and ZERO are negative codes).
MAX_NODES = 32_768


#: The garbage collector's young-generation threshold while a cluster runs (Python's
#: default is 700 allocations; see :meth:`Cluster.run`).
YOUNG_THRESHOLD = 50_000


@contextmanager
def _collector_for_a_run() -> Iterator[None]:
    """Freeze what exists and collect the young generation less often; undone after."""
    if not gc.isenabled():
        yield
        return
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class ConfigError(ValueError):
    """A cluster configuration value is out of its allowed range."""


def _to_profile(value: MachineProfile | str) -> MachineProfile:
    return value if isinstance(value, MachineProfile) else load_profile(value)


def _at_least(low: int) -> Callable[[Any, attrs.Attribute[int], int], None]:
    def check(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{attribute.name} must be an integer >= {low}, got {value!r}")

    return check


def _topology(_: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and value not in TOPOLOGIES:
        raise ConfigError(f"topology must be one of {', '.join(TOPOLOGIES)}, got {value!r}")


@attrs.frozen
class ClusterConfig:
    """Everything that defines a cluster; vary it with :func:`attrs.evolve`.

    Attributes:
        nodes: number of compute nodes (workstations), ids ``0 .. nodes-1``.
        profile: the machine profile (or a built-in name or TOML path).
        topology: ``"shared"`` or ``"star"``; ``None`` takes the profile's.
        file_servers: number of file-server nodes, numbered after the compute nodes.
        seed: root of every random stream of the run.
        architectures: one architecture tag per compute node; ``None`` gives every node
            its profile's architecture.
        node_profiles: one profile per compute node (CPU speed, memory, page size,
            architecture, the costs of its own work); ``None``: ``profile`` everywhere.
            The network, the file servers and message costs are ``profile``'s. Nodes of
            one architecture must share a page size (a process moves only between them).
        keep_log: keep every event in memory (tests, traces); off for big sweeps.
    """

    nodes: int = attrs.field(default=4, validator=_at_least(1))
    profile: MachineProfile = attrs.field(
        factory=lambda: load_profile("sun3-ethernet"), converter=_to_profile
    )
    topology: str | None = attrs.field(default=None, validator=_topology)
    file_servers: int = attrs.field(default=1, validator=_at_least(0))
    seed: int = attrs.field(default=0, validator=_at_least(0))
    architectures: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    keep_log: bool = True
    node_profiles: tuple[MachineProfile, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(lambda ps: tuple(map(_to_profile, ps)))
    )

    def __attrs_post_init__(self) -> None:
        if self.nodes + self.file_servers > MAX_NODES:
            raise ConfigError(
                f"nodes + file_servers must be at most {MAX_NODES:,} (node ids are stored "
                f"in 16 bits), got {self.nodes:,} + {self.file_servers:,}"
            )
        if self.architectures is not None and len(self.architectures) != self.nodes:
            raise ConfigError(
                f"architectures must give one tag per node ({self.nodes}), "
                f"got {len(self.architectures)}"
            )
        if self.node_profiles is not None:
            if len(self.node_profiles) != self.nodes:
                raise ConfigError(
                    f"node_profiles must give one profile per node ({self.nodes}), "
                    f"got {len(self.node_profiles)}"
                )
            pages: dict[str, int] = {}
            for i, node_profile in enumerate(self.node_profiles):
                arch = self.architectures[i] if self.architectures else node_profile.architecture
                size = pages.setdefault(arch, node_profile.page_size_bytes)
                if size != node_profile.page_size_bytes:
                    raise ConfigError(
                        f"nodes of architecture {arch!r} must share a page size: node {i}'s "
                        f"profile {node_profile.name!r} has {node_profile.page_size_bytes} "
                        f"bytes, an earlier one {size}"
                    )

    @property
    def effective_topology(self) -> str:
        """The topology in force: the config's, else the profile's."""
        return self.topology or self.profile.topology


ServerFactory = Callable[[Node], Any]


class Cluster(Transport):
    """A simulated cluster of workstations and file servers on one network."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        node_servers: Sequence[ServerFactory] = (),
        file_server: ServerFactory | None = None,
    ) -> None:
        self.config = config
        self.profile = config.profile
        self.env = simpy.Environment()
        self.seed = np.random.SeedSequence(config.seed)
        self.log = EventLog(self.env, keep=config.keep_log)
        profile = config.profile
        profiles = config.node_profiles or (profile,) * config.nodes
        archs = config.architectures or tuple(p.architecture for p in profiles)
        self.nodes: list[Node] = [Node(self, i, profiles[i], archs[i]) for i in range(config.nodes)]
        self.file_server_nodes: list[Node] = [
            Node(self, config.nodes + i, profile, profile.architecture, kind="file-server")
            for i in range(config.file_servers)
        ]
        self._by_id: list[Node] = self.nodes + self.file_server_nodes  # index: node id
        self.network = Network(
            self.env,
            node_ids=[n.node_id for n in self.all_nodes],
            bandwidth_bytes_per_s=profile.bandwidth_bytes_per_s,
            latency_s=profile.network_latency_s,
            topology=config.effective_topology,
            packet_payload_bytes=profile.packet_payload_bytes,
            packet_header_bytes=profile.packet_header_bytes,
        )
        self._ports: dict[int, Port] = {}
        self._port_node: dict[int, int] = {}
        self._roles: dict[tuple[int, str], int] = {}
        self.home_of: dict[int, int] = {}
        self.location_of: dict[int, int] = {}
        self._exits: dict[int, simpy.Event] = {}
        self.ledger = TrafficLedger()
        self._next_port = 1
        self._next_msg = 1
        self._next_pid = 1
        #: How kernels detect crashed peers; ``None`` (no failures expected) until the
        #: fault layer turns it on (:mod:`rhodos.kernel.failure`).
        self.detection: Detection | None = None
        #: Messages reported undeliverable to their senders, by message kind.
        self.undeliverable: Counter[str] = Counter()
        #: Observers told of a crash as it happens, before the node's memory is lost
        #: (the experimenter's accounting, not part of the simulated system).
        self.crash_hooks: list[Callable[[Node], None]] = []
        #: pid -> the incarnation of the node it was last committed to.
        self._committed_to: dict[int, int] = {}
        #: Ports a crash closed -> the node they were on.
        self._crashed_ports: dict[int, int] = {}
        self._node_servers = tuple(node_servers)
        self._file_server = file_server
        for node in self.nodes:
            self._start_servers(node)
        for node in self.file_server_nodes:
            self._start_servers(node)

    def _start_servers(self, node: Node) -> None:
        if node.kind == "compute":
            for factory in self._node_servers:
                factory(node)
        elif self._file_server is not None:
            self._file_server(node)

    # -- nodes ---------------------------------------------------------------------
    @property
    def all_nodes(self) -> list[Node]:
        """Compute nodes, then file servers."""
        return self.nodes + self.file_server_nodes

    def node(self, node_id: int) -> Node:
        """The node with this id; a clear error names the ids that exist."""
        nodes = self.all_nodes
        if not isinstance(node_id, int) or not 0 <= node_id < len(nodes):
            raise ConfigError(f"no node {node_id!r}: nodes are 0..{len(nodes) - 1}")
        return nodes[node_id]

    def node_kind(self, node_id: int) -> str:
        """What node ``node_id`` is: ``compute`` or ``file-server`` (a ConfigError if none)."""
        return self.node(node_id).kind

    def file_server(self) -> int | None:
        """The node id of the (first) file server, ``None`` when the cluster has none."""
        return self.file_server_nodes[0].node_id if self.file_server_nodes else None

    def set_node_up(self, node_id: int, up: bool) -> None:
        """Crash (``False``) or restore a node: its CPU stops and its messages are lost."""
        node = self.node(node_id)
        node.up = up
        node.cpu.set_up(up)
        self.network.set_link_up(node_id, up)
        self.log.record(node_id, "kernel", "node-up" if up else "node-down")

    def crash(self, node_id: int) -> None:
        """The node crashes: its memory, its processes, the messages queued at its ports and
        those on their way to or from it are lost. It stays down until :meth:`recover`.

        Nobody is told: the other kernels find out by timeouts (see
        :mod:`rhodos.kernel.failure`). A crashed node's unfinished work never resumes.
        """
        node = self.node(node_id)
        if node.crashed:
            return
        if self.detection is None:  # a crash with nothing to detect it would hang
            self.detection = Detection.for_profile(self.profile)
        for hook in self.crash_hooks:
            hook(node)
        node.crash()
        self.network.set_link_up(node_id, False)
        for port_id, where in list(self._port_node.items()):
            if where != node_id:
                continue
            port = self._ports.pop(port_id)
            del self._port_node[port_id]
            self._crashed_ports[port_id] = node_id
            if port.mailbox is not None:  # a server's port holds nothing: it hands over
                for msg in port.mailbox.items:
                    self.log.record(node_id, "kernel", "lost", msg=msg.msg_id, kind=msg.kind)
                port.mailbox.items.clear()
        self.log.record(node_id, "kernel", "crash", incarnation=node.incarnation)

    def recover(self, node_id: int) -> Node:
        """Bring a crashed node back, empty: a new incarnation with fresh servers."""
        old = self.node(node_id)
        if not old.crashed:
            raise ConfigError(f"node {node_id} has not crashed")
        node = Node(self, node_id, old.profile, old.architecture, kind=old.kind)
        node.incarnation = old.incarnation + 1
        node.disk = old.disk
        if old.kind == "compute":
            self.nodes[node_id] = node
        else:
            self.file_server_nodes[node_id - len(self.nodes)] = node
        self._by_id[node_id] = node
        self.network.set_link_up(node_id, True)
        self._start_servers(node)
        self.log.record(node_id, "kernel", "recover", incarnation=node.incarnation)
        return node

    def incarnation(self, node_id: int) -> int:
        """How many times node ``node_id`` has been rebooted after a crash."""
        return self.node(node_id).incarnation

    def processes_on(self, node_id: int, incarnation: int) -> list[int]:
        """The naming service's processes last committed to that incarnation of the node
        that have not ended, in pid order (what the recovery manager restarts)."""
        return sorted(
            pid
            for pid, where in self.location_of.items()
            if where == node_id
            and self._committed_to.get(pid) == incarnation
            and not (pid in self._exits and self._exits[pid].triggered)
        )

    def port_node(self, port_id: int) -> int | None:
        """The node port ``port_id`` is on (``None``: closed)."""
        return self._port_node.get(port_id)

    # -- randomness ----------------------------------------------------------------
    def rng(self, name: str, *ids: int) -> np.random.Generator:
        """An independent random stream for ``name`` and ``ids``, spawned from the root seed.

        The stream depends only on the seed, the name and the ids, so adding a stream
        elsewhere never changes this one.
        """
        key = (zlib.crc32(name.encode()), *ids)
        seq = np.random.SeedSequence(self.seed.entropy, spawn_key=key)
        return np.random.default_rng(seq)

    def new_pid(self) -> int:
        """The next process id (cluster-wide, deterministic)."""
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def commit_location(self, pid: int, node_id: int) -> None:
        """The commit point of a process's creation or migration: it now lives on ``node_id``.

        The kernel's record of where each process lives changes at exactly one instant
        per migration, so "the process exists on exactly one node" is checkable.
        """
        self.location_of[pid] = node_id
        self._committed_to[pid] = self._by_id[node_id].incarnation
        self.log.record(node_id, "kernel", "commit", pid=pid)

    def exit_event(self, pid: int) -> simpy.Event:
        """The event of process ``pid`` ending (wherever it runs); its value is the exit code."""
        event = self._exits.get(pid)
        if event is None:
            event = self._exits[pid] = self.env.event()
        return event

    # -- naming service ------------------------------------------------------------
    def create_port(
        self, node_id: int, owner: str, receiver: Callable[[Message], None] | None = None
    ) -> Port:
        """A new port on ``node_id``, registered with the naming service.

        Its messages go to ``receiver`` when given, else wait in a mailbox.
        """
        if receiver is None:
            port = Port(self._next_port, node_id, owner, simpy.Store(self.env))
        else:
            port = Port(self._next_port, node_id, owner, receiver=receiver)
        self._next_port += 1
        self._ports[port.port_id] = port
        self._port_node[port.port_id] = node_id
        return port

    def close_port(self, port_id: int) -> None:
        """Remove a port; later messages to it are dropped (and logged)."""
        self._ports.pop(port_id, None)
        self._port_node.pop(port_id, None)

    def register_role(self, node_id: int, role: str, port_id: int) -> None:
        """Publish that ``role``'s server on ``node_id`` listens at ``port_id``."""
        self._roles[(node_id, role)] = port_id

    def role_port(self, node_id: int, role: str) -> int:
        """The port of ``role``'s server on ``node_id``."""
        try:
            return self._roles[(node_id, role)]
        except KeyError:
            roles = sorted({r for (n, r) in self._roles if n == node_id})
            raise ConfigError(f"node {node_id} runs no {role!r} server; it runs {roles}") from None

    # -- running -------------------------------------------------------------------
    def run(self, until: float | simpy.events.Event | None = None) -> None:
        """Advance simulated time (to ``until``, or until nothing is left to do).

        While it runs, the garbage collector leaves alone what exists when it starts
        (the booted cluster, :func:`gc.freeze`) and collects the young generation every
        :data:`YOUNG_THRESHOLD` allocations instead of 700: a big cluster holds millions
        of objects, and the collector's walks over them were a third of its run.
        """
        with _collector_for_a_run():
            self.env.run(until=until)

    @property
    def now(self) -> float:
        """The simulated time, in seconds."""
        return float(self.env.now)
