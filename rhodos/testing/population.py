"""The processes of a fuzz case: communicating oracles, and programs at the edges of timing.

:func:`populate` spawns on a :class:`~rhodos.testing.Harness` memory writers, two-way
conversations, streams, a request server with its clients, processes whose exit
instant is known, now and then a hub with many correspondents (a large communication
state) and a process whose long calls keep its home node's kernel busy -- as many as
the nodes have room for. Every random choice comes from the generator handed in.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import simpy

from rhodos.kernel import Sleep
from rhodos.system import spawn
from rhodos.testing.harness import Harness
from rhodos.testing.oracles import (
    MemoryOracle,
    OracleClient,
    OracleServer,
    StreamReceiver,
    StreamSender,
    Talker,
)
from rhodos.testing.programs import CallThenExit, Hub, LateSender, OneShot, SleepThenExit

__all__ = ["MEMORY_SHARE", "Population", "populate"]

Gen = Generator[simpy.events.Event, Any, Any]


@attrs.define
class Population:
    """What :func:`populate` spawned that the attack aims at."""

    #: pid -> the simulated instant it will exit, if nobody delays it.
    exits: dict[int, float] = attrs.field(factory=dict)
    #: Hubs (large communication states).
    hubs: list[int] = attrs.field(factory=list)


@attrs.frozen
class _Delayed:
    """Starts ``inner`` after ``delay`` s (its peers are still being spawned at t=0)."""

    inner: Any
    delay: float = 0.05

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def memory_bytes(self) -> int:
        return int(self.inner.memory_bytes)

    def run(self, ctx: Any) -> Any:
        yield Sleep(self.delay)
        yield from self.inner.run(ctx)


#: The share of a node's frames the processes spawned on it may take at most: the
#: rest is room for the processes that migrate there.
MEMORY_SHARE = 0.4


class _Spawner:
    """Spawns on a harness where the node has room: each node's spawned processes take at
    most :data:`MEMORY_SHARE` of its frames (small machines run fewer of them)."""

    def __init__(self, h: Harness, rng: np.random.Generator) -> None:
        self.h = h
        self.rng = rng
        self.nodes = len(h.cluster.nodes)
        self.page = h.cluster.profile.page_size_bytes
        self.room = {
            n: int(MEMORY_SHARE * h.cluster.node(n).frames_total) for n in range(self.nodes)
        }

    def node(self) -> int:
        return int(self.rng.integers(0, self.nodes))

    def fits(self, memory_bytes: int, where: int) -> bool:
        """Take room for ``memory_bytes`` on ``where``, if it has it."""
        pages = -(-memory_bytes // self.page)
        if pages > self.room[where]:
            return False
        self.room[where] -= pages
        return True

    def spawn(self, program: Any, where: int, *, watch: bool = True, **kwargs: Any) -> int | None:
        """The pid, or ``None`` when ``where`` has no room for it."""
        if not self.fits(int(program.memory_bytes), where):
            return None
        if watch:
            return self.h.spawn(program, where, **kwargs)
        pid, _ = spawn(self.h.cluster, program, where, **kwargs)
        return pid


def populate(h: Harness, rng: np.random.Generator, *, small: bool = False) -> Population:
    """Spawn the oracle processes of a case on ``h`` (fewer and shorter when ``small``)."""
    room = _Spawner(h, rng)
    node = room.node
    population = Population()

    def count(low: int, high: int) -> int:
        return int(rng.integers(low, (low + high) // 2 + 1 if small else high + 1))

    for _ in range(count(1, 2)):
        memory = MemoryOracle(
            h.cluster,
            cpu_seconds=float(rng.uniform(0.2, 0.5 if small else 1.0)),
            dirty_rate=float(rng.choice([0.0, 50.0, 400.0, 2000.0])),
            sweep_every=int(rng.choice([0, 1, 5, 10])),
            memory_bytes=int(rng.choice([32, 64, 96])) * 1024,
        )
        room.spawn(memory, node())
    for _ in range(count(0, 2)):
        a, b = node(), node()
        params = {
            "rounds": int(rng.integers(10, 30 if small else 60)),
            "window": int(rng.integers(1, 5)),
            "compute_s": float(rng.choice([0.0001, 0.002])),
            "sweep": bool(rng.random() < 0.5),
            "start_s": 0.05,
        }
        size = Talker(h.messages).memory_bytes
        if room.fits(size, a) and room.fits(size, b):
            h.spawn_pair(a, b, **params)
    for _ in range(count(0, 2)):
        chunks = int(rng.integers(40, 120 if small else 300))
        receiver = StreamReceiver(
            h.messages, chunks=chunks, compute_s=float(rng.choice([5e-4, 4e-3]))
        )
        sender = StreamSender(
            h.messages,
            chunks=chunks,
            size_bytes=int(rng.choice([64, 1024, 9000])),
            compute_s=float(rng.choice([5e-5, 3e-3])),
            start_s=0.05,
        )
        a, b = node(), node()
        if room.fits(sender.memory_bytes, a):
            rx = room.spawn(receiver, b)
            if rx is not None:
                tx = h.spawn(sender, a, peers={"peer": rx})
                h.pairs.append((tx, rx))
    if rng.random() < 0.5:
        requests = int(rng.integers(4, 8 if small else 16))
        think_s = float(rng.choice([0.001, 0.01]))
        size = OracleClient(h.messages).memory_bytes
        clients = [n for n in (node() for _ in range(count(2, 4))) if room.fits(size, n)]
        server: int | None = room.spawn(
            OracleServer(h.messages, requests=requests * len(clients)), node()
        )
        for where in clients:
            if server is None:
                break
            client = OracleClient(h.messages, requests=requests, think_s=think_s)
            asker = h.spawn(_Delayed(client), where, peers={"server": server})
            h.pairs.append((asker, server))
    for _ in range(count(1, 3)):
        if rng.random() < 0.5:
            sleep_s = float(rng.uniform(0.05, 0.6))
            sleeper = room.spawn(SleepThenExit(sleep_s=sleep_s), node())
            if sleeper is not None:  # its thread starts after two local calls
                population.exits[sleeper] = sleep_s + 4 * h.cluster.profile.local_ipc_s
        else:
            compute_s, service_s = float(rng.uniform(0.02, 0.3)), float(rng.uniform(0.01, 0.1))
            caller = room.spawn(CallThenExit(compute_s=compute_s, service_s=service_s), node())
            if caller is not None:
                population.exits[caller] = compute_s + service_s
    if rng.random() < 0.15:
        hub = _spawn_hub(room, rng, small=small)
        if hub is not None:
            population.hubs.append(hub)
    if rng.random() < 0.2:
        # Long location-dependent calls keep the kernel of the process's home node busy.
        busy = CallThenExit(compute_s=float(rng.uniform(0.01, 0.3)), service_s=1.5)
        busy_pid = room.spawn(busy, node())
        if busy_pid is not None:
            population.exits[busy_pid] = busy.compute_s + busy.service_s
    return population


def _spawn_hub(room: _Spawner, rng: np.random.Generator, *, small: bool) -> int | None:
    """A hub with many one-shot correspondents (as many as there is room for), and one late
    message it waits for."""
    hub_node, late_node = room.node(), room.node()
    hub_size, late_size = Hub(0).memory_bytes, LateSender(0.0).memory_bytes
    if not (room.fits(hub_size, hub_node) and room.fits(late_size, late_node)):
        return None
    wanted = int(rng.integers(30, 120 if small else 400))
    client_nodes = [i % room.nodes for i in range(wanted)]
    clients = [n for n in client_nodes if room.fits(OneShot().memory_bytes, n)]
    hub = room.h.spawn(Hub(len(clients)), hub_node)
    for where in clients:
        spawn(room.h.cluster, OneShot(), where, peers={"hub": hub})
    room.h.spawn(LateSender(float(rng.uniform(0.3, 1.5))), late_node, peers={"hub": hub})
    return hub
