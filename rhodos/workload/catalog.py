"""Named workloads: sets of processes placed on nodes, built by name with parameters.

``make_workload("pingpong", rounds=50)`` builds a workload; ``start(cluster, nodes)``
spawns its processes. An unknown name lists the ones that exist; an unknown parameter
lists the parameters the workload takes.

A workload is an attrs class whose fields are its parameters (``name`` the first, its
default the workload's name) with a ``start`` method; the :func:`register` decorator
makes it available by name, as the built-ins below are. Workloads of other packages
come in through the entry-point group ``rhodos.workloads`` (``[project.entry-points.
"rhodos.workloads"] my-name = "my_package.module:MyWorkload"``), or from a file with
``rhodos --plugin FILE.py``.

``trace:NAME`` (a shipped trace: ``trace:sqlite``) or ``trace:PATH`` (a trace file) is a
real program's recorded page references replayed as one process
(:class:`TracedProgram`); its only parameters are ``loops`` and ``instructions_per_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any, Protocol

import attrs

from rhodos.kernel import Cluster
from rhodos.validators import did_you_mean, fraction, non_negative, positive, within
from rhodos.workload.pagetrace.replay import TraceReplay
from rhodos.workload.pagetrace.shipped import open_trace, shipped_traces
from rhodos.workload.programs import (
    Client,
    Computer,
    Pinger,
    Ponger,
    RequestServer,
    StreamReceiver,
    StreamSender,
)
from rhodos.workload.reference import ReferenceModel

__all__ = [
    "TRACE_PREFIX",
    "WORKLOADS",
    "TracedProgram",
    "UnknownWorkload",
    "Workload",
    "is_trace",
    "make_workload",
    "register",
    "registered",
    "unregister",
]

#: A workload name ``trace:NAME`` or ``trace:PATH`` replays a recorded page trace.
TRACE_PREFIX = "trace:"

KIB = 1024


class UnknownWorkload(ValueError):
    """A workload name or parameter that does not exist."""


class Workload(Protocol):
    """A set of processes to start on a cluster."""

    name: str

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        """Spawn the processes on ``nodes`` (used in order); return their pids."""
        ...


#: Workload name -> its class, in the order registered (the built-ins below first); its
#: parameters are the class's fields. :func:`registered` adds the entry points' too.
WORKLOADS: dict[str, type[Any]] = {}
_PLUGINS_LOADED = False


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: make a workload available under its name (its ``name`` field's
    default); its other fields are its parameters, ``memory_bytes`` among them."""
    if not attrs.has(cls):
        raise ValueError(
            f"workload class {cls.__name__} must be an attrs class (its fields are its parameters)"
        )
    field = attrs.fields_dict(cls).get("name")
    name = field.default if field is not None else None
    if not isinstance(name, str) or not name:
        raise ValueError(
            f'workload class {cls.__name__} needs a field `name: str = "its-name"`: the '
            "name it is chosen by"
        )
    if "memory_bytes" not in attrs.fields_dict(cls):
        raise ValueError(
            f"workload {name!r} needs a field `memory_bytes`: the address space of its "
            "processes, which a scenario (--memory) sets"
        )
    if not callable(getattr(cls, "start", None)):
        raise ValueError(
            f"workload {name!r} needs a method start(cluster, nodes) that spawns its "
            "processes and returns their pids (the first is the one migrated)"
        )
    WORKLOADS[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a workload (tests that register a temporary one)."""
    WORKLOADS.pop(name, None)


def registered() -> dict[str, type[Any]]:
    """Every registered workload, by name: the built-ins, then those of the entry-point
    group ``rhodos.workloads`` (loaded on the first call) and of plugin files."""
    global _PLUGINS_LOADED
    if not _PLUGINS_LOADED:
        _PLUGINS_LOADED = True
        for entry in metadata.entry_points(group="rhodos.workloads"):
            register(entry.load())
    return dict(WORKLOADS)


#: Files a process opens (a 1990s Unix allowed 64 per process; 4096 is far above any).
OPEN_FILES = within(0, 4096, words="within [0, 4096]")
#: Dirty file blocks it writes before it is migrated (one page each; 2^24 pages are 64 GiB
#: of 4 KiB blocks).
DIRTY_FILE_BLOCKS = within(0, 1 << 24, words="within [0, 16777216]")


def _file_knobs(instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    """``open_files`` and ``dirty_file_blocks`` in range; blocks need a file to go into."""
    rule = OPEN_FILES if attribute.name == "open_files" else DIRTY_FILE_BLOCKS
    rule.check(attribute.name, value)
    if attribute.name == "dirty_file_blocks" and value and not instance.open_files:
        raise ValueError(
            f"dirty_file_blocks = {value} needs open files to write them into: "
            "set open_files to 1 or more"
        )


def _spawn(cluster: Cluster, program: Any, node: int, **kwargs: Any) -> int:
    from rhodos.system import spawn  # the system assembles servers; imported late

    pid, _ = spawn(cluster, program, node, **kwargs)
    return pid


@register
@attrs.frozen
class CpuBound:
    """CPU-bound processes (``processes`` of them) sharing the first node."""

    name: str = "cpu-bound"
    processes: int = attrs.field(default=1, validator=non_negative)
    cpu_seconds: float = attrs.field(default=2.0, validator=non_negative)
    memory_bytes: int = attrs.field(default=256 * KIB, validator=positive)
    working_set: float = attrs.field(default=0.5, validator=fraction)
    #: Files each process opens, and blocks it writes into them, before it computes.
    open_files: int = attrs.field(default=0, validator=_file_knobs)
    dirty_file_blocks: int = attrs.field(default=0, validator=_file_knobs)

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        program = Computer(
            cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_bytes,
            refs=ReferenceModel(working_set=self.working_set, locality=0.8, write_fraction=0.1),
            open_files=self.open_files,
            dirty_file_blocks=self.dirty_file_blocks,
        )
        return [_spawn(cluster, program, nodes[0]) for _ in range(self.processes)]


@register
@attrs.frozen
class MemoryWriter:
    """One process writing ``dirty_rate`` pages per second over its working set."""

    name: str = "memory-writer"
    dirty_rate: float = attrs.field(default=50.0, validator=non_negative)
    cpu_seconds: float = attrs.field(default=2.0, validator=non_negative)
    memory_bytes: int = attrs.field(default=1024 * KIB, validator=positive)
    working_set: float = attrs.field(default=1.0, validator=fraction)
    home_calls_per_s: float = attrs.field(default=0.0, validator=non_negative)
    #: Bytes each way, and service time at home, of each location-dependent call.
    home_call_bytes: int = attrs.field(default=256, validator=non_negative)
    home_call_service_s: float = attrs.field(default=0.0005, validator=non_negative)
    #: Files the process opens, and blocks it writes into them, before it computes.
    open_files: int = attrs.field(default=0, validator=_file_knobs)
    dirty_file_blocks: int = attrs.field(default=0, validator=_file_knobs)

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        refs = ReferenceModel(
            working_set=self.working_set, dirty_rate=self.dirty_rate, refs_per_s=4 * self.dirty_rate
        )
        program = Computer(
            name="memory-writer",
            cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_bytes,
            refs=refs,
            home_calls_per_s=self.home_calls_per_s,
            home_call_bytes=self.home_call_bytes,
            home_call_service_s=self.home_call_service_s,
            open_files=self.open_files,
            dirty_file_blocks=self.dirty_file_blocks,
        )
        return [_spawn(cluster, program, nodes[0])]


@register
@attrs.frozen
class PingPong:
    """A communicating pair: the pinger on the first node, the ponger on the second."""

    name: str = "pingpong"
    rounds: int = attrs.field(default=100, validator=non_negative)
    size_bytes: int = attrs.field(default=256, validator=non_negative)
    memory_bytes: int = attrs.field(default=64 * KIB, validator=positive)

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        other = nodes[1] if len(nodes) > 1 else nodes[0]
        pong = _spawn(cluster, Ponger(rounds=self.rounds, size_bytes=self.size_bytes), other)
        ping = _spawn(
            cluster,
            Pinger(rounds=self.rounds, size_bytes=self.size_bytes, memory_bytes=self.memory_bytes),
            nodes[0],
            peers={"peer": pong},
        )
        return [ping, pong]


@register
@attrs.frozen
class ServerClients:
    """A request/reply server on the first node and one client on each other node."""

    name: str = "server"
    clients: int = attrs.field(default=3, validator=non_negative)
    requests: int = attrs.field(default=25, validator=non_negative)
    service_s: float = attrs.field(default=0.005, validator=non_negative)
    think_s: float = attrs.field(default=0.02, validator=non_negative)
    memory_bytes: int = attrs.field(default=512 * KIB, validator=positive)

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        server = _spawn(
            cluster,
            RequestServer(
                requests=self.clients * self.requests,
                service_s=self.service_s,
                memory_bytes=self.memory_bytes,
            ),
            nodes[0],
        )
        others = list(nodes[1:]) or [nodes[0]]
        pids = [server]
        for i in range(self.clients):
            client = Client(requests=self.requests, think_s=self.think_s)
            pids.append(_spawn(cluster, client, others[i % len(others)], peers={"server": server}))
        return pids


@register
@attrs.frozen
class Stream:
    """A stream connection: the sender on the first node, the receiver on the second.

    Neither end knows of migration; the receiver fails loudly if a byte is lost,
    duplicated or reordered.
    """

    name: str = "stream"
    total_bytes: int = attrs.field(default=256 * KIB, validator=non_negative)
    chunk_bytes: int = attrs.field(default=4 * KIB, validator=positive)
    memory_bytes: int = attrs.field(default=64 * KIB, validator=positive)

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        other = nodes[1] if len(nodes) > 1 else nodes[0]
        receiver = _spawn(cluster, StreamReceiver(), other)
        sender = _spawn(
            cluster,
            StreamSender(
                total_bytes=self.total_bytes,
                chunk_bytes=self.chunk_bytes,
                memory_bytes=self.memory_bytes,
            ),
            nodes[0],
            peers={"peer": receiver},
        )
        return [sender, receiver]


def _trace_exists(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    open_trace(value)  # a ValueError naming the shipped traces when there is no such trace


@attrs.frozen
class TracedProgram:
    """A recorded real program (``trace:NAME``): its page references replayed, window by window."""

    trace: str = attrs.field(validator=_trace_exists)
    loops: int = attrs.field(default=1, validator=non_negative)
    instructions_per_s: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive)
    )

    @property
    def name(self) -> str:
        return TRACE_PREFIX + self.trace

    def program(self) -> TraceReplay:
        """The process it runs (at the profile's speed unless ``instructions_per_s``)."""
        return TraceReplay(
            open_trace(self.trace),
            instructions_per_s=self.instructions_per_s,
            loops=self.loops,
            name=self.name,
        )

    def start(self, cluster: Cluster, nodes: Sequence[int]) -> list[int]:
        return [_spawn(cluster, self.program(), nodes[0])]


def is_trace(name: str) -> bool:
    """Whether a workload name replays a trace (``trace:NAME`` or ``trace:PATH``)."""
    return name.startswith(TRACE_PREFIX)


def make_workload(name: str, **params: Any) -> Workload:
    """The workload called ``name`` with ``params``; clear errors for unknown names or params."""
    workloads = registered()
    if is_trace(name):
        factory: Any = TracedProgram
        params = {"trace": name.removeprefix(TRACE_PREFIX), **params}
    else:
        factory = workloads.get(name)
    if factory is None:
        hint = did_you_mean(name, workloads)
        traces = ", ".join(TRACE_PREFIX + t for t in shipped_traces())
        raise UnknownWorkload(
            f"unknown workload {name!r}{hint}; workloads are: {', '.join(sorted(workloads))}, "
            f"and a recorded program: {traces} or trace:PATH"
        )
    allowed = [field.name for field in attrs.fields(factory) if field.name != "name"]
    for key in params:
        if key not in allowed:
            raise UnknownWorkload(
                f"workload {name!r} has no parameter {key!r}; it takes: {', '.join(allowed)}"
            )
    workload: Workload = factory(**params)
    return workload
