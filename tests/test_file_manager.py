"""Specification of the File Manager: open files, the block cache, and what migration moves.

A process's open files are the fourth resource a migration moves (after its PCB, its
address space and its communication state). The costs are checked against arithmetic
on an idle network, as in ``test_migration_analytic.py``: a message of ``b`` bytes
costs the sender's overhead, ``wire_bytes(b) / bandwidth``, the latency and the
receiver's overhead; a request to a server on the same node one local IPC.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest

from rhodos.file_manager import FileManager
from rhodos.file_manager.server import OPEN_FILE_STATE_BYTES, REOPEN_RPCS
from rhodos.kernel import (
    CloseFile,
    Cluster,
    ClusterConfig,
    Exit,
    MachineProfile,
    OpenFile,
    Sleep,
    WriteFile,
    load_profile,
)
from rhodos.migration_manager import MigrationRecord, register, unregister
from rhodos.system import boot, migrate, spawn
from rhodos.testing import Harness, check_files, check_quiescent
from rhodos.testing.broken import LeavesTheFiles
from rhodos.workload import ProgramContext

SPARC = load_profile("sparc-ethernet")


def exactly(value: float) -> Any:
    """Equal to the microsecond (and in practice to rounding)."""
    return pytest.approx(value, abs=1e-6, rel=0)


@attrs.frozen
class Writer:
    """Opens ``files`` files, writes ``blocks`` one-block writes round robin, sleeps across
    the migration, then (``close``) closes its files and exits."""

    files: int
    blocks: int = 0
    close: bool = False
    sleep_s: float = 2.0
    name: str = "writer"
    memory_bytes: int = 16 * 1024

    def run(self, ctx: ProgramContext) -> Any:
        fds = []
        for _ in range(self.files):
            fd = yield OpenFile()
            fds.append(fd)
        for i in range(self.blocks):
            yield WriteFile(fds[i % len(fds)], ctx.page_size)
        yield Sleep(self.sleep_s)
        if self.close:
            for fd in fds:
                yield CloseFile(fd)
        yield Exit(0)


def files_of(cluster: Cluster, node: int) -> FileManager:
    """The File Manager of ``node``."""
    manager: FileManager = cluster.node(node).debug_server("files")
    return manager


def run_writer(
    program: Writer, strategy: str | None, profile: MachineProfile = SPARC, *, until: float = 5.0
) -> tuple[Cluster, int, MigrationRecord | None]:
    """Run ``program`` on node 0, migrated to node 1 at t = 1 s with ``strategy`` (``None``:
    not migrated), up to ``until`` (the record completes when the process exits)."""
    cluster = boot(ClusterConfig(nodes=2, profile=profile))
    pid, _ = spawn(cluster, program, 0)
    out: dict[str, MigrationRecord] = {}

    def driver() -> Any:
        yield cluster.env.timeout(1.0)
        out["r"] = yield migrate(cluster, pid, 1, strategy)

    if strategy is not None:
        cluster.env.process(driver())
    cluster.run(until=until)
    return cluster, pid, out.get("r")


def msg(payload: int, p: MachineProfile = SPARC) -> float:
    """One network message of ``payload`` bytes, overheads at both ends included."""
    return (
        2 * p.message_cpu_overhead_s
        + p.wire_bytes(payload) / p.bandwidth_bytes_per_s
        + (p.network_latency_s)
    )


def test_writes_go_dirty_into_the_cache_and_advance_the_offset() -> None:
    """Each write stamps its blocks with the descriptor's write count, dirty, in the cache."""
    cluster, pid, _ = run_writer(Writer(files=2, blocks=5), None, until=0.5)
    view = files_of(cluster, 0).snapshot(pid)
    page = SPARC.page_size_bytes
    assert view.files == ((3, f"pid{pid}.fd3", 3 * page, 3), (4, f"pid{pid}.fd4", 2 * page, 2))
    versions, dirty = files_of(cluster, 0).cached(f"pid{pid}.fd3")
    assert versions.tolist() == [1, 2, 3]
    assert dirty.all()


def test_closing_and_exiting_leave_no_descriptor_behind() -> None:
    """Closed files and a process's exit leave the File Manager holding nothing of it."""
    for close in (True, False):
        cluster, pid, _ = run_writer(Writer(files=2, blocks=2, close=close), None, until=5.0)
        assert cluster.exit_event(pid).triggered
        assert files_of(cluster, 0).snapshot(pid).files == ()


@pytest.mark.parametrize("files", [1, 2, 5])
def test_moving_open_files_costs_their_state_and_three_rpcs_each(files: int) -> None:
    """Moving n clean files: a local request, one message of n x 256 bytes, and 3 RPCs to
    the file server per file at the destination; the record counts them."""
    _, _, without = run_writer(Writer(files=0), "eager")
    _, _, record = run_writer(Writer(files=files), "eager")
    assert without is not None and record is not None
    assert record.files_moved == files
    assert (record.file_blocks_flushed, record.file_blocks_moved) == (0, 0)
    rpc = msg(64) + msg(64)
    install = msg(OPEN_FILE_STATE_BYTES * files) + REOPEN_RPCS * files * rpc
    assert record.phase("files-moved") - record.phase("pages-sent") == exactly(
        SPARC.local_ipc_s + install
    )
    # ... and the latency grows by that, the destination's answer and the local reply.
    extra = 2 * SPARC.local_ipc_s + install + msg(64)
    assert record.latency_s - without.latency_s == exactly(extra)


def test_flushing_writes_the_dirty_blocks_back_to_the_file_server() -> None:
    """Sprite's flushing strategy flushes a file's dirty blocks, one request per file, into
    the file server's memory cache (the disk write follows behind); the destination's
    cache starts empty, the file server holds the versions written."""
    _, _, record = run_writer(Writer(files=2, blocks=6), "flushing")
    assert record is not None and record.ok
    assert (record.files_moved, record.file_blocks_flushed, record.file_blocks_moved) == (2, 6, 0)
    page = SPARC.page_size_bytes
    # The open-file state and the re-open requests are ``files`` traffic; answers are control.
    assert record.bytes_by_kind["files"] == 2 * OPEN_FILE_STATE_BYTES + 2 * REOPEN_RPCS * 64
    cluster, pid, _ = run_writer(Writer(files=2, blocks=6), "flushing", until=2.0)  # migrated
    server = cluster.file_server_nodes[0].debug_server("file")
    assert server.file_snapshot(f"pid{pid}.fd3").tolist() == [1, 2, 3]
    assert files_of(cluster, 1).cached(f"pid{pid}.fd3")[0].size == 0
    assert files_of(cluster, 0).snapshot(pid).files == ()
    assert files_of(cluster, 1).snapshot(pid).files[0][2] == 3 * page
    # One write of 3 blocks per file, each paying its bytes at the cache's rate.
    cache = 3 * page / SPARC.file_server_cache_bytes_per_s
    write = msg(3 * page) + cache + msg(64)
    _, _, clean = run_writer(Writer(files=2), "flushing")
    assert clean is not None
    assert record.latency_s - clean.latency_s == exactly(2 * write)


def test_other_strategies_move_the_dirty_blocks_into_the_destination_cache() -> None:
    """Eager sends the dirty blocks with the open-file state: dirty in the destination's
    cache, nothing written to the file server."""
    _, _, record = run_writer(Writer(files=2, blocks=5), "eager")
    assert record is not None
    assert (record.file_blocks_flushed, record.file_blocks_moved) == (0, 5)
    cluster, pid, _ = run_writer(Writer(files=2, blocks=5), "eager", until=2.0)  # migrated
    versions, dirty = files_of(cluster, 1).cached(f"pid{pid}.fd3")
    assert versions.tolist() == [1, 2, 3] and dirty.all()
    assert (
        cluster.file_server_nodes[0].debug_server("file").file_snapshot(f"pid{pid}.fd3").size == 0
    )
    expected = {
        3: (3 * SPARC.page_size_bytes, np.array([1, 2, 3])),
        4: (2 * SPARC.page_size_bytes, np.array([1, 2])),
    }
    assert check_files(cluster, pid, expected) == []


def test_a_process_without_files_costs_the_file_manager_nothing() -> None:
    """No open file: no request reaches any File Manager and the record counts no file."""
    cluster, _, record = run_writer(Writer(files=0), "flushing")
    assert record is not None
    assert (record.files_moved, record.file_blocks_flushed, record.file_blocks_moved) == (0, 0, 0)
    assert "files" not in record.bytes_by_kind
    assert all(files_of(cluster, n).requests_served == 0 for n in (0, 1))


def test_the_file_check_catches_files_left_behind() -> None:
    """A strategy that forgets the open files is caught: descriptors missing where the
    process runs, still held where it was."""
    register(LeavesTheFiles)
    try:
        harness = Harness.boot(nodes=2)
        pid = harness.spawn_files(0, files=2, blocks=4, cpu_seconds=0.3)

        def driver() -> Any:
            yield harness.env.timeout(0.1)
            yield harness.migrate(pid, 1, "leaves-the-files")

        harness.env.process(driver())
        violations = harness.finish(limit_s=5.0)
    finally:
        unregister("leaves-the-files")
    assert any("still holds open files" in v for v in violations)
    assert any("descriptor 3 is missing on node 1" in v for v in violations)


def test_files_arriving_after_the_process_exited_are_closed() -> None:
    """Freeze-free moves the files after the resume; a process that exits before they
    arrive leaves no descriptor anywhere, and its flushed blocks are on the file server."""
    cluster, pid, record = run_writer(Writer(files=2, blocks=4, sleep_s=1.0), "freeze-free")
    assert record is not None and record.ok and record.files_moved == 2
    exited_at = cluster.node(1).debug_server("process").snapshot(pid)
    assert exited_at.finished
    assert check_quiescent(cluster, [pid]) == []
    server = cluster.file_server_nodes[0].debug_server("file")
    assert server.file_snapshot(f"pid{pid}.fd3").tolist() == [1, 2]
