"""The trader: resource discovery by offers, as in the RHODOS thesis.

Each node *exports* an :class:`~rhodos.load.requests.Offer` -- its architecture, free
memory, load and whether it is idle -- to the trader (the Load Manager of one node);
a node looking for a place for a process *imports*: it asks for the offers that match
the process, and gets the node ids back. Placement and migration targets come only
from matching offers, so a process is never sent to a node of another architecture.

Offers go stale: an offer says what a node had when it exported it, nodes export again
only every period, and an importer keeps the answer for a period too. Every export
and import is a kernel message, so discovery costs messages and time.

The table is one row per node in numpy arrays (architecture as a small integer code),
so a match is one vectorised comparison over the cluster, not a loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rhodos.load.requests import Offer

__all__ = ["TraderTable"]


class TraderTable:
    """The offers of ``nodes`` nodes, one row each (the latest export wins)."""

    def __init__(self, nodes: int) -> None:
        self._codes: dict[str, int] = {}
        self.architecture = np.full(nodes, -1, dtype=np.int32)
        self.free_frames = np.zeros(nodes, dtype=np.int64)
        self.load = np.zeros(nodes, dtype=np.int64)
        self.idle = np.zeros(nodes, dtype=np.bool_)
        self.at = np.full(nodes, -np.inf)
        self.exports = 0
        self.imports = 0

    def _code(self, architecture: str) -> int:
        code = self._codes.get(architecture)
        if code is None:
            code = self._codes[architecture] = len(self._codes)
        return code

    def record(self, offer: Offer) -> None:
        """Keep ``offer`` unless a later one from the same node is already held."""
        self.exports += 1
        node = offer.node
        if offer.at < self.at[node]:
            return
        self.architecture[node] = self._code(offer.architecture)
        self.free_frames[node] = offer.free_frames
        self.load[node] = offer.load
        self.idle[node] = offer.idle
        self.at[node] = offer.at

    def match(self, architecture: str, pages: int, *, idle: bool = False) -> npt.NDArray[np.int32]:
        """The nodes whose offers run ``architecture`` with ``pages`` frames free (and idle)."""
        self.imports += 1
        code = self._codes.get(architecture)
        if code is None:
            return np.zeros(0, dtype=np.int32)
        mask = (self.architecture == code) & (self.free_frames >= pages)
        if idle:
            mask &= self.idle
        return np.flatnonzero(mask).astype(np.int32)
