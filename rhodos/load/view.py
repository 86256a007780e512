"""What one node knows of the others' loads: a load vector with the age of every entry.

Load information ages: a report says what a node's load *was* when it was sent. The
view keeps, per node, the last load reported and the instant it was measured, as two
numpy arrays, so a decision costs O(1) per entry it reads and a least-loaded choice is
one vectorised ``argmin`` over the candidates, never a Python loop over the cluster.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["LoadView"]

#: The stamp of a node never heard of.
UNKNOWN = -np.inf
#: The load an unknown node is ranked with: after every known one.
_LAST = np.iinfo(np.int64).max


class LoadView:
    """Loads of ``nodes`` nodes as last reported, and when each was measured."""

    def __init__(self, nodes: int) -> None:
        self.load = np.zeros(nodes, dtype=np.int64)
        self.stamp = np.full(nodes, UNKNOWN)
        self.reports = 0

    def __len__(self) -> int:
        return int(self.load.size)

    def update(self, node: int, load: int, at: float) -> None:
        """Keep ``load`` for ``node`` unless a later measurement is already known."""
        self.reports += 1
        if at >= self.stamp[node]:
            self.load[node] = load
            self.stamp[node] = at

    def known(self, node: int) -> bool:
        """Whether anything was ever heard of ``node``."""
        return bool(self.stamp[node] > UNKNOWN)

    def age(self, node: int, now: float) -> float:
        """How old the entry for ``node`` is at ``now`` (infinite when unknown)."""
        return float(now - self.stamp[node])

    def least(self, candidates: npt.NDArray[np.int32], offset: int = 0) -> int | None:
        """The candidate with the least known load (``None``: none is known).

        Ties go to the first in ``candidates`` rotated by ``offset``: a caller passing a
        random offset spreads ties instead of sending every decision to one node.
        """
        if candidates.size == 0:
            return None
        if offset:
            candidates = np.roll(candidates, -(offset % candidates.size))
        loads = np.where(self.stamp[candidates] > UNKNOWN, self.load[candidates], _LAST)
        best = int(np.argmin(loads))
        if loads[best] == _LAST:
            return None
        return int(candidates[best])
