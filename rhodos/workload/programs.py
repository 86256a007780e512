"""The programs of the named workloads: CPU-bound, memory writer, ping-pong, server/client."""

from __future__ import annotations

import attrs

from rhodos.kernel import Compute, Exit, HomeCall, OpenFile, Receive, Send, Sleep, WriteFile
from rhodos.workload.program import ProgramContext, ProgramGenerator
from rhodos.workload.reference import ReferenceModel

__all__ = [
    "Client",
    "Computer",
    "Pinger",
    "Ponger",
    "RequestServer",
    "StreamBroken",
    "StreamReceiver",
    "StreamSender",
]

KIB = 1024


#: The location-dependent call of the workloads: a device on the home node.
DEVICE_CALL = HomeCall("device", size_bytes=256, service_s=0.0005)


def _bursts(
    ctx: ProgramContext,
    refs: ReferenceModel,
    cpu_seconds: float,
    burst_s: float,
    home_calls_per_s: float = 0.0,
    home_call: HomeCall = DEVICE_CALL,
) -> ProgramGenerator:
    """Compute ``cpu_seconds`` in bursts, each followed by its batch of references and,
    at ``home_calls_per_s`` on average, location-dependent calls (``home_call``: a device
    on the home node)."""
    code = ctx.layout.segments()[0]
    burst_s = refs.burst_for(burst_s)
    done, i = 0.0, 0
    while cpu_seconds - done > 1e-12:
        burst = min(burst_s, cpu_seconds - done)
        yield Compute(burst)
        yield refs.sample(
            ctx.layout,
            burst,
            ctx.rng,
            code_page=code.first + i % code.pages,
            page_size=ctx.page_size,
        )
        if home_calls_per_s > 0:
            for _ in range(int(ctx.rng.poisson(home_calls_per_s * burst))):
                yield home_call
        done += burst
        i += 1


def _files(ctx: ProgramContext, open_files: int, dirty_blocks: int) -> ProgramGenerator:
    """Open ``open_files`` files and write ``dirty_blocks`` blocks (one page each) into them,
    round robin: they stay dirty in the node's block cache (delayed write)."""
    fds = []
    for _ in range(open_files):
        fd = yield OpenFile()
        fds.append(fd)
    for i in range(dirty_blocks if fds else 0):
        yield WriteFile(fds[i % len(fds)], ctx.page_size)


@attrs.frozen
class Computer:
    """Opens ``open_files`` files and writes ``dirty_file_blocks`` blocks into them, then
    computes for ``cpu_seconds`` touching its memory as ``refs`` says, then exits."""

    name: str = "cpu-bound"
    memory_bytes: int = 256 * KIB
    cpu_seconds: float = 2.0
    burst_s: float = 0.05
    refs: ReferenceModel = attrs.field(
        factory=lambda: ReferenceModel(working_set=0.5, locality=0.8, write_fraction=0.1)
    )
    home_calls_per_s: float = 0.0
    #: Bytes each way and service time at home of each location-dependent call.
    home_call_bytes: int = DEVICE_CALL.size_bytes
    home_call_service_s: float = DEVICE_CALL.service_s
    open_files: int = 0
    dirty_file_blocks: int = 0

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield from _files(ctx, self.open_files, self.dirty_file_blocks)
        call = HomeCall("device", self.home_call_bytes, self.home_call_service_s)
        yield from _bursts(
            ctx, self.refs, self.cpu_seconds, self.burst_s, self.home_calls_per_s, call
        )
        yield Exit(0)


@attrs.frozen
class Pinger:
    """Sends ``rounds`` messages of ``size_bytes`` to ``peers['peer']``, awaiting each echo."""

    name: str = "ping"
    memory_bytes: int = 64 * KIB
    rounds: int = 100
    size_bytes: int = 256
    compute_s: float = 0.001

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer = ctx.peers["peer"]
        for i in range(self.rounds):
            yield Compute(self.compute_s)
            yield Send(peer, self.size_bytes, ("ping", i))
            reply = yield Receive()
            if reply.body != ("pong", i):
                raise AssertionError(f"ping {i} got {reply.body!r}")
        yield Exit(0)


@attrs.frozen
class Ponger:
    """Echoes ``rounds`` messages back to their sender."""

    name: str = "pong"
    memory_bytes: int = 64 * KIB
    rounds: int = 100
    size_bytes: int = 256
    compute_s: float = 0.001

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        for _ in range(self.rounds):
            msg = yield Receive()
            yield Compute(self.compute_s)
            yield Send(msg.src_pid, self.size_bytes, ("pong", msg.body[1]))
        yield Exit(0)


@attrs.frozen
class RequestServer:
    """Serves ``requests`` requests (``service_s`` of CPU each), replying to each client."""

    name: str = "server"
    memory_bytes: int = 512 * KIB
    requests: int = 100
    service_s: float = 0.005
    reply_bytes: int = 1024
    refs: ReferenceModel = attrs.field(
        factory=lambda: ReferenceModel(working_set=0.3, locality=0.5, write_fraction=0.2)
    )

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        for _ in range(self.requests):
            request = yield Receive()
            yield Compute(self.service_s)
            yield self.refs.sample(ctx.layout, self.service_s, ctx.rng, page_size=ctx.page_size)
            yield Send(request.src_pid, self.reply_bytes, ("reply", request.body))
        yield Exit(0)


@attrs.frozen
class Client:
    """Sends ``requests`` requests to ``peers['server']``, thinking ``think_s`` between them."""

    name: str = "client"
    memory_bytes: int = 64 * KIB
    requests: int = 25
    request_bytes: int = 128
    think_s: float = 0.02

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        server = ctx.peers["server"]
        for i in range(self.requests):
            yield Sleep(float(ctx.rng.exponential(self.think_s)))
            yield Send(server, self.request_bytes, i)
            yield Receive()
        yield Exit(0)


class StreamBroken(AssertionError):
    """A stream connection lost, duplicated or reordered bytes."""


@attrs.frozen
class StreamSender:
    """Writes ``total_bytes`` to ``peers['peer']`` as a byte stream, ``chunk_bytes`` at a time.

    It knows nothing of migration: it addresses its peer by pid throughout.
    """

    name: str = "stream-sender"
    memory_bytes: int = 64 * KIB
    total_bytes: int = 256 * KIB
    chunk_bytes: int = 4 * KIB
    compute_s: float = 0.002

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer = ctx.peers["peer"]
        offset = 0
        while offset < self.total_bytes:
            length = min(self.chunk_bytes, self.total_bytes - offset)
            yield Compute(self.compute_s)
            yield Send(peer, length, ("data", offset, length))
            offset += length
        yield Send(peer, 16, ("eof", offset, 0))
        yield Exit(0)


@attrs.frozen
class StreamReceiver:
    """Reads a byte stream and checks that every byte arrives once, in order.

    It raises :class:`StreamBroken` (the simulation stops loudly) on a gap, an overlap
    or a reordering; it exits with code 0 after the end of the stream.
    """

    name: str = "stream-receiver"
    memory_bytes: int = 64 * KIB
    compute_s: float = 0.001

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        expected = 0
        while True:
            msg = yield Receive()
            kind, offset, length = msg.body
            if offset != expected:
                raise StreamBroken(f"stream expected byte {expected}, got {offset}")
            if kind == "eof":
                break
            expected += length
            yield Compute(self.compute_s)
        yield Exit(0)
