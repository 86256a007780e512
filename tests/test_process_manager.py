"""Specification of the Process Manager: spawn, exit, suspend/resume, migration, home calls."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import pytest
import simpy

from rhodos.ipc_manager import requests as ipc
from rhodos.kernel import (
    Action,
    Cluster,
    Compute,
    Exit,
    HomeCall,
    Receive,
    Request,
    Send,
    Sleep,
    Touch,
)
from rhodos.memory_manager import PageSet
from rhodos.memory_manager import requests as mm
from rhodos.process_manager import ProcessManager
from rhodos.process_manager import requests as pmr
from rhodos.system import processes, spawn
from rhodos.workload import ProgramContext, ProgramGenerator

Gen = Generator[simpy.events.Event, Any, Any]


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


@attrs.frozen
class Script:
    """A program that yields a fixed list of actions (8 pages: code 0, heap 1..6, stack 7)."""

    actions: tuple[Action, ...]
    name: str = "script"
    memory_bytes: int = 64 * 1024

    def run(self, ctx: ProgramContext) -> ProgramGenerator:
        for action in self.actions:
            _ = yield action  # a receive's message is sent back in, and ignored


def writes(*pages: int) -> Touch:
    """A batch writing ``pages``."""
    return Touch(np.array(pages), np.ones(len(pages), dtype=np.bool_))


def pm(cluster: Cluster, node: int) -> ProcessManager:
    """The Process Manager of ``node``."""
    manager: ProcessManager = cluster.node(node).debug_server("process")
    return manager


def call(cluster: Cluster, node: int, role: str, request: Request, *, src: int) -> Any:
    """A request from node ``src`` to ``role``'s server on ``node``."""
    return cluster.node(src).call(cluster.role_port(node, role), request)


def migrate(cluster: Cluster, pid: int, src: int, dest: int) -> Gen:
    """Move ``pid`` as an eager migration would: pages, comm state, process state, clean-up."""
    layout = pm(cluster, src).pcbs[pid].layout
    yield call(cluster, dest, "memory", mm.InstallSpace(pid, layout, src, 0), src=src)
    yield call(cluster, src, "memory", mm.SendPages(pid, dest, PageSet.ALL), src=src)
    yield call(cluster, dest, "ipc", ipc.Expect(pid), src=src)
    yield call(cluster, src, "ipc", ipc.Hold(pid), src=src)
    yield call(cluster, src, "ipc", ipc.MigrateOut(pid, dest), src=src)
    yield call(cluster, src, "process", pmr.MigrateOut(pid, dest, True), src=src)
    yield call(cluster, src, "memory", mm.Free(pid), src=src)  # the source keeps nothing


def log_time(cluster: Cluster, event: str, component: str) -> float:
    """When the one ``event`` of ``component`` happened."""
    [entry] = cluster.log.select(event, component)
    return entry.time


# -- lifecycle --------------------------------------------------------------------------


def test_spawn_creates_the_pcb_the_address_space_and_the_mailbox(cluster: Cluster) -> None:
    """Spawning asks the Memory and IPC Managers for their resources, then starts the thread."""
    pid, done = spawn(cluster, Script((Sleep(1.0),)), 0)
    cluster.run(until=done)
    ipc_cost = cluster.profile.local_ipc_s
    assert done.value.body == pid
    assert cluster.now == exactly(6 * ipc_cost)  # request, create x2, open x2, reply
    pcb = pm(cluster, 0).pcbs[pid]
    assert (pcb.state, pcb.home, pcb.node, pcb.layout.pages) == ("running", 0, 0, 8)
    assert pcb.created_at == exactly(5 * ipc_cost)
    node = cluster.node(0)
    assert node.debug_server("memory").spaces[pid].resident.all()
    assert node.frames_used == 8
    assert pid in node.debug_server("ipc").comm
    assert pid in node.threads
    assert cluster.home_of[pid] == 0


def test_exit_frees_memory_and_fires_the_exit_event(cluster: Cluster) -> None:
    """A program's exit releases its frames and mailbox and fires ``exit_event`` with its code."""
    pid, _ = spawn(cluster, Script((Compute(0.5), Exit(3))), 0)
    exited = cluster.exit_event(pid)
    cluster.run(until=exited)
    ipc_cost = cluster.profile.local_ipc_s
    assert exited.value == 3
    assert cluster.now == exactly(0.5 + 11 * ipc_cost)
    finished = pm(cluster, 0).finished[pid]
    assert (finished.state, finished.exited_at) == ("exited", exactly(0.5 + 7 * ipc_cost))
    node = cluster.node(0)
    assert node.frames_used == 0
    assert pid not in node.debug_server("memory").spaces
    assert pid not in node.debug_server("ipc").comm
    assert pid not in node.threads and pid not in pm(cluster, 0).pcbs


def test_suspend_and_resume_delay_the_exit_by_the_suspension(
    cluster: Cluster, run_process: Any
) -> None:
    """A process suspended mid-burst keeps its CPU time and ends later by the suspension."""
    p = cluster.profile
    ipc_cost = p.local_ipc_s
    pid, _ = spawn(cluster, Script((Compute(1.0),)), 0)
    owed: list[float] = []

    def operator() -> Gen:
        yield cluster.env.timeout(0.5)
        yield call(cluster, 0, "process", pmr.Suspend(pid), src=0)
        pcb = pm(cluster, 0).pcbs[pid]
        assert pcb.state == "frozen" and pid not in cluster.node(0).threads
        assert isinstance(pcb.context.step, Compute)
        owed.append(pcb.context.progress)
        yield cluster.env.timeout(1.0 - cluster.now)
        yield call(cluster, 0, "process", pmr.Resume(pid), src=0)
        return (yield cluster.exit_event(pid))

    assert run_process(cluster, operator) == 0
    # By 0.5 + ipc the CPU ran 7 local messages (spawn's six, the suspend request) and user work.
    assert owed == [exactly(0.5 + 6 * ipc_cost)]
    frozen, resumed = log_time(cluster, "frozen", "thread"), log_time(cluster, "resume", "process")
    assert resumed - frozen == exactly(0.5 + p.context_switch_s)
    alone = 1.0 + 11 * ipc_cost
    # The suspend request and the resume reply pre-empt the running process as well.
    assert cluster.now == exactly(alone + (resumed - frozen) + 2 * ipc_cost)
    [snapshot] = processes(cluster)
    assert snapshot.cpu_seconds == exactly(1.0)


def test_a_process_suspended_in_a_receive_gets_the_message_after_resume(
    cluster: Cluster, run_process: Any
) -> None:
    """Suspending a process blocked in a receive withdraws the receive; the message waits for it."""
    receiver, _ = spawn(cluster, Script((Receive(),)), 0)
    spawn(cluster, Script((Sleep(0.2), Send(receiver, 64, "hi"))), 1)

    def operator() -> Gen:
        yield cluster.env.timeout(0.1)
        yield call(cluster, 0, "process", pmr.Suspend(receiver), src=0)
        yield cluster.env.timeout(0.3 - cluster.now)
        status = yield call(cluster, 0, "process", pmr.Status(receiver), src=0)
        yield call(cluster, 0, "process", pmr.Resume(receiver), src=0)
        yield cluster.exit_event(receiver)
        return status.body

    while_suspended = run_process(cluster, operator)
    assert (while_suspended.state, while_suspended.messages_received) == ("frozen", 0)
    assert len(cluster.node(0).debug_server("ipc").comm) == 0  # closed at exit
    snapshot = next(s for s in processes(cluster) if s.pid == receiver)
    assert (snapshot.state, snapshot.messages_received) == ("exited", 1)
    assert snapshot.exited_at > 0.3


# -- migration --------------------------------------------------------------------------


def test_migrated_process_finishes_on_the_destination_with_its_cpu_time(
    cluster: Cluster, run_process: Any
) -> None:
    """A process moved mid-computation finishes on the new node: same CPU time, same memory."""
    p = cluster.profile
    program = Script((writes(1, 2), Compute(1.0), writes(2, 3), Sleep(0.5)))
    pid, _ = spawn(cluster, program, 0)
    seen: list[list[int]] = []

    def operator() -> Gen:
        yield cluster.env.timeout(0.3)
        yield from migrate(cluster, pid, 0, 1)
        while cluster.node(1).threads[pid].context.step is not program.actions[3]:
            yield cluster.env.timeout(0.05)
        seen.append(cluster.node(1).pager(pid).version.tolist())
        return (yield cluster.exit_event(pid))

    assert run_process(cluster, operator) == 0
    assert seen == [[0, 1, 2, 1, 0, 0, 0, 0]]
    [snapshot] = processes(cluster)
    assert (snapshot.node, snapshot.migrations, snapshot.state) == (1, 1, "exited")
    assert (snapshot.faults, snapshot.cpu_seconds) == (0, exactly(1.0))
    assert pm(cluster, 0).departed[pid] == 1 and pid in pm(cluster, 1).finished
    on_source = cluster.node(0).cpu.statistics().user_seconds
    on_dest = cluster.node(1).cpu.statistics().user_seconds
    assert 0 < on_source < 1.0 and on_source + on_dest == exactly(1.0)
    # On the destination: the CPU time left, the sleep, the exit's five local messages, and
    # the kernel overhead of sending the install's reply while it computes. (The source's
    # ``free`` tells nobody: its pages went to the live process, not to a residual copy.)
    resumed = log_time(cluster, "resume", "process")
    assert cluster.now - resumed == exactly(
        (1.0 - on_source) + 0.5 + 5 * p.local_ipc_s + 1 * p.message_cpu_overhead_s
    )
    assert [cluster.node(n).frames_used for n in (0, 1)] == [0, 0]
    assert all(pid not in cluster.node(n).debug_server("memory").spaces for n in (0, 1))


def test_home_call_after_migration_is_served_by_the_home_node(
    cluster: Cluster, run_process: Any
) -> None:
    """A location-dependent call is served by the home node's Process Manager, wherever it runs."""
    p = cluster.profile
    service = 0.01
    call_home = HomeCall("device", size_bytes=128, service_s=service)
    pid, _ = spawn(cluster, Script((Compute(0.1), call_home, Compute(0.2), call_home)), 0)

    def operator() -> Gen:
        yield cluster.env.timeout(0.15)
        yield from migrate(cluster, pid, 0, 1)
        return (yield cluster.exit_event(pid))

    run_process(cluster, operator)
    assert (pm(cluster, 0).home_calls_served, pm(cluster, 1).home_calls_served) == (2, 0)
    assert cluster.network.statistics().messages_by_kind["home"] == 2
    context = pm(cluster, 1).finished[pid].context
    at_home = 2 * p.local_ipc_s + service
    one_way = 2 * p.message_cpu_overhead_s + p.network_latency_s
    from_away = 2 * one_way + 2 * p.wire_bytes(128) / p.bandwidth_bytes_per_s + service
    assert (context.home_calls, context.home_call_s) == (2, exactly(at_home + from_away))


def test_the_sources_free_never_drops_the_destinations_live_space(
    cluster: Cluster, run_process: Any
) -> None:
    """Installed but not yet started at the destination, the process keeps its pages there."""
    pid, _ = spawn(cluster, Script((writes(1), Sleep(1.0))), 0)

    def operator() -> Gen:
        yield cluster.env.timeout(0.1)
        layout = pm(cluster, 0).pcbs[pid].layout
        yield call(cluster, 1, "memory", mm.InstallSpace(pid, layout, 0, 0), src=0)
        yield call(cluster, 0, "memory", mm.SendPages(pid, 1, PageSet.ALL), src=0)
        yield call(cluster, 1, "ipc", ipc.Expect(pid), src=0)
        yield call(cluster, 0, "ipc", ipc.MigrateOut(pid, 1), src=0)
        yield call(cluster, 0, "process", pmr.MigrateOut(pid, 1, False), src=0)
        yield call(cluster, 0, "memory", mm.Free(pid), src=0)
        yield cluster.env.timeout(0.1)  # anything the free sent has arrived by now
        space = cluster.node(1).debug_server("memory").spaces.get(pid)
        yield call(cluster, 1, "process", pmr.Resume(pid), src=0)
        return space

    space = run_process(cluster, operator)
    assert space is not None and space.resident.all()
    assert space.version[1] == 1
    cluster.run()
    [snapshot] = processes(cluster)
    assert (snapshot.node, snapshot.state, snapshot.faults) == (1, "exited", 0)
