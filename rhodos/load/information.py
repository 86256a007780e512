"""Information policies: how load information spreads, what it costs, and how old it is.

Every report is a real kernel message of :data:`~rhodos.load.requests.SIZES` ``report``
bytes carrying the load *as it was when sent*; the receiving node keeps it in its
:class:`~rhodos.load.view.LoadView` with that instant, so a decision made later sees
aged information, as it would on a real network.

=============  ===================================================  =====================
name           what each node does                                  messages
=============  ===================================================  =====================
``none``       nothing: it knows its own load only                  0
``probe``      nothing in the background; asks ``d`` random nodes   2 d per question
               when a decision needs the least-loaded node
``broadcast``  every ``period_s``, sends its load to every node     N - 1 per node per period
``exchange``   every ``period_s``, sends its load to ``fanout``     ``fanout`` per node per
               random nodes (MOSIX)                                 period
``central``    reports to the load server on ``server`` at every    1 per change (or per
               change (``period_s`` = 0) or every ``period_s``;     period); 2 per question
               asks it for the least-loaded node (Sprite, LSF)
=============  ===================================================  =====================
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.load.policy import Agent, BasePolicy, Decision, Target, at_least, positive
from rhodos.load.registry import register

__all__ = ["Broadcast", "Central", "Exchange", "NoInformation", "Probing"]


def _non_negative(instance: BasePolicy, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(
            f"information policy {type(instance).name!r}: {attribute.name} must be >= 0, "
            f"got {value!r}"
        )


@register
@attrs.frozen
class NoInformation(BasePolicy):
    """No load information at all: a node knows its own load only."""

    kind: ClassVar[str] = "information"
    name: ClassVar[str] = "none"
    summary: ClassVar[str] = "no exchange: each node knows only its own load"

    def start(self, agent: Agent) -> None:
        """Nothing to start."""

    def changed(self, agent: Agent) -> None:
        """Nobody is told."""

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Nothing is known of the others."""
        return None
        yield


@register
@attrs.frozen
class Probing(NoInformation):
    """On demand: a question about the least-loaded node polls ``d`` random nodes."""

    name: ClassVar[str] = "probe"
    summary: ClassVar[str] = "on demand: poll d random nodes when a decision needs loads"

    d: int = attrs.field(default=2, validator=at_least(1))

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Poll ``d`` random candidates; the least loaded of them (first on ties)."""
        nodes = agent.sample(candidates, self.d)
        if not nodes:
            return None
        loads = yield from agent.probe(nodes)
        best = int(np.argmin(loads))
        return Target(nodes[best], int(loads[best]))


@register
@attrs.frozen
class Broadcast(NoInformation):
    """Every ``period_s``, every node sends its load to every other node."""

    name: ClassVar[str] = "broadcast"
    summary: ClassVar[str] = "every period, each node sends its load to every other node"

    period_s: float = attrs.field(default=1.0, validator=positive)

    def start(self, agent: Agent) -> None:
        """Broadcast every period, from a random phase."""
        others = [n for n in range(len(agent.view)) if n != agent.node_id]

        def broadcast() -> None:
            for node in others:
                agent.report(node)

        agent.every(self.period_s, broadcast)

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """The least loaded of the candidates in this node's (aged) load vector."""
        return _from_view(agent, candidates)
        yield


@register
@attrs.frozen
class Exchange(NoInformation):
    """MOSIX: every ``period_s``, each node sends its load to ``fanout`` random nodes."""

    name: ClassVar[str] = "exchange"
    summary: ClassVar[str] = "every period, each node sends its load to a few random nodes"

    period_s: float = attrs.field(default=1.0, validator=positive)
    fanout: int = attrs.field(default=2, validator=at_least(1))

    def start(self, agent: Agent) -> None:
        """Send to ``fanout`` random other nodes every period, from a random phase."""
        others = np.array([n for n in range(len(agent.view)) if n != agent.node_id], np.int32)

        def exchange() -> None:
            for node in agent.sample(others, self.fanout):
                agent.report(node)

        agent.every(self.period_s, exchange)

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """The least loaded of the candidates in this node's (aged) load vector."""
        return _from_view(agent, candidates)
        yield


@register
@attrs.frozen
class Central(NoInformation):
    """A central load server on node ``server`` (Sprite's migration server, LSF's master).

    Nodes report to it at every change of their load (``period_s`` = 0) or every
    ``period_s``; a decision asks it for the least-loaded node (a round trip).
    """

    name: ClassVar[str] = "central"
    summary: ClassVar[str] = "nodes report to one load server, which answers least-loaded queries"

    server: int = attrs.field(default=0, validator=at_least(0))
    period_s: float = attrs.field(default=0.0, validator=_non_negative)

    def start(self, agent: Agent) -> None:
        """Report once now, then every period (or at every change)."""
        agent.report(self.server)
        if self.period_s > 0:
            agent.every(self.period_s, lambda: agent.report(self.server))

    def changed(self, agent: Agent) -> None:
        """Report the change at once when reporting on every change."""
        if self.period_s == 0:
            agent.report(self.server)

    def least_loaded(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Ask the load server."""
        target = yield from agent.ask_least_loaded(self.server, candidates)
        return target


def _from_view(agent: Agent, candidates: npt.NDArray[np.int32]) -> Target | None:
    """The least-loaded candidate of the node's load vector, ties spread at random."""
    if candidates.size == 0:
        return None
    node = agent.view.least(candidates, offset=int(agent.uniform() * candidates.size))
    if node is None:
        return None
    return Target(node, int(agent.view.load[node]))
