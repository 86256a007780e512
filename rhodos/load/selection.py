"""Selection policies: which process moves.

``birth`` places newborn processes (remote execution: 86% of Sprite's migrations
happened at exec time); the others pick a *running* process of the node, to be moved
by preemptive migration through the Migration Manager with the configured strategy.

==========  ==========================================================================
name        the process that moves
==========  ==========================================================================
``birth``   the newborn, placed before it starts (no running process ever moves)
``names``   the newborn, if its program's name is on a list of long-lived programs
            (Harchol-Balter & Downey's non-preemptive policy; the others run here)
``newest``  the youngest running process
``oldest``  the oldest running process
``age``     Harchol-Balter & Downey (1997): a process is eligible once its age exceeds
            its migration cost divided by the load difference, ``age > c / (n - m)``
            (``n`` here, ``m`` at the target); the oldest eligible one moves
``memory``  the one with the smallest address space (the cheapest to move)
==========  ==========================================================================

Every preemptive policy moves a process only when the target's known load is at least
two below this node's (moving it to an equal queue helps nobody); a target whose load
is unknown (random, round-robin) is taken as it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from rhodos.load.policy import Agent, BasePolicy, Target
from rhodos.load.registry import register
from rhodos.load.requests import Resident

__all__ = ["AgeBased", "Birth", "MemoryAware", "NameList", "Newest", "Oldest"]


def _cost(instance: BasePolicy, attribute: attrs.Attribute[float | None], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(
            f"selection policy {type(instance).name!r}: {attribute.name} must be >= 0 "
            f"(or unset: estimated from the profile), got {value!r}"
        )


def worth_moving(agent: Agent, target: Target) -> bool:
    """Whether moving one process from here to ``target`` can shorten a queue."""
    return target.load is None or agent.load - target.load >= 2


@register
@attrs.frozen
class Birth(BasePolicy):
    """Place newborn processes; never move a running one."""

    kind: ClassVar[str] = "selection"
    name: ClassVar[str] = "birth"
    summary: ClassVar[str] = "placement at birth (remote execution); nothing running moves"
    at_birth: ClassVar[bool] = True

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """No running process is chosen."""
        return None

    def places(self, program: str) -> bool:
        """Whether a newborn process running ``program`` may be placed elsewhere: any."""
        return True


@register
@attrs.frozen
class NameList(Birth):
    """Place at birth only the processes whose program is on a list of long-lived ones.

    Harchol-Balter & Downey's non-preemptive policy: a process's name predicts, roughly,
    whether it will live long enough to be worth sending away; the list is built from
    past behaviour (a trace), the rest always run where they arrive.
    """

    name: ClassVar[str] = "names"
    summary: ClassVar[str] = "placement at birth of the programs on a list of long-lived ones"

    names: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)

    def places(self, program: str) -> bool:
        """``program`` is on the list."""
        return program in self.names


@register
@attrs.frozen
class Newest(Birth):
    """The youngest running process."""

    name: ClassVar[str] = "newest"
    summary: ClassVar[str] = "preemptive: the youngest running process"
    at_birth: ClassVar[bool] = False

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """The resident born last."""
        if not residents or not worth_moving(agent, target):
            return None
        return max(residents, key=lambda r: (r.born_at, r.pid))


@register
@attrs.frozen
class Oldest(Newest):
    """The oldest running process."""

    name: ClassVar[str] = "oldest"
    summary: ClassVar[str] = "preemptive: the oldest running process"

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """The resident born first."""
        if not residents or not worth_moving(agent, target):
            return None
        return min(residents, key=lambda r: (r.born_at, r.pid))


@register
@attrs.frozen
class AgeBased(Newest):
    """Harchol-Balter & Downey: migrate a process once ``age > cost / (n - m)``.

    ``cost_s`` is the migration cost in seconds; unset, it is estimated per process from
    the profile (:meth:`~rhodos.load.policy.Agent.migration_cost_s`: the state and the
    address space over the network, plus the kernel's per-message work).
    """

    name: ClassVar[str] = "age"
    summary: ClassVar[str] = "preemptive: the oldest process whose age > cost / (n - m)"

    cost_s: float | None = attrs.field(default=None, validator=_cost)

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """The oldest resident old enough to pay for its move."""
        if not residents or not worth_moving(agent, target):
            return None
        difference = agent.load - (target.load if target.load is not None else 0)
        now = agent.now
        best: Resident | None = None
        for resident in residents:
            cost = self.cost_s
            if cost is None:
                cost = agent.migration_cost_s(resident.pages)
            if now - resident.born_at > cost / difference and (
                best is None or (resident.born_at, resident.pid) < (best.born_at, best.pid)
            ):
                best = resident
        return best


@register
@attrs.frozen
class MemoryAware(Newest):
    """The process with the smallest address space: the cheapest to move."""

    name: ClassVar[str] = "memory"
    summary: ClassVar[str] = "preemptive: the process with the smallest address space"

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """The smallest resident (the oldest of equals)."""
        if not residents or not worth_moving(agent, target):
            return None
        return min(residents, key=lambda r: (r.pages, r.born_at, r.pid))
