"""Specification of the file server's memory cache: what it holds, and what a hit costs."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import pytest
import simpy

from rhodos.kernel import Cluster, load_profile
from rhodos.kernel.cache import ServerCache
from rhodos.kernel.file_requests import ReadPages, WritePages
from rhodos.system import boot

Gen = Generator[simpy.events.Event, Any, Any]


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def pages(*numbers: int) -> np.ndarray:
    """A page set."""
    return np.array(numbers, dtype=np.int64)


def test_the_cache_holds_what_was_admitted_and_counts_hits() -> None:
    """A lookup finds the admitted items of the same store only."""
    cache = ServerCache(capacity=8)
    cache.admit("a", pages(1, 2, 3))
    assert cache.lookup("a", pages(0, 2, 3, 9)).tolist() == [False, True, True, False]
    assert cache.lookup("b", pages(2)).tolist() == [False]
    assert (cache.size, cache.hits, cache.misses) == (3, 2, 3)


def test_the_least_recently_used_request_leaves_first() -> None:
    """Over capacity, the items of the oldest request leave, whole; a re-admitted item is
    young again."""
    cache = ServerCache(capacity=4)
    cache.admit("a", pages(0, 1))
    cache.admit("b", pages(0, 1))
    cache.admit("a", pages(0))  # a's page 0 used again: a's page 1 is now the oldest
    cache.admit("c", pages(5))
    assert cache.lookup("a", pages(0, 1)).tolist() == [True, False]
    assert cache.lookup("b", pages(0, 1)).tolist() == [True, True]
    assert cache.size == 4


def test_a_request_larger_than_the_cache_bypasses_it() -> None:
    """Nothing of a request larger than the whole cache is admitted, nothing else leaves."""
    cache = ServerCache(capacity=2)
    cache.admit("a", pages(7))
    cache.admit("a", pages(0, 1, 2))
    assert not cache.takes(3) and cache.size == 1
    assert cache.lookup("a", pages(0, 7)).tolist() == [False, True]


def test_dropping_a_store_frees_its_items() -> None:
    """A forgotten process's pages leave the cache."""
    cache = ServerCache(capacity=4)
    cache.admit("a", pages(0, 1))
    cache.admit("b", pages(0))
    cache.drop("a")
    assert cache.size == 1 and not cache.lookup("a", pages(0)).any()


def timed(cluster: Cluster, request: Any, size_bytes: int = 64) -> Gen:
    """Send ``request`` (``size_bytes``) from node 0 to the file server; return how long
    the reply took."""
    began = cluster.now
    port = cluster.role_port(cluster.file_server(), "file")
    yield cluster.node(0).call(port, request, size_bytes=size_bytes)
    return cluster.now - began


def message_time(cluster: Cluster, payload: int) -> float:
    """One message between two idle nodes: two overheads, latency and wire time."""
    p = cluster.profile
    wire = p.wire_bytes(payload) / p.bandwidth_bytes_per_s
    return 2 * p.message_cpu_overhead_s + p.network_latency_s + wire


@pytest.mark.parametrize("cache_bytes", [0, 6 * 2**20])
def test_a_write_then_a_read_cost_the_cache_or_the_disk(cache_bytes: int, run_process: Any) -> None:
    """On the Sun-3 profile, 4 pages (32 KiB) written then read back: with a 6 MiB cache
    each costs its bytes at the cache's 20 Mb/s (13.1 ms), with none the disk's access
    time and its bytes at 8 Mb/s (25 + 32.8 ms); a read of pages never written pays the
    disk either way."""
    profile = attrs.evolve(load_profile("sun3-ethernet"), file_server_cache_bytes=cache_bytes)
    cluster = boot(nodes=1, profile=profile)
    versions = np.ones(4, dtype=np.int64)

    def scenario() -> Gen:
        written = WritePages(7, 16, pages(0, 1, 2, 3), versions)
        wrote = yield from timed(cluster, written, 4 * profile.page_size_bytes)
        yield cluster.env.timeout(1.0)  # the write-behind to the disk is over
        read = yield from timed(cluster, ReadPages(7, pages(0, 1, 2, 3)))
        cold = yield from timed(cluster, ReadPages(7, pages(8, 9, 10, 11)))
        return wrote, read, cold

    wrote, read, cold = run_process(cluster, scenario)
    nbytes = 4 * profile.page_size_bytes
    cache = nbytes / profile.file_server_cache_bytes_per_s
    disk = profile.file_server_latency_s + nbytes / profile.file_server_bytes_per_s
    served = cache if cache_bytes else disk
    assert wrote == exactly(message_time(cluster, nbytes) + served + message_time(cluster, 64))
    assert read == exactly(message_time(cluster, 64) + served + message_time(cluster, nbytes))
    assert cold == exactly(message_time(cluster, 64) + disk + message_time(cluster, nbytes))
    assert cluster.file_server_nodes[0].debug_server("file").cache.hits == (4 if cache_bytes else 0)
