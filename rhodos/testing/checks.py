"""The invariant checkers: plain functions returning a list of violations (empty: all is well).

They read the servers' state only through each server's read-only ``snapshot`` API,
reached through the kernel's debug accessor (:meth:`rhodos.kernel.Node.debug_server`):
that is what a checker may do and a server may not (``tests/test_layering.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from rhodos.file_manager import FileView
from rhodos.ipc_manager import CommView
from rhodos.kernel import FILE, HERE, ZERO, Cluster, Touch
from rhodos.memory_manager import SpaceView
from rhodos.migration_manager import MigrationRecord, MigrationView
from rhodos.process_manager import PCBView

__all__ = [
    "FAILURE_EVENTS",
    "REFUSALS_IN_FLIGHT",
    "TIME_TOLERANCE_S",
    "check_failures",
    "check_ipc",
    "check_quiescent",
    "check_record",
    "check_residual",
    "check_single_location",
    "file_versions",
    "file_view",
    "ipc_view",
    "memory_view",
    "migration_view",
    "page_versions",
    "process_view",
]

#: Slack for comparing simulated times computed along different paths.
TIME_TOLERANCE_S = 1e-9

#: Refusal reasons (substrings) that are a legitimate outcome when migrations are asked
#: for at random moments: the process is being migrated, has left the node the request
#: went to, has exited, or already is on the destination.
REFUSALS_IN_FLIGHT = ("already migrating", "no process", "exited", "already runs on")


# -- reading the servers' state through their snapshots ------------------------------------
def memory_view(cluster: Cluster, node_id: int, pid: int) -> SpaceView | None:
    """``pid``'s address space as the Memory Manager of ``node_id`` holds it (``None``: none)."""
    view: SpaceView | None = cluster.node(node_id).debug_server("memory").snapshot(pid)
    return view


def process_view(cluster: Cluster, node_id: int, pid: int) -> PCBView:
    """What the Process Manager of ``node_id`` holds of ``pid``."""
    view: PCBView = cluster.node(node_id).debug_server("process").snapshot(pid)
    return view


def ipc_view(cluster: Cluster, node_id: int, pid: int) -> CommView:
    """What the IPC Manager of ``node_id`` holds of ``pid``."""
    view: CommView = cluster.node(node_id).debug_server("ipc").snapshot(pid)
    return view


def migration_view(cluster: Cluster, node_id: int) -> MigrationView:
    """The migrations the Migration Manager of ``node_id`` has under way."""
    view: MigrationView = cluster.node(node_id).debug_server("migration").snapshot()
    return view


def file_view(cluster: Cluster, node_id: int, pid: int) -> FileView:
    """What the File Manager of ``node_id`` holds of ``pid``."""
    view: FileView = cluster.node(node_id).debug_server("files").snapshot(pid)
    return view


def file_versions(cluster: Cluster, node_id: int, pid: int) -> npt.NDArray[np.int64]:
    """The version of every page of ``pid`` the file server ``node_id`` holds (-1: none)."""
    versions: npt.NDArray[np.int64] = cluster.node(node_id).debug_server("file").snapshot(pid)
    return versions


def exited(cluster: Cluster, pid: int) -> bool:
    """Process ``pid`` has exited."""
    return bool(cluster.exit_event(pid).triggered)


def live(cluster: Cluster, pid: int) -> bool:
    """Committed somewhere (spawned) and not exited."""
    return pid in cluster.location_of and not exited(cluster, pid)


# -- memory ------------------------------------------------------------------------------
def page_versions(cluster: Cluster, pid: int) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The authoritative version of every page of live process ``pid``, and any problem.

    A page is resident on the node the process runs on (``cluster.location_of``), or its
    location there says where it is: a peer whose Memory Manager holds it resident, the
    file server (a version never written there is the initial image, version 0), or
    nowhere yet (zero-filled: version 0). A page that is where nothing holds it is
    lost; its version is -1.
    """
    here = cluster.location_of[pid]
    space = memory_view(cluster, here, pid)
    if space is None:
        return np.empty(0, dtype=np.int64), [
            f"process {pid}: no address space on node {here}, where it runs"
        ]
    out = np.full(space.pages, -1, dtype=np.int64)
    problems: list[str] = []
    resident = space.resident
    out[resident] = space.version[resident]
    away = np.flatnonzero(~resident)
    where = space.location[away].astype(np.int64)
    out[away[where == ZERO]] = 0
    on_file = away[where == FILE]
    if on_file.size:
        if not cluster.file_server_nodes:
            problems.append(f"process {pid}: pages {on_file.tolist()} on a missing file server")
        else:
            versions = file_versions(cluster, cluster.file_server_nodes[0].node_id, pid)
            known = on_file < versions.size
            out[on_file] = 0
            out[on_file[known]] = np.maximum(versions[on_file[known]], 0)
    marked_here = away[where == HERE]
    if marked_here.size:
        problems.append(
            f"process {pid}: pages {marked_here.tolist()} marked here on node {here} "
            "but not resident"
        )
    for peer in np.unique(where[where >= 0]).tolist():
        pages = away[where == peer]
        if peer == here:
            problems.append(
                f"process {pid}: pages {pages.tolist()} located at node {peer}, "
                "where it runs, but not resident"
            )
            continue
        holder = memory_view(cluster, peer, pid)
        if holder is None:
            problems.append(
                f"process {pid}: pages {pages.tolist()} located at node {peer}, "
                "which holds no copy of its address space"
            )
            continue
        held = holder.resident[pages]
        out[pages[held]] = holder.version[pages[held]]
        if not held.all():
            problems.append(
                f"process {pid}: pages {pages[~held].tolist()} located at node {peer}, "
                "which does not hold them"
            )
    return out, problems


# -- processes and locations ---------------------------------------------------------------
def check_single_location(cluster: Cluster, pids: Iterable[int]) -> list[str]:
    """At this instant: each live process runs on at most one node, the one it is committed to.

    For every pid committed and not exited: at most one :class:`~rhodos.kernel.Thread`
    exists for it across the nodes, that thread is on ``cluster.location_of[pid]``, and
    the Process Manager there holds the PCB (never zero places, never two).
    """
    out: list[str] = []
    for pid in pids:
        if not live(cluster, pid):
            continue
        where = cluster.location_of[pid]
        running = [node.node_id for node in cluster.nodes if pid in node.threads]
        if len(running) > 1:
            out.append(f"t={cluster.now:.6f}: process {pid} has threads on nodes {running}")
        elif running and running[0] != where:
            out.append(
                f"t={cluster.now:.6f}: process {pid} runs on node {running[0]} "
                f"but is committed to node {where}"
            )
        pcb = process_view(cluster, where, pid)
        if not (pcb.live or pcb.finished):
            out.append(
                f"t={cluster.now:.6f}: process {pid} is committed to node {where}, "
                "whose Process Manager has no PCB for it"
            )
    return out


# -- migration records and residual dependencies -------------------------------------------
def _faulting(cluster: Cluster, pid: int, space: SpaceView) -> npt.NDArray[np.int64]:
    """Pages on their way to the process right now: the one it faults on (and prefetch)."""
    thread = cluster.node(cluster.location_of[pid]).threads.get(pid)
    step = thread.context.step if thread is not None else None
    progress = thread.context.progress if thread is not None else None
    if not isinstance(step, Touch) or progress is None or progress >= step.pages.size:
        return np.empty(0, dtype=np.int64)
    page = int(step.pages[int(progress)])
    return np.arange(page, min(space.pages, page + 1 + space.prefetch), dtype=np.int64)


def check_residual(cluster: Cluster, pid: int, source: int) -> list[str]:
    """Right now the process depends on nothing held at ``source``.

    Its address space where it runs locates no page at ``source`` (trivially true when
    it runs on ``source`` again, or has exited) -- except the pages of the fault it
    waits on, which may be on the wire from there.
    """
    if not live(cluster, pid) or cluster.location_of[pid] == source:
        return []
    here = cluster.location_of[pid]
    space = memory_view(cluster, here, pid)
    if space is None:
        return []
    left = np.setdiff1d(
        np.flatnonzero(~space.resident & (space.location == source)),
        _faulting(cluster, pid, space),
    )
    if left.size:
        return [
            f"t={cluster.now:.6f}: process {pid} on node {here} still has pages "
            f"{left[:10].tolist()} ({left.size}) at node {source}, whose dependency has ended"
        ]
    return []


def check_record(
    record: MigrationRecord, strategy_cls: type[Any], cluster: Cluster | None = None
) -> list[str]:
    """The metric invariants of one finished migration record.

    freeze <= latency <= total (up to float rounding), bytes on the network >= the
    execution state, no residual time for a strategy that promises none, and -- given
    the ``cluster`` -- the source holds nothing of the process any more (unless the
    process came back to it, or is on its way back) and, if the process still runs
    elsewhere, its address space locates no page at the source. A refusal only has to
    say why.
    """
    label = f"{record.strategy} {record.source}->{record.destination} of process {record.pid}"
    failed = getattr(record, "failed", None)
    if failed is not None:
        return [f"{label}: failed: {failed}"]
    if record.refused is not None:
        if not record.refused:
            return [f"{label}: refused without a reason"]
        return []
    out: list[str] = []
    times = {
        "freeze": record.freeze_s,
        "latency": record.latency_s,
        "total": record.total_s,
        "residual": record.residual_s,
    }
    for name, value in times.items():
        if not math.isfinite(value) or value < -TIME_TOLERANCE_S:
            out.append(f"{label}: {name} time is {value!r}")
    if not record.freeze_s <= record.latency_s + TIME_TOLERANCE_S:
        out.append(f"{label}: freeze {record.freeze_s!r} s > latency {record.latency_s!r} s")
    if not record.latency_s <= record.total_s + TIME_TOLERANCE_S:
        out.append(f"{label}: latency {record.latency_s!r} s > total {record.total_s!r} s")
    if record.bytes_total < record.state_bytes:
        out.append(
            f"{label}: {record.bytes_total} bytes on the network < {record.state_bytes} "
            "bytes of state"
        )
    if strategy_cls.residual == "none" and record.residual_s != 0:
        out.append(f"{label}: promises no residual dependency, has {record.residual_s!r} s")
    if cluster is not None:
        # The source may hold the process again: it came back, or a later migration to
        # it is under way (its Migration Manager still counts it as incoming).
        back = (
            live(cluster, record.pid) and cluster.location_of[record.pid] == record.source
        ) or record.pid in migration_view(cluster, record.source).incoming
        if not back and memory_view(cluster, record.source, record.pid) is not None:
            out.append(f"{label}: the source still holds an address space for the process")
        out.extend(f"{label}: {p}" for p in check_residual(cluster, record.pid, record.source))
    return out


def check_ipc(cluster: Cluster) -> list[str]:
    """No IPC Manager counted a duplicate or dropped a user message (statistics and log)."""
    out: list[str] = []
    for node in cluster.nodes:
        stats = node.statistics("ipc")
        if stats.duplicates or stats.dropped:
            out.append(
                f"node {node.node_id}: IPC statistics count {stats.duplicates} duplicates, "
                f"{stats.dropped} dropped"
            )
    for event in cluster.log.select(component="ipc"):
        if event.event in ("duplicate", "user-drop", "unreceived"):
            out.append(f"t={event.time:.6f} node {event.node}: {event.event} {dict(event.fields)}")
    return out


#: Events that say something could not be done: each one is a violation.
FAILURE_EVENTS = ("lost", "page-lost", "handler-error", "failed")


def check_failures(cluster: Cluster) -> list[str]:
    """No process was reported lost, no page was lost, no handler failed, no migration failed."""
    return [
        f"t={event.time:.6f} node {event.node}: {event.component} {event.event} "
        f"{dict(event.fields)}"
        for event in cluster.log
        if event.event in FAILURE_EVENTS
    ]


def check_quiescent(cluster: Cluster, pids: Iterable[int]) -> list[str]:
    """After the run: every process exited, and no server still holds anything of it."""
    out: list[str] = []
    pids = list(pids)
    for pid in pids:
        if not exited(cluster, pid):
            where = cluster.location_of.get(pid)
            out.append(f"t={cluster.now:.6f}: process {pid} (on node {where}) never exited")
            continue
        for node in cluster.nodes:
            if memory_view(cluster, node.node_id, pid) is not None:
                out.append(f"node {node.node_id} still holds an address space of process {pid}")
            comm = ipc_view(cluster, node.node_id, pid)
            if comm.state or comm.held or comm.expected:
                out.append(f"node {node.node_id} still holds messages or state of process {pid}")
            if process_view(cluster, node.node_id, pid).live:
                out.append(f"node {node.node_id} still holds a live PCB of process {pid}")
            if file_view(cluster, node.node_id, pid).files:
                out.append(f"node {node.node_id} still holds open files of process {pid}")
    if all(exited(cluster, pid) for pid in cluster.location_of):
        for node in cluster.nodes:
            if node.frames_used:
                out.append(f"node {node.node_id}: {node.frames_used} frames still allocated")
    return out
