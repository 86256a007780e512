"""An echo server and its caller: the workload example of docs/how-to/new-workload.md.

Load it without making a package: ``rhodos --plugin echo.py workloads``, then
``rhodos --plugin echo.py migrate --strategy postcopy --workload echo``.
"""

from __future__ import annotations

from typing import Any

import attrs

from rhodos.kernel import Cluster, Compute, Exit, Receive, Send, Sleep
from rhodos.system import spawn
from rhodos.validators import non_negative, positive
from rhodos.workload import ProgramContext, ReferenceModel, register


@attrs.frozen
class Echo:
    """Answers every message with its body, writing a little memory each time; exits
    after answering "bye"."""

    name: str = "echo"
    memory_bytes: int = 64 * 1024  # the address space the process gets
    refs: ReferenceModel = attrs.field(factory=lambda: ReferenceModel(dirty_rate=5.0))

    def run(self, ctx: ProgramContext) -> Any:
        while True:
            msg = yield Receive()
            yield Compute(0.001)
            yield self.refs.sample(ctx.layout, 0.001, ctx.rng)  # the burst's references
            yield Send(msg.src_pid, 64, msg.body)
            if msg.body == "bye":
                yield Exit(0)


@attrs.frozen
class Caller:
    """Calls ``peers['echo']`` ``calls`` times, ``think_s`` apart, then says "bye"."""

    name: str = "caller"
    memory_bytes: int = 16 * 1024
    calls: int = 50
    think_s: float = 0.02

    def run(self, ctx: ProgramContext) -> Any:
        echo = ctx.peers["echo"]
        for i in [*range(self.calls), "bye"]:
            yield Sleep(self.think_s)
            yield Send(echo, 64, i)
            yield Receive()
        yield Exit(0)


@register
@attrs.frozen
class EchoPair:
    """An echo server on the first node (the process migrated) and its caller on the next."""

    name: str = "echo"
    memory_bytes: int = attrs.field(default=64 * 1024, validator=positive)
    calls: int = attrs.field(default=50, validator=non_negative)
    think_s: float = attrs.field(default=0.02, validator=non_negative)

    def start(self, cluster: Cluster, nodes: list[int]) -> list[int]:
        echo, _ = spawn(cluster, Echo(memory_bytes=self.memory_bytes), nodes[0])
        other = nodes[1] if len(nodes) > 1 else nodes[0]
        caller = Caller(calls=self.calls, think_s=self.think_s)
        caller_pid, _ = spawn(cluster, caller, other, peers={"echo": echo})
        return [echo, caller_pid]
