"""Processes that talk across crashes, and the tally that checks their messages.

A :class:`Counter` sends its peer the numbers 1, 2, ... ``rounds``, each after a short
computation, and waits for each to come back; an :class:`Echo` sends back every number
it receives; a :class:`Chatter` makes any program talk to an echo between its
computations (the fault matrix's migrating process). All write down, in a shared
:class:`Tally`, every number their program sends and every number it takes, so that a
run can count, whatever crashed and was restarted meanwhile, the messages that never
reached their receiving program (lost), those that reached it more than once
(duplicated), those taken out of order, and those returned to their sender as
undeliverable (their receiver ended for good). Channels are exactly-once when the first
three are 0.

The tally is written by the programs' own code, which runs once per process whatever
is re-run after a restart (:mod:`rhodos.faults.replay`): it counts what each program
took, as the program itself would.
"""

from __future__ import annotations

from collections import Counter as Counts

import attrs

from rhodos.kernel import Compute, Exit, Receive, Send, Undeliverable, UserMessage
from rhodos.workload.program import Program, ProgramContext, ProgramGenerator

__all__ = ["Chatter", "Counter", "Echo", "Tally"]

#: A message's identity in the tally: (sending pid, receiving pid, number).
Key = tuple[int, int, int]


@attrs.define
class Tally:
    """What the talking programs sent and took, message by message."""

    sent: Counts[Key] = attrs.field(factory=Counts)
    taken: Counts[Key] = attrs.field(factory=Counts)
    bounced: Counts[Key] = attrs.field(factory=Counts)
    #: The numbers each receiving program took from each sender, in the order it took them.
    order: dict[tuple[int, int], list[int]] = attrs.field(factory=dict)

    def send(self, src: int, dst: int, number: int) -> None:
        """Program ``src`` sent ``number`` to ``dst``."""
        self.sent[(src, dst, number)] += 1

    def take(self, pid: int, message: UserMessage) -> bool:
        """Program ``pid`` took ``message``; ``True`` when it is a notice that a message
        it sent is undeliverable (its peer has ended: it stops)."""
        if isinstance(message.body, Undeliverable):
            returned = message.body.message
            self.bounced[(returned.src_pid, returned.dst_pid, returned.body[1])] += 1
            return True
        src, number = message.body
        self.taken[(src, pid, number)] += 1
        self.order.setdefault((src, pid), []).append(number)
        return False

    @property
    def messages(self) -> int:
        """Messages the programs sent."""
        return sum(self.sent.values())

    def lost(self, ended: frozenset[int] = frozenset()) -> int:
        """Messages sent that their receiver never took and that were not returned,
        except those between processes of ``ended`` (processes that were reported lost:
        what they had not taken went with them, and the report says so)."""
        return sum(
            max(0, n - self.taken[key] - self.bounced[key])
            for key, n in self.sent.items()
            if key[0] not in ended and key[1] not in ended
        )

    @property
    def duplicated(self) -> int:
        """Messages taken more often than they were sent."""
        return sum(max(0, n - self.sent[key]) for key, n in self.taken.items())

    @property
    def out_of_order(self) -> int:
        """Messages taken after a higher number from the same sender."""
        late = 0
        for numbers in self.order.values():
            highest = 0
            for number in numbers:
                late += number < highest
                highest = max(highest, number)
        return late

    @property
    def undeliverable(self) -> int:
        """Messages returned to their sending program as undeliverable."""
        return sum(self.bounced.values())


@attrs.frozen
class Counter:
    """Sends ``peers['peer']`` the numbers 1 to ``rounds`` and waits for each to come back."""

    tally: Tally = attrs.field(eq=False, repr=False)
    rounds: int = 100
    compute_s: float = 0.01
    size_bytes: int = 256
    name: str = "counter"
    memory_bytes: int = 64 * 1024

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer = ctx.peers["peer"]
        for number in range(1, self.rounds + 1):
            yield Compute(self.compute_s)
            yield Send(peer, self.size_bytes, (ctx.pid, number))
            self.tally.send(ctx.pid, peer, number)
            reply = yield Receive()
            if self.tally.take(ctx.pid, reply):
                break
        yield Exit(0)


@attrs.frozen
class Echo:
    """Sends every number it receives back to its sender, ``rounds`` times."""

    tally: Tally = attrs.field(eq=False, repr=False)
    rounds: int = 100
    compute_s: float = 0.01
    size_bytes: int = 256
    name: str = "echo"
    memory_bytes: int = 64 * 1024

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        for _ in range(self.rounds):
            message = yield Receive()
            if self.tally.take(ctx.pid, message):
                break
            yield Compute(self.compute_s)
            _, number = message.body
            yield Send(message.src_pid, self.size_bytes, (ctx.pid, number))
            self.tally.send(ctx.pid, message.src_pid, number)
        yield Exit(0)


@attrs.frozen
class Chatter:
    """Runs ``program`` and, after every ``every``-th computation of it, sends
    ``peers['peer']`` the next number (1 to ``messages``) and waits for it to come back
    (an :class:`Echo` of ``messages`` rounds answers); when a number is returned as
    undeliverable it stops talking and runs on."""

    program: Program
    tally: Tally = attrs.field(eq=False, repr=False)
    messages: int = 20
    every: int = 4
    size_bytes: int = 256

    @property
    def name(self) -> str:
        """The wrapped program's name."""
        return self.program.name

    @property
    def memory_bytes(self) -> int:
        """The wrapped program's address space."""
        return self.program.memory_bytes

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        peer = ctx.peers["peer"]
        inner = self.program.run(ctx)
        computed = number = 0
        talking = True
        try:
            action = next(inner)
            while True:
                answer = yield action
                if isinstance(action, Compute):
                    computed += 1
                    if talking and number < self.messages and computed % self.every == 0:
                        number += 1
                        yield Send(peer, self.size_bytes, (ctx.pid, number))
                        self.tally.send(ctx.pid, peer, number)
                        talking = not self.tally.take(ctx.pid, (yield Receive()))
                action = inner.send(answer)
        except StopIteration:
            return
