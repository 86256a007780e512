"""Small programs that put a process at the edges of timing.

Each one puts an event that matters to a migration -- the process's exit, a blocking
receive, a long call served by another node's kernel -- at an instant a test or the
fuzzer (:mod:`rhodos.testing.fuzz`) can aim at. They check what they receive and
raise when it is wrong, so a broken delivery cannot pass unnoticed.
"""

from __future__ import annotations

import attrs
import numpy as np

from rhodos.kernel import Compute, Exit, HomeCall, Receive, Send, Sleep, Touch
from rhodos.workload import ProgramContext, ProgramGenerator

__all__ = ["CallThenExit", "Hub", "LateSender", "OneShot", "SleepThenExit", "Toucher"]

KIB = 1024


@attrs.frozen
class SleepThenExit:
    """Sleeps ``sleep_s``, then exits: its exit instant is known to the microsecond."""

    name: str = "sleep-then-exit"
    memory_bytes: int = 32 * KIB
    sleep_s: float = 0.1

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Sleep(self.sleep_s)
        yield Exit(0)


@attrs.frozen
class CallThenExit:
    """Computes, makes a location-dependent call of ``service_s`` (kernel work on its home
    node), then exits: a migration asked during the call meets the exit."""

    name: str = "call-then-exit"
    memory_bytes: int = 64 * KIB
    compute_s: float = 0.05
    service_s: float = 0.05

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Compute(self.compute_s)
        yield HomeCall("dev", size_bytes=64, service_s=self.service_s)
        yield Exit(0)


@attrs.frozen
class Hub:
    """Answers the ``"hello"`` of each of ``clients`` correspondents and receives one
    ``"late"`` message, in whatever order they come (messages of different senders
    are not ordered), then exits; it blocks in Receive until the last one arrives.

    Each correspondent adds two channels to its communication state (16 bytes each on
    the wire), so a hub with a thousand clients moves a ~32 KB state.
    """

    clients: int
    name: str = "hub"
    memory_bytes: int = 32 * KIB

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        answered, late = 0, 0
        while answered < self.clients or not late:
            message = yield Receive()
            if message.body == "hello":
                answered += 1
                yield Send(message.src_pid, 64, "ack")
            elif message.body == "late":
                late += 1
            else:
                raise AssertionError(f"hub {ctx.pid} got {message.body!r}")
        if answered != self.clients or late != 1:
            raise AssertionError(f"hub {ctx.pid}: {answered} hellos and {late} late messages")
        yield Exit(0)


@attrs.frozen
class OneShot:
    """Sends one message to ``peers['hub']`` after a short pause and waits for the answer."""

    name: str = "one-shot"
    memory_bytes: int = 16 * KIB
    start_s: float = 0.05

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Sleep(self.start_s + 0.0001 * ctx.pid)
        yield Send(ctx.peers["hub"], 64, "hello")
        answer = yield Receive()
        if answer.body != "ack":
            raise AssertionError(f"client {ctx.pid} expected 'ack', got {answer.body!r}")
        yield Exit(0)


@attrs.frozen
class LateSender:
    """Sends ``"late"`` to ``peers['hub']`` at ``at`` seconds, then exits."""

    at: float
    name: str = "late-sender"
    memory_bytes: int = 16 * KIB

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Sleep(self.at)
        yield Send(ctx.peers["hub"], 64, "late")
        yield Exit(0)


@attrs.frozen
class Toucher:
    """Computes ``compute_s``, then reads every page of its address space once, then exits."""

    name: str = "toucher"
    memory_bytes: int = 32 * KIB
    compute_s: float = 0.1

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        yield Compute(self.compute_s)
        pages = np.arange(ctx.layout.pages)
        yield Touch(pages, np.zeros(pages.size, dtype=np.bool_))
        yield Exit(0)
