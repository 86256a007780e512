"""Oracle programs: processes that record what they did, so the invariants can be checked.

A :class:`MemoryOracle` runs the memory-writing workload program
(:class:`rhodos.workload.Computer`), tallies the page versions its batches wrote and,
right before it exits, compares them with the pages where the system keeps them. The
message oracles (:class:`Talker`, :class:`StreamSender` / :class:`StreamReceiver`,
:class:`OracleServer` / :class:`OracleClient`) record, per channel, every body sent and
received in a shared :class:`MessageLog`; their bodies are unique per channel, which
exactly-once FIFO checking needs and the workload programs' messages are not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Cluster, Compute, Exit, Receive, Send, Sleep, Touch
from rhodos.testing.checks import page_versions
from rhodos.workload import Computer, ProgramContext, ProgramGenerator, ReferenceModel

__all__ = [
    "MemoryOracle",
    "MessageLog",
    "OracleClient",
    "OracleServer",
    "StreamReceiver",
    "StreamSender",
    "Talker",
]

KIB = 1024

Channel = tuple[int, int]


@attrs.define(eq=False)
class MemoryOracle:
    """A memory-writing program that knows the version every page must have.

    It runs :class:`rhodos.workload.Computer` with a :class:`ReferenceModel` writing
    ``dirty_rate`` pages per second: compute bursts, each followed by its batch of
    references. The kernel raises a written page's version once per batch, so the
    oracle tallies, per page, how many batches wrote it. Right before it exits -- inside
    its generator, while the process still exists -- it looks every page up where the
    system keeps it (:func:`~rhodos.testing.page_versions`) and records any difference in
    :attr:`violations`.

    One instance runs as one process (it holds that process's observations).
    """

    cluster: Cluster = attrs.field(repr=False)
    name: str = "memory-oracle"
    memory_bytes: int = 96 * KIB
    cpu_seconds: float = 0.6
    burst_s: float = 0.01
    dirty_rate: float = 400.0
    refs_per_s: float = 1600.0
    working_set: float = 1.0
    locality: float = 0.3
    #: Every this many bursts, also read every page (0: never), so that a lazy
    #: migration's residual dependency ends while the process runs.
    sweep_every: int = 10
    #: Filled in as the program runs.
    pid: int | None = None
    written: npt.NDArray[np.int64] | None = attrs.field(default=None, repr=False)
    batches: int = 0
    checked_at: float | None = None
    violations: list[str] = attrs.field(factory=list)

    @property
    def refs(self) -> ReferenceModel:
        """The reference model of the bursts."""
        return ReferenceModel(
            working_set=self.working_set,
            locality=self.locality,
            refs_per_s=self.refs_per_s,
            dirty_rate=self.dirty_rate,
        )

    @property
    def program(self) -> Computer:
        """The workload program the oracle runs and watches."""
        return Computer(
            name=self.name,
            memory_bytes=self.memory_bytes,
            cpu_seconds=self.cpu_seconds,
            burst_s=self.burst_s,
            refs=self.refs,
        )

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        if self.pid is not None:
            raise RuntimeError("a MemoryOracle runs as one process only; make another")
        self.pid = ctx.pid
        pages = ctx.layout.pages
        self.written = np.zeros(pages, dtype=np.int64)
        for action in self.program.run(ctx):
            if isinstance(action, Exit):
                self.check()
            step = self._with_sweep(action, pages) if isinstance(action, Touch) else action
            yield step
            if isinstance(step, Touch):
                self.written[np.unique(step.pages[step.writes])] += 1
                self.batches += 1

    def _with_sweep(self, touch: Touch, pages: int) -> Touch:
        """Every ``sweep_every``-th batch also reads every page."""
        if not self.sweep_every or self.batches % self.sweep_every != self.sweep_every - 1:
            return touch
        return Touch(
            np.concatenate((touch.pages, np.arange(pages))),
            np.concatenate((touch.writes, np.zeros(pages, dtype=np.bool_))),
        )

    def check(self) -> list[str]:
        """Compare every page's authoritative version with the tally; record differences."""
        assert self.pid is not None and self.written is not None
        self.checked_at = float(self.cluster.now)
        found, problems = page_versions(self.cluster, self.pid)
        if found.size == self.written.size:
            wrong = np.flatnonzero(found != self.written)
            if wrong.size:
                problems.append(
                    f"process {self.pid}: page versions differ from the writes at "
                    f"t={self.checked_at:.6f}: "
                    + ", ".join(
                        f"page {p} is {found[p]}, written {self.written[p]}"
                        for p in wrong[:8].tolist()
                    )
                )
        self.violations.extend(problems)
        return problems


@attrs.define(eq=False)
class MessageLog:
    """What the message oracles of one run sent and received, per channel (src, dst).

    A body is recorded as sent when the program issues the send (a send, once issued,
    always completes), and as received when the program gets it; every body is unique
    on its channel, so exactly-once FIFO delivery means: what a channel received is a
    prefix of what it sent, and at the end all of it.
    """

    sent: dict[Channel, list[Any]] = attrs.field(factory=lambda: defaultdict(list))
    received: dict[Channel, list[Any]] = attrs.field(factory=lambda: defaultdict(list))
    #: What the programs themselves found wrong (an unexpected reply, a gap).
    problems: list[str] = attrs.field(factory=list)

    def on_send(self, src: int, dst: int, body: Any) -> None:
        """``src`` issued a send of ``body`` to ``dst``."""
        self.sent[(src, dst)].append(body)

    def on_receive(self, src: int, dst: int, body: Any) -> None:
        """``dst`` received ``body`` from ``src``."""
        self.received[(src, dst)].append(body)

    def violations(self, *, final: bool = False) -> list[str]:
        """Duplicated, reordered or unexpected deliveries; with ``final``, lost ones too."""
        out = list(self.problems)
        for channel in sorted(set(self.sent) | set(self.received)):
            sent, got = self.sent.get(channel, []), self.received.get(channel, [])
            src, dst = channel
            if got != sent[: len(got)]:
                at = next(
                    (i for i, (a, b) in enumerate(zip(got, sent, strict=False)) if a != b),
                    min(len(got), len(sent)),
                )
                out.append(
                    f"channel {src}->{dst}: delivery {at} was {_at(got, at)!r}, "
                    f"expected {_at(sent, at)!r} (duplicate, reordered or unknown; "
                    f"{len(got)} received of {len(sent)} sent)"
                )
            elif final and len(got) != len(sent):
                out.append(
                    f"channel {src}->{dst}: {len(sent) - len(got)} of {len(sent)} messages "
                    f"never received (first lost: {sent[len(got)]!r})"
                )
        return out


def _at(items: Sequence[Any], index: int) -> Any:
    return items[index] if index < len(items) else "<nothing>"


@attrs.define(eq=False)
class Talker:
    """One side of a two-way conversation with ``peers['peer']``.

    Each round it sends ``window`` numbered messages, then receives ``window`` from its
    peer; two talkers facing each other keep messages flowing both ways at once.
    """

    log: MessageLog = attrs.field(repr=False)
    name: str = "talker"
    memory_bytes: int = 32 * KIB
    rounds: int = 40
    window: int = 3
    size_bytes: int = 512
    compute_s: float = 0.002
    #: Idle time before the first send (its peer is still being spawned).
    start_s: float = 0.005
    #: Read every page after each round, so that a lazy migration's residual ends.
    sweep: bool = True

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer, me = ctx.peers["peer"], ctx.pid
        every_page = np.arange(ctx.layout.pages)
        yield Sleep(self.start_s)
        for r in range(self.rounds):
            if self.sweep:
                yield Touch(every_page, np.zeros(every_page.size, dtype=np.bool_))
            for j in range(self.window):
                body = ("talk", me, r, j)
                self.log.on_send(me, peer, body)
                yield Send(peer, self.size_bytes, body)
                yield Compute(self.compute_s)
            for j in range(self.window):
                message = yield Receive()
                self.log.on_receive(message.src_pid, me, message.body)
                if message.body != ("talk", peer, r, j):
                    self.log.problems.append(
                        f"talker {me} expected {('talk', peer, r, j)!r}, got {message.body!r}"
                    )
        yield Exit(0)


@attrs.define(eq=False)
class StreamSender:
    """Sends ``chunks`` numbered chunks to ``peers['peer']`` without waiting."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "stream-sender"
    memory_bytes: int = 32 * KIB
    chunks: int = 120
    size_bytes: int = 1024
    compute_s: float = 0.003
    #: Idle time before the first send (its peer is still being spawned).
    start_s: float = 0.005

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer, me = ctx.peers["peer"], ctx.pid
        yield Sleep(self.start_s)
        for i in range(self.chunks):
            yield Compute(self.compute_s)
            self.log.on_send(me, peer, ("chunk", i))
            yield Send(peer, self.size_bytes, ("chunk", i))
        yield Exit(0)


@attrs.define(eq=False)
class StreamReceiver:
    """Receives ``chunks`` chunks and checks they are contiguous: 0, 1, 2, ..."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "stream-receiver"
    memory_bytes: int = 32 * KIB
    chunks: int = 120
    compute_s: float = 0.001

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        me = ctx.pid
        for i in range(self.chunks):
            message = yield Receive()
            self.log.on_receive(message.src_pid, me, message.body)
            if message.body != ("chunk", i):
                self.log.problems.append(
                    f"stream into {me}: chunk {i} expected, got {message.body!r}"
                )
            yield Compute(self.compute_s)
        yield Exit(0)


@attrs.define(eq=False)
class OracleServer:
    """Serves ``requests`` requests from any client, replying to each with its number."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "oracle-server"
    memory_bytes: int = 64 * KIB
    requests: int = 60
    service_s: float = 0.004
    reply_bytes: int = 1024

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        me = ctx.pid
        for _ in range(self.requests):
            request = yield Receive()
            self.log.on_receive(request.src_pid, me, request.body)
            yield Compute(self.service_s)
            body = ("reply", request.body)
            self.log.on_send(me, request.src_pid, body)
            yield Send(request.src_pid, self.reply_bytes, body)
        yield Exit(0)


@attrs.define(eq=False)
class OracleClient:
    """Sends ``requests`` numbered requests to ``peers['server']``, awaiting each reply."""

    log: MessageLog = attrs.field(repr=False)
    name: str = "oracle-client"
    memory_bytes: int = 32 * KIB
    requests: int = 20
    request_bytes: int = 256
    think_s: float = 0.01

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        server, me = ctx.peers["server"], ctx.pid
        for i in range(self.requests):
            yield Sleep(float(ctx.rng.exponential(self.think_s)))
            body = ("request", me, i)
            self.log.on_send(me, server, body)
            yield Send(server, 256, body)
            reply = yield Receive()
            self.log.on_receive(reply.src_pid, me, reply.body)
            if reply.body != ("reply", body):
                self.log.problems.append(
                    f"client {me} expected the reply to {body!r}, got {reply.body!r}"
                )
        yield Exit(0)
