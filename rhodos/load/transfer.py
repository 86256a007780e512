"""Transfer policies: when a node sends work away, and when it asks for work.

A threshold ``T`` on the queue length (the processes on a node's run queue) is the
queue a node keeps without sharing, as in Eager, Lazowska & Zahorjan (1986) and the
survey of Shivaratri, Krueger & Singhal (1992): a node whose queue, a newborn process
included, would exceed ``T`` is a *sender*; a node takes work only if its queue, the
work included, stays within ``T``; a node whose queue falls below ``T`` is a
*receiver*: it probes up to ``probe_limit`` random nodes for one whose queue exceeds
``T`` and asks it for a process. With ``T = 1`` (the default) a newborn process is
sent away unless it would run alone, and only idle nodes take work.

==============  =====================================================================
name            a node takes part ...
==============  =====================================================================
``never``       never: no load sharing
``always``      at every arrival: the location policy decides (random, power-of-d...)
``sender``      at an arrival that makes its queue exceed ``T`` (sender-initiated)
``receiver``    after a departure that leaves its queue below ``T``
                (receiver-initiated: it pulls a running process, by migration)
``symmetric``   both
``periodic``    every ``period_s`` it looks for a better node for one of its processes
                (Harchol-Balter & Downey's preemptive policy checks this way)
==============  =====================================================================
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.load.policy import Agent, BasePolicy, Decision, Target, at_least, positive
from rhodos.load.registry import register

__all__ = ["Always", "Never", "Periodic", "Receiver", "Sender", "Symmetric"]


@register
@attrs.frozen
class Never(BasePolicy):
    """No node ever takes part: every process runs where it arrives."""

    kind: ClassVar[str] = "transfer"
    name: ClassVar[str] = "never"
    summary: ClassVar[str] = "no load sharing: every process runs where it arrives"

    @property
    def period_s(self) -> float | None:
        """No periodic check."""
        return None

    def sender(self, load: int) -> bool:
        """Never a sender."""
        return False

    def receiver(self, load: int) -> bool:
        """Never a receiver."""
        return False

    def gives(self, load: int) -> bool:
        """Gives nothing away."""
        return False

    def find_sender(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Looks for nobody."""
        return None
        yield


@register
@attrs.frozen
class Always(Never):
    """Every arrival is offered to the location policy."""

    name: ClassVar[str] = "always"
    summary: ClassVar[str] = "every arrival: the location policy decides where it runs"

    def sender(self, load: int) -> bool:
        """Always a sender."""
        return True


@register
@attrs.frozen
class Sender(Never):
    """Sender-initiated: an arrival that makes the queue exceed ``threshold`` is sent away."""

    name: ClassVar[str] = "sender"
    summary: ClassVar[str] = "sender-initiated: an arrival that makes the queue exceed T"

    threshold: int = attrs.field(default=1, validator=at_least(1))

    def sender(self, load: int) -> bool:
        """``load`` (the newcomer included) exceeds the threshold."""
        return load > self.threshold


@register
@attrs.frozen
class Receiver(Never):
    """Receiver-initiated: a node whose queue falls low pulls a process from a loaded one."""

    name: ClassVar[str] = "receiver"
    summary: ClassVar[str] = "receiver-initiated: a short queue pulls a process from a long one"

    threshold: int = attrs.field(default=1, validator=at_least(1))
    probe_limit: int = attrs.field(default=3, validator=at_least(1))

    def receiver(self, load: int) -> bool:
        """The queue is below the threshold."""
        return load < self.threshold

    def gives(self, load: int) -> bool:
        """The queue exceeds the threshold."""
        return load > self.threshold

    def find_sender(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Probe up to ``probe_limit`` random candidates, one at a time; the first whose
        queue exceeds the threshold (``None``: none did)."""
        for node in agent.sample(candidates, self.probe_limit):
            (load,) = yield from agent.probe([node])
            if self.gives(load):
                return Target(node, load)
        return None


@register
@attrs.frozen
class Symmetric(Receiver):
    """Both: long queues send their arrivals, short queues pull processes."""

    name: ClassVar[str] = "symmetric"
    summary: ClassVar[str] = "both sender- and receiver-initiated"

    def sender(self, load: int) -> bool:
        """``load`` (the newcomer included) exceeds the threshold."""
        return load > self.threshold


@register
@attrs.frozen
class Periodic(Never):
    """Every ``period_s`` a node looks for a better node for one of its processes."""

    name: ClassVar[str] = "periodic"
    summary: ClassVar[str] = "every period: look for a better node for a running process"

    every_s: float = attrs.field(default=1.0, validator=positive)

    @property
    def period_s(self) -> float | None:
        """The period of the check."""
        return self.every_s
