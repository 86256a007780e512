"""The file server's memory cache: which pages and file blocks it holds, least recently used out.

Sprite's file servers kept most of their memory as a cache of disk blocks in front of
the disk (Nelson, Welch & Ousterhout, "Caching in the Sprite Network File System", ACM
TOCS 6(1) 1988), so a page a process flushed and later faults back, or a file block
written back, is served from memory. This class only says *what* is cached; the file
server charges the time (:mod:`rhodos.kernel.fileserver`). A store is a key (a process's
pages, a file's blocks) with one use stamp per item, 0 where the item is not cached: a
request is one numpy step, never a Python loop over its pages. When the cache is over
its capacity the items of the oldest requests leave first (least recently used, a
request's items together).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

__all__ = ["ServerCache"]


class ServerCache:
    """A least-recently-used set of (store, item) pairs holding at most ``capacity`` items."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._stamps: dict[Hashable, npt.NDArray[np.int64]] = {}
        self._clock = 0
        #: Items cached now, and requested items found and not found so far.
        self.size = 0
        self.hits = 0
        self.misses = 0

    def takes(self, count: int) -> bool:
        """Whether a request of ``count`` items fits (a larger one bypasses the cache)."""
        return 0 < count <= self.capacity

    def lookup(self, key: Hashable, items: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``items`` of store ``key`` are cached (counted as hits and misses)."""
        stamps = self._stamps.get(key)
        found = np.zeros(items.size, dtype=np.bool_)
        if stamps is not None and items.size:
            inside = items < stamps.size
            found[inside] = stamps[items[inside]] > 0
        hits = int(found.sum())
        self.hits += hits
        self.misses += int(items.size) - hits
        return found

    def admit(self, key: Hashable, items: npt.NDArray[np.int64]) -> None:
        """``items`` of store ``key`` are now cached, as the most recently used; older
        requests' items leave if the cache is over capacity. A request larger than the
        whole cache is not admitted."""
        items = np.unique(items)
        if not self.takes(int(items.size)):
            return
        self._clock += 1
        stamps = self._stamps.get(key)
        needed = int(items[-1]) + 1
        if stamps is None or stamps.size < needed:
            grown = np.zeros(needed, dtype=np.int64)
            if stamps is not None:
                grown[: stamps.size] = stamps
            stamps = self._stamps[key] = grown
        self.size += int(np.count_nonzero(stamps[items] == 0))
        stamps[items] = self._clock
        if self.size > self.capacity:
            self._evict(self.size - self.capacity)

    def drop(self, key: Hashable) -> None:
        """Forget every item of store ``key``."""
        stamps = self._stamps.pop(key, None)
        if stamps is not None:
            self.size -= int(np.count_nonzero(stamps))

    def _evict(self, excess: int) -> None:
        """Evict at least ``excess`` items, oldest requests first (whole requests)."""
        used = np.concatenate([s[s > 0] for s in self._stamps.values()])
        oldest = np.partition(used, excess - 1)[excess - 1]
        for stamps in self._stamps.values():
            out = (stamps > 0) & (stamps <= oldest)
            self.size -= int(np.count_nonzero(out))
            stamps[out] = 0
