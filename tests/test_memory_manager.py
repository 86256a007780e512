"""Specification of the Memory Manager: references, faults, page transfers, flushing."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from rhodos.kernel import Cluster, Layout, PageFault, Request
from rhodos.memory_manager import FILE, HERE, ZERO, AddressSpace, MemoryManager, PageSet
from rhodos.memory_manager.requests import (
    Create,
    Describe,
    ExportSpace,
    Flush,
    Free,
    InstallSpace,
    SendPages,
)

PID = 7
LAYOUT = Layout(code=1, heap=6, stack=1)  # pages 0 | 1..6 | 7
PAGES = LAYOUT.pages

Gen = Generator[simpy.events.Event, Any, Any]


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def mm(cluster: Cluster, node: int) -> MemoryManager:
    """The Memory Manager of ``node``."""
    manager: MemoryManager = cluster.node(node).debug_server("memory")
    return manager


def ask(cluster: Cluster, node: int, request: Request, *, src: int | None = None) -> Any:
    """Send a request to ``node``'s Memory Manager from ``src`` (default: the same node)."""
    origin = cluster.node(node if src is None else src)
    return origin.call(cluster.role_port(node, "memory"), request)


def write(cluster: Cluster, node: int, pages: list[int]) -> None:
    """Write ``pages`` through ``node``'s MMU, as a running process would."""
    cluster.node(node).pager(PID).touch(
        np.array(pages, dtype=np.int64), np.ones(len(pages), dtype=np.bool_)
    )


def message_time(cluster: Cluster, payload: int) -> float:
    """One message between two idle nodes: two overheads, latency and wire time."""
    p = cluster.profile
    return (
        2 * p.message_cpu_overhead_s
        + p.network_latency_s
        + p.wire_bytes(payload) / p.bandwidth_bytes_per_s
    )


# -- the MMU view -----------------------------------------------------------------------


def test_touch_stops_at_the_first_non_resident_page() -> None:
    """A batch applies up to the first non-resident page; writes after it leave no mark."""
    space = AddressSpace(PID, LAYOUT)
    space.evict(np.array([4]), ZERO)
    pages = np.array([1, 2, 4, 3, 5])
    writes = np.array([True, False, True, True, True])
    assert space.touch(pages, writes) == 2
    assert space.dirty.nonzero()[0].tolist() == [1]
    assert space.version.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    assert space.referenced.nonzero()[0].tolist() == [1, 2]


def test_touch_of_resident_pages_applies_the_whole_batch() -> None:
    """A batch of resident pages is applied whole and tracks each segment's current page."""
    space = AddressSpace(PID, LAYOUT)
    pages = np.array([0, 3, 7, 2, 6])
    writes = np.array([False, True, True, False, True])
    assert space.touch(pages, writes) == 5
    assert space.select(PageSet.DIRTY).tolist() == [3, 6, 7]
    assert space.current.tolist() == [0, 6, 7]  # the last page referenced in each segment
    assert space.select(PageSet.CURRENT).tolist() == [0, 6, 7]


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["evict", "install", "take"]),
            st.integers(0, 9_999),
            st.integers(1, 600),
        ),
        max_size=40,
    )
)
def test_lowest_resident_pages_are_those_of_a_full_scan(ops: list[tuple[str, int, int]]) -> None:
    """The cursor of ``lowest_resident`` gives the lowest resident pages whatever was evicted
    or installed before (a push taking batch after batch, faults, pages coming back)."""
    space = AddressSpace(PID, Layout(code=100, heap=9_800, stack=100))
    for op, first, count in ops:
        pages = np.arange(first, min(first + count, space.pages), dtype=np.int64)
        if op == "evict":
            space.evict(pages, 1)
        elif op == "install":
            space.install(pages, np.zeros(pages.size, dtype=np.uint32))
        else:
            lowest = space.lowest_resident(count)
            assert lowest.tolist() == np.flatnonzero(space.resident)[:count].tolist()
            space.evict(lowest, 1)


def test_touch_outside_the_address_space_is_an_error() -> None:
    """A reference beyond the last page raises an IndexError naming the valid range."""
    space = AddressSpace(PID, LAYOUT)
    with pytest.raises(IndexError, match=r"outside 0\.\.7"):
        space.touch(np.array([8]), np.array([False]))


# -- faults -----------------------------------------------------------------------------


def test_fault_on_a_zero_page_resolves_locally(cluster: Cluster, run_process: Any) -> None:
    """A never-written page is zero-filled here: ``local``, one frame, two local messages."""

    def scenario() -> Gen:
        yield ask(cluster, 0, InstallSpace(PID, LAYOUT, ZERO, 0))
        began = cluster.now
        reply = yield ask(cluster, 0, PageFault(PID, 3, True))
        return reply.body, cluster.now - began

    where, took = run_process(cluster, scenario)
    assert where == "local"
    assert took == exactly(2 * cluster.profile.local_ipc_s)
    space = mm(cluster, 0).spaces[PID]
    assert space.resident.nonzero()[0].tolist() == [3]
    assert cluster.node(0).frames_used == 1
    assert mm(cluster, 0).statistics().faults_local == 1


def test_fault_on_a_page_held_by_a_peer_is_one_round_trip(
    cluster: Cluster, run_process: Any
) -> None:
    """A fault on a peer's page is one request/reply, answers ``remote``, brings the version."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [3, 3, 5])
        yield ask(cluster, 1, InstallSpace(PID, LAYOUT, 0, 0))
        began = cluster.now
        before = cluster.network.statistics().messages_by_kind
        reply = yield ask(cluster, 1, PageFault(PID, 3, False))
        after = cluster.network.statistics().messages_by_kind
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        return reply.body, cluster.now - began, delta

    where, took, messages = run_process(cluster, scenario)
    page = cluster.profile.page_size_bytes
    assert where == "remote"
    assert took == exactly(
        2 * cluster.profile.local_ipc_s + message_time(cluster, 64) + message_time(cluster, page)
    )
    assert messages == {"control": 1, "pages": 1}
    there, source = mm(cluster, 1).spaces[PID], mm(cluster, 0).spaces[PID]
    assert there.resident.nonzero()[0].tolist() == [3]
    assert there.version[3] == 1  # two writes in one batch count as one new version
    assert not source.resident[3] and source.location[3] == ZERO
    assert mm(cluster, 1).statistics().faults_remote == 1
    assert mm(cluster, 0).statistics().pages_served == 1
    assert (cluster.node(0).frames_used, cluster.node(1).frames_used) == (PAGES - 1, 1)


def test_prefetch_brings_the_following_pages_held_at_the_same_place(
    cluster: Cluster, run_process: Any
) -> None:
    """With prefetch 3, a remote fault on page 2 also brings 3..5, but not pages already here."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [2, 3, 4, 5, 6])
        yield ask(cluster, 1, InstallSpace(PID, LAYOUT, 0, 3))
        yield ask(cluster, 1, PageFault(PID, 4, False))  # brings 4..7
        yield ask(cluster, 1, PageFault(PID, 2, False))  # brings 2, 3 only

    run_process(cluster, scenario)
    there = mm(cluster, 1).spaces[PID]
    assert there.resident.nonzero()[0].tolist() == [2, 3, 4, 5, 6, 7]
    assert there.version.tolist() == [0, 0, 1, 1, 1, 1, 1, 0]
    page = cluster.profile.page_size_bytes
    stats = cluster.network.statistics()
    assert (stats.messages_by_kind["pages"], stats.bytes_by_kind["pages"]) == (2, 6 * page)
    assert mm(cluster, 1).statistics().faults_remote == 2


# -- bulk transfers ---------------------------------------------------------------------


def test_send_pages_moves_a_page_set_as_one_flow(cluster: Cluster, run_process: Any) -> None:
    """Sending every page is one ``pages`` message of exactly its size; versions survive."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [1, 2, 2, 7])
        write(cluster, 0, [2])
        yield ask(cluster, 1, InstallSpace(PID, LAYOUT, 0, 0), src=0)
        began = cluster.now
        reply = yield ask(cluster, 0, SendPages(PID, 1, PageSet.ALL))
        return reply.body, cluster.now - began

    source_versions = [0, 1, 2, 0, 0, 0, 0, 1]
    sent, took = run_process(cluster, scenario)
    payload = PAGES * cluster.profile.page_size_bytes
    assert sent == PAGES
    assert took == exactly(
        2 * cluster.profile.local_ipc_s + message_time(cluster, payload) + message_time(cluster, 64)
    )
    stats = cluster.network.statistics()
    assert (stats.messages_by_kind["pages"], stats.bytes_by_kind["pages"]) == (1, payload)
    there, source = mm(cluster, 1).spaces[PID], mm(cluster, 0).spaces.get(PID)
    assert there.version.tolist() == source_versions
    assert there.resident.all() and (there.location == HERE).all()
    assert source is None or not source.resident.any()  # the source holds nothing any more
    assert (cluster.node(0).frames_used, cluster.node(1).frames_used) == (0, PAGES)


def test_flush_writes_dirty_pages_to_the_file_server(cluster: Cluster, run_process: Any) -> None:
    """Flushing the dirty pages is one flow to the file server, into its memory cache at the
    cache's rate (the disk write follows behind): versions stored, dirty cleared."""
    file_node = cluster.file_server_nodes[0]

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [1, 2, 5])
        write(cluster, 0, [2])
        began = cluster.now
        reply = yield ask(cluster, 0, Flush(PID, PageSet.DIRTY))
        return reply.body, cluster.now - began

    flushed, took = run_process(cluster, scenario)
    p = cluster.profile
    payload = 3 * p.page_size_bytes
    assert flushed == 3
    assert took == exactly(
        2 * p.local_ipc_s
        + message_time(cluster, payload)
        + payload / p.file_server_cache_bytes_per_s
        + message_time(cluster, 64)
    )
    stored = file_node.debug_server("file").snapshot(PID)
    assert stored.tolist() == [-1, 1, 2, -1, -1, 1, -1, -1]
    space = mm(cluster, 0).spaces[PID]
    assert not space.dirty.any() and space.resident.all()
    stats = cluster.network.statistics()
    assert (stats.messages_by_kind["flush"], stats.bytes_by_kind["flush"]) == (1, payload)


def test_file_page_faults_back_from_the_file_server_with_its_version(
    cluster: Cluster, run_process: Any
) -> None:
    """A page located on the file server faults back as ``file`` with the flushed version:
    a flushed page from the server's memory cache at the cache's rate, a page never
    written there from its disk (access time and disk rate)."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [2, 2])
        write(cluster, 0, [2])
        yield ask(cluster, 0, Flush(PID, PageSet.DIRTY))
        yield cluster.env.timeout(1.0)  # the flush's write-behind to the disk is over
        yield ask(cluster, 1, InstallSpace(PID, LAYOUT, FILE, 0))
        began = cluster.now
        reply = yield ask(cluster, 1, PageFault(PID, 2, False))
        took = cluster.now - began
        began = cluster.now
        never_flushed = yield ask(cluster, 1, PageFault(PID, 0, False))
        return reply.body, took, never_flushed.body, cluster.now - began

    where, took, where_unflushed, took_unflushed = run_process(cluster, scenario)
    p = cluster.profile
    assert (where, where_unflushed) == ("file", "file")
    fault = 2 * p.local_ipc_s + message_time(cluster, 64) + message_time(cluster, p.page_size_bytes)
    assert took == exactly(fault + p.page_size_bytes / p.file_server_cache_bytes_per_s)
    disk = p.file_server_latency_s + p.page_size_bytes / p.file_server_bytes_per_s
    assert took_unflushed == exactly(fault + disk)
    there = mm(cluster, 1).spaces[PID]
    assert there.resident.nonzero()[0].tolist() == [0, 2]
    assert (there.version[2], there.version[0]) == (2, 0)
    assert mm(cluster, 1).statistics().faults_file == 2


# -- lifecycle --------------------------------------------------------------------------


def test_describe_reports_the_address_space(cluster: Cluster, run_process: Any) -> None:
    """``describe`` answers a snapshot of the space, and ``None`` for an unknown pid."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        write(cluster, 0, [1, 7])
        info = yield ask(cluster, 0, Describe(PID))
        unknown = yield ask(cluster, 0, Describe(PID + 1))
        return info.body, unknown.body

    info, unknown = run_process(cluster, scenario)
    assert unknown is None
    assert (info.pages, info.resident, info.dirty, info.referenced, info.remote) == (
        PAGES,
        PAGES,
        2,
        2,
        0,
    )
    assert info.current == (0, 1, 7)


def test_free_releases_the_frames_and_unmaps_the_space(cluster: Cluster, run_process: Any) -> None:
    """Freeing an address space gives its frames back and removes it from the MMU."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))
        used = cluster.node(0).frames_used
        reply = yield ask(cluster, 0, Free(PID))
        return used, reply.body

    used, freed = run_process(cluster, scenario)
    assert (used, freed) == (PAGES, PAGES)
    assert cluster.node(0).frames_used == 0
    assert mm(cluster, 0).statistics().spaces == 0
    with pytest.raises(KeyError):
        cluster.node(0).pager(PID)


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: SendPages(PID, 1, "dirty"), "SendPages.which must be a PageSet"),
        (lambda: Flush(PID, "dirtty"), "Flush.which must be a PageSet"),
        (lambda: ExportSpace(PID, 1, clean="file"), "ExportSpace.clean must be a PageHolder"),
    ],
)
def test_a_page_set_or_holder_given_as_a_string_is_refused_when_the_request_is_built(
    build: Any, named: str
) -> None:
    """Strategy-facing choices are enums: a string fails at once, naming the field."""
    with pytest.raises(TypeError, match=named):
        build()


def test_the_snapshot_is_a_read_only_copy(cluster: Cluster, run_process: Any) -> None:
    """The checkers' view of a space cannot change it, and does not change with it."""

    def scenario() -> Gen:
        yield ask(cluster, 0, Create(PID, LAYOUT))

    run_process(cluster, scenario)
    view = mm(cluster, 0).snapshot(PID)
    assert view is not None and view.resident.all() and mm(cluster, 0).snapshot(PID + 1) is None
    with pytest.raises(ValueError, match="read-only"):
        view.version[3] = 9
    write(cluster, 0, [3])
    assert view.version[3] == 0 and mm(cluster, 0).spaces[PID].version[3] == 1
