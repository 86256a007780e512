"""The programs of the named workloads: CPU-bound, memory writer, ping-pong, server/client."""

from __future__ import annotations

import attrs

from rhodos.kernel import Compute, Exit, Receive, Send, Sleep
from rhodos.workload.program import ProgramContext, ProgramGenerator
from rhodos.workload.reference import ReferenceModel

__all__ = ["Client", "Computer", "Pinger", "Ponger", "RequestServer"]

KIB = 1024


def _bursts(
    ctx: ProgramContext, refs: ReferenceModel, cpu_seconds: float, burst_s: float
) -> ProgramGenerator:
    """Compute ``cpu_seconds`` in bursts, each followed by its batch of references."""
    code = ctx.layout.segments()[0]
    done, i = 0.0, 0
    while cpu_seconds - done > 1e-12:
        burst = min(burst_s, cpu_seconds - done)
        yield Compute(burst)
        yield refs.sample(ctx.layout, burst, ctx.rng, code_page=code.first + i % code.pages)
        done += burst
        i += 1


@attrs.frozen
class Computer:
    """Computes for ``cpu_seconds`` touching its memory as ``refs`` says, then exits."""

    name: str = "cpu-bound"
    memory_bytes: int = 256 * KIB
    cpu_seconds: float = 2.0
    burst_s: float = 0.05
    refs: ReferenceModel = attrs.field(
        factory=lambda: ReferenceModel(working_set=0.5, locality=0.8, write_fraction=0.1)
    )

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield from _bursts(ctx, self.refs, self.cpu_seconds, self.burst_s)
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
            yield self.refs.sample(ctx.layout, self.service_s, ctx.rng)
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
