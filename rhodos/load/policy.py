"""The four kinds of load-sharing policy, the protocol of each, and the agent they act through.

A load-sharing algorithm is classically split in four (Eager, Lazowska & Zahorjan 1986;
Zhou 1988; Shivaratri, Krueger & Singhal 1992):

* **information** -- what a node knows of the others' loads, and what it costs to know
  it: periodic broadcast, exchange with a few random nodes, a central load server,
  or nothing but probes at decision time;
* **transfer** -- *when* a node takes part: a sender when its queue is long, a receiver
  when it is short, both, or periodically;
* **location** -- *where* work goes: random, round-robin, the first probed node under a
  threshold, the shortest of a probed set, the shortest of ``d`` random nodes, the
  least-loaded node as the node knows it;
* **selection** -- *which* process moves: the newborn (placement at birth, remote
  execution), or a running one by preemptive migration (newest, oldest, by age as
  Harchol-Balter & Downey derive it, the cheapest to move).

A policy is a small ``attrs`` frozen class (its fields are its parameters, validated
when it is built) that implements its kind's protocol; it acts only through the
:class:`Agent` -- the Load Manager of its node -- so every message it causes is a real
kernel message that costs what the profile says.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from rhodos.load.requests import Resident
from rhodos.load.view import LoadView

__all__ = [
    "KINDS",
    "Agent",
    "BasePolicy",
    "Decision",
    "InformationPolicy",
    "LocationPolicy",
    "SelectionPolicy",
    "Target",
    "TransferPolicy",
    "at_least",
    "positive",
]

#: The kinds of policy, in the order a decision uses them.
KINDS = ("information", "transfer", "location", "selection")

#: What a policy step that waits is: a simpy generator returning its answer.
Decision = Generator[simpy.events.Event, Any, Any]


@attrs.frozen
class Target:
    """A node work may go to, and its load as the deciding node knows it (``None``: unknown)."""

    node: int
    load: int | None


class Agent(Protocol):
    """What a policy sees of its node's Load Manager."""

    @property
    def node_id(self) -> int:
        """This node."""
        ...

    @property
    def now(self) -> float:
        """The simulated time."""
        ...

    @property
    def load(self) -> int:
        """This node's load now: the processes on its CPU's run queue."""
        ...

    @property
    def view(self) -> LoadView:
        """What this node knows of the others' loads (and how old each entry is)."""
        ...

    def uniform(self) -> float:
        """The next number of this node's random stream, uniform in [0, 1)."""
        ...

    def sample(self, candidates: npt.NDArray[np.int32], count: int) -> list[int]:
        """``count`` distinct candidates drawn at random (all of them if fewer)."""
        ...

    def sample_indices(self, n: int, count: int) -> list[int]:
        """``count`` distinct indices in ``range(n)`` drawn at random (all if fewer)."""
        ...

    def turn(self) -> int:
        """0, 1, 2, ...: this node's next round-robin turn."""
        ...

    def probe(self, nodes: Sequence[int]) -> Decision:
        """Ask ``nodes`` for their loads (one request/reply each, in parallel); the value
        is the list of their loads, in order, as each was when it answered."""
        ...

    def report(self, node: int) -> None:
        """Send this node's load to ``node``'s Load Manager (one message, one-way)."""
        ...

    def least_loaded(self, candidates: npt.NDArray[np.int32]) -> Decision:
        """The least-loaded candidate as the information policy knows it (a
        :class:`Target`, ``None`` when none is known)."""
        ...

    def ask_least_loaded(self, server: int, candidates: npt.NDArray[np.int32]) -> Decision:
        """Ask the load server on ``server`` for its least-loaded candidate (a round trip)."""
        ...

    def every(self, period_s: float, action: Any) -> None:
        """Call ``action()`` every ``period_s``, from a random phase in the first period."""
        ...

    def migration_cost_s(self, pages: int) -> float:
        """What moving a process of ``pages`` pages costs, estimated from the profile."""
        ...


@runtime_checkable
class InformationPolicy(Protocol):
    """How load information spreads, and what a node can learn from it."""

    kind: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]

    def start(self, agent: Agent) -> None:
        """Start the node's periodic dissemination, if any."""
        ...

    def changed(self, agent: Agent) -> None:
        """This node's load just changed (a process arrived or left)."""
        ...

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """The least-loaded candidate as far as this policy knows (:class:`Target` or None)."""
        ...

    def params(self) -> dict[str, Any]:
        """The policy's parameters, by name."""
        ...


@runtime_checkable
class TransferPolicy(Protocol):
    """When a node sends work away or asks for work."""

    kind: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]

    @property
    def period_s(self) -> float | None:
        """Seconds between periodic checks (``None``: none)."""
        ...

    def sender(self, load: int) -> bool:
        """Whether a node whose load, the newborn process included, is ``load`` sends work."""
        ...

    def receiver(self, load: int) -> bool:
        """Whether a node whose load just fell to ``load`` asks others for work."""
        ...

    def gives(self, load: int) -> bool:
        """Whether a node at ``load`` asked for work gives a process away."""
        ...

    def find_sender(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """A receiver's search for a node to pull from (a :class:`Target` or ``None``)."""
        ...

    def params(self) -> dict[str, Any]:
        """The policy's parameters, by name."""
        ...


@runtime_checkable
class LocationPolicy(Protocol):
    """Where work goes."""

    kind: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Where work from this node should go: a :class:`Target`, or ``None`` (stay)."""
        ...

    def params(self) -> dict[str, Any]:
        """The policy's parameters, by name."""
        ...


@runtime_checkable
class SelectionPolicy(Protocol):
    """Which process moves."""

    kind: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    #: Places newborn processes (remote execution) instead of migrating running ones.
    at_birth: ClassVar[bool]

    def choose(
        self, agent: Agent, residents: Sequence[Resident], target: Target
    ) -> Resident | None:
        """The process to migrate to ``target`` (``None``: none should go)."""
        ...

    def params(self) -> dict[str, Any]:
        """The policy's parameters, by name."""
        ...


@attrs.frozen
class BasePolicy:
    """What every policy class shares: its kind, name, one-line summary and parameters."""

    kind: ClassVar[str] = "base"
    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        """The policy's parameters, by name."""
        return attrs.asdict(self)


def positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(
            f"{type(instance).kind} policy {type(instance).name!r}: {attribute.name} "
            f"must be > 0, got {value!r}"
        )


def at_least(low: int) -> Any:
    """attrs validator: an integer >= ``low``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(
                f"{type(instance).kind} policy {type(instance).name!r}: {attribute.name} "
                f"must be an integer >= {low}, got {value!r}"
            )

    return check
