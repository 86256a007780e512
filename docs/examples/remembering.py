"""A location policy in one file: d random choices plus the best node seen before.

Mitzenmacher, Prabhakar & Shah ("Load balancing with memory", FOCS 2002) showed that
remembering the least-loaded node of the previous decision and probing it again with
the fresh random choices does better than drawing more choices. Here the memory is
the node's own load view, which every probe updates.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.load import Agent, BasePolicy, Target, at_least, register
from rhodos.load.policy import Decision


@register
@attrs.frozen
class Remembering(BasePolicy):
    """The shortest of ``d`` random candidates and the least-loaded one seen before."""

    kind: ClassVar[str] = "location"
    name: ClassVar[str] = "remembering"
    summary: ClassVar[str] = "the shortest of d random nodes and the best one seen before"

    d: int = attrs.field(default=1, validator=at_least(1))

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        """Probe the drawn nodes and the remembered one; go to the shortest if shorter."""
        nodes = agent.sample(candidates, self.d)
        remembered = agent.view.least(candidates)
        if remembered is not None and remembered not in nodes:
            nodes.append(remembered)
        if not nodes:
            return None
        loads = yield from agent.probe(nodes)  # every probe also refreshes the view
        best = min(range(len(nodes)), key=loads.__getitem__)
        if loads[best] >= agent.load:
            return None  # no shorter queue: the work stays here
        return Target(nodes[best], loads[best])
