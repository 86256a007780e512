"""Location policies: where work from a node goes.

``candidates`` are the other nodes whose trader offers match the process (its
architecture above all); a policy returns a :class:`~rhodos.load.policy.Target` among
them, or ``None`` to keep the work here. The probing policies are Eager, Lazowska &
Zahorjan's (1986) and Mitzenmacher's (2001); each probe is a request/reply to the
probed node's Load Manager, answered with its load at that instant.

================  ====================================================================
name              the work goes to ...
================  ====================================================================
``local``         nowhere: it stays
``random``        a random candidate, blindly
``round-robin``   the candidates in turn
``threshold``     the first of up to ``probe_limit`` random candidates, probed one at
                  a time, whose queue with the work stays within ``threshold``
``shortest``      the shortest of ``probe_limit`` probed random candidates, if its
                  queue with the work stays within ``threshold``
``power-of-d``    the shortest of ``d`` random nodes (this one among them: Mitzenmacher's
                  supermarket model), ties kept here
``jsq``           the shortest queue of all, from the central load server
``least-loaded``  the least-loaded candidate as the information policy knows it, if its
                  load is below this node's
================  ====================================================================
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.load.policy import Agent, BasePolicy, Decision, Target, at_least
from rhodos.load.registry import register

__all__ = [
    "JoinShortestQueue",
    "LeastLoaded",
    "Local",
    "PowerOfD",
    "RandomLocation",
    "RoundRobin",
    "Shortest",
    "Threshold",
]


@register
@attrs.frozen
class Local(BasePolicy):
    """The work stays where it is."""

    kind: ClassVar[str] = "location"
    name: ClassVar[str] = "local"
    summary: ClassVar[str] = "no sharing: the work stays here"

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Here."""
        return None
        yield


@register
@attrs.frozen
class RandomLocation(Local):
    """A random candidate, chosen without any load information."""

    name: ClassVar[str] = "random"
    summary: ClassVar[str] = "a random node, without load information"

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """One candidate, uniformly at random."""
        if candidates.size == 0:
            return None
        node = int(candidates[int(agent.uniform() * candidates.size)])
        return Target(node, None)
        yield


@register
@attrs.frozen
class RoundRobin(Local):
    """The candidates in turn, each node starting after itself."""

    name: ClassVar[str] = "round-robin"
    summary: ClassVar[str] = "the nodes in turn"

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """The next candidate in this node's turn."""
        if candidates.size == 0:
            return None
        node = int(candidates[(agent.node_id + agent.turn()) % candidates.size])
        return Target(node, None)
        yield


@register
@attrs.frozen
class Threshold(Local):
    """Probe random candidates one at a time; the first whose queue stays within ``threshold``."""

    name: ClassVar[str] = "threshold"
    summary: ClassVar[str] = "the first of L probed nodes whose queue stays within T"

    threshold: int = attrs.field(default=1, validator=at_least(1))
    probe_limit: int = attrs.field(default=3, validator=at_least(1))

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Probe up to ``probe_limit`` candidates in turn."""
        for node in agent.sample(candidates, self.probe_limit):
            (load,) = yield from agent.probe([node])
            if load + 1 <= self.threshold:
                return Target(node, load)
        return None


@register
@attrs.frozen
class Shortest(Local):
    """Probe ``probe_limit`` random candidates; the shortest, if it stays within ``threshold``.

    With ``threshold`` 1 only idle nodes qualify, and the shortest of the probed set is
    the first idle one: exactly ``threshold``'s choice from the same probes.
    """

    name: ClassVar[str] = "shortest"
    summary: ClassVar[str] = "the shortest of L probed nodes, if it stays within T"

    threshold: int = attrs.field(default=1, validator=at_least(1))
    probe_limit: int = attrs.field(default=3, validator=at_least(1))

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Probe the candidates together; keep the shortest if it is short enough."""
        nodes = agent.sample(candidates, self.probe_limit)
        if not nodes:
            return None
        loads = yield from agent.probe(nodes)
        best = int(np.argmin(loads))
        if loads[best] + 1 <= self.threshold:
            return Target(nodes[best], int(loads[best]))
        return None


@register
@attrs.frozen
class PowerOfD(Local):
    """The shortest of ``d`` nodes drawn at random among the candidates and this node.

    Mitzenmacher's supermarket model: each arrival samples ``d`` of the N queues and
    joins the shortest. This node's own queue is read locally, the others probed; on
    a tie the work stays here (no transfer for nothing), else the first drawn wins.
    """

    name: ClassVar[str] = "power-of-d"
    summary: ClassVar[str] = "the shortest of d random nodes (the supermarket model)"

    d: int = attrs.field(default=2, validator=at_least(1))

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Draw ``d`` of the candidates and this node; probe the others; the shortest."""
        drawn = agent.sample_indices(candidates.size + 1, self.d)
        here = candidates.size  # the index standing for this node
        remote = [int(candidates[i]) for i in drawn if i != here]
        if not remote:
            return None
        loads = yield from agent.probe(remote)
        best = min(range(len(remote)), key=loads.__getitem__)
        if here in drawn and agent.load <= loads[best]:
            return None
        return Target(remote[best], int(loads[best]))


@register
@attrs.frozen
class JoinShortestQueue(Local):
    """The shortest queue of the whole cluster, as the central load server knows it."""

    name: ClassVar[str] = "jsq"
    summary: ClassVar[str] = "the shortest queue of all (asks the central load server)"

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Ask the information policy (a central server) for the least-loaded node."""
        target = yield from agent.least_loaded(candidates)
        if target is None or target.load is None or target.load >= agent.load:
            return None
        return target


@register
@attrs.frozen
class LeastLoaded(JoinShortestQueue):
    """The least-loaded candidate in the node's load information, if below its own load."""

    name: ClassVar[str] = "least-loaded"
    summary: ClassVar[str] = "the least-loaded node as the information policy knows it"
