"""Specification of the fault layer: crashes by plan, recovery, checkpoints, restarts."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
import numpy.typing as npt
import pytest

from rhodos.faults import Crash, FaultInjector, FaultPlan, PhaseCrash, RandomFailures, Shutdown
from rhodos.kernel import LOST_EXIT_CODE, CheckpointImage, Cluster
from rhodos.load.location import Local
from rhodos.load.policy import Agent, Decision, Target
from rhodos.load.run import configure
from rhodos.load.settings import Settings
from rhodos.migration_manager.requests import Checkpoint
from rhodos.system import boot, migrate, processes, spawn
from rhodos.workload.programs import Computer


def program(cpu_seconds: float = 3.0) -> Computer:
    return Computer(cpu_seconds=cpu_seconds, memory_bytes=128 * 1024)


def crashed_run(
    plan: FaultPlan, *, until: float = 60.0, nodes: int = 3
) -> tuple[Cluster, FaultInjector, int]:
    cluster = boot(nodes=nodes)
    injector = FaultInjector(cluster, plan)
    pid, _ = spawn(cluster, program(), 0)
    cluster.run(until=until)
    return cluster, injector, pid


def test_a_process_without_a_checkpoint_is_reported_lost_with_the_reason() -> None:
    """Its node crashed; the recovery manager learns it by heartbeats and says why."""
    plan = FaultPlan(crashes=[Crash(0, 1.0)], restart_from_start=False, until_s=20)
    cluster, injector, pid = crashed_run(plan)
    assert cluster.exit_event(pid).value == LOST_EXIT_CODE
    assert "it had no checkpoint" in injector.journal.lost[pid]
    [declared_at] = injector.journal.declared_at
    detection = injector.detection
    assert (
        detection.suspicion_s
        < declared_at - 1.0
        <= detection.suspicion_s + 2 * (detection.heartbeat_interval_s)
    )


def test_a_process_without_a_checkpoint_restarts_from_its_start() -> None:
    """Its program's image is its first checkpoint: all the work it did is lost."""
    plan = FaultPlan(crashes=[Crash(0, 1.0)], until_s=20)
    cluster, injector, pid = crashed_run(plan)
    assert cluster.exit_event(pid).value == 0
    assert injector.journal.restarts == {pid: 1}
    assert injector.journal.work_lost_s == pytest.approx(1.0, abs=0.05)


def test_a_checkpointed_process_restarts_and_its_work_lost_is_reported() -> None:
    """Periodic checkpoints: the process restarts on another node and finishes; the work
    it did after its last checkpoint is reported lost and done again."""
    plan = FaultPlan(crashes=[Crash(0, 1.9, 1.0)], checkpoint_interval_s=1.0, until_s=40)
    cluster, injector, pid = crashed_run(plan)
    assert cluster.exit_event(pid).value == 0
    assert injector.journal.restarts == {pid: 1}
    assert 0 < injector.journal.work_lost_s < 1.0
    [snapshot] = [p for p in processes(cluster) if p.pid == pid and p.state == "exited"]
    assert snapshot.cpu_seconds == pytest.approx(3.0)
    assert cluster.location_of[pid] != 0 or cluster.incarnation(0) == 1


def test_incremental_checkpoints_write_less_than_full_ones() -> None:
    """After the first (full) checkpoint, only the pages dirtied since are written."""
    full = crashed_run(FaultPlan(checkpoint_interval_s=0.5, until_s=3), until=3)[1]
    incremental = crashed_run(
        FaultPlan(checkpoint_interval_s=0.5, incremental=True, until_s=3), until=3
    )[1]
    first, *rest = incremental.checkpoints
    assert first.full and rest and not any(c.full for c in rest)
    assert max(c.bytes for c in rest) < min(c.bytes for c in full.checkpoints)


def test_a_checkpoint_on_request_costs_the_file_servers_time() -> None:
    """Written on request: the process is frozen while its pages cross the network and
    reach the file server's disk."""
    cluster = boot(nodes=2)
    FaultInjector(cluster, FaultPlan(until_s=5))
    pid, _ = spawn(cluster, program(), 0)
    cluster.run(until=0.5)
    done = cluster.node(0).submit("migration", Checkpoint(pid))
    cluster.run(until=done)
    image = done.value
    assert isinstance(image, CheckpointImage) and image.full
    profile = cluster.profile
    disk_s = image.bytes / profile.file_server_bytes_per_s
    assert cluster.now - 0.5 > disk_s + profile.file_server_latency_s


@attrs.frozen
class ToLast(Local):
    """A location policy that sends work to the highest-numbered candidate node."""

    name: ClassVar[str] = "to-last-test"

    def destination(self, agent: Agent, candidates: npt.NDArray[np.int32]) -> Decision:
        return Target(3, None)
        yield


def test_the_restart_node_is_the_location_policys_choice() -> None:
    """The recovery manager asks a live node's Load Manager where the process goes."""
    cluster = boot(nodes=4)
    injector = FaultInjector(
        cluster, FaultPlan(crashes=[Crash(0, 1.5)], checkpoint_interval_s=1.0, until_s=30)
    )
    configure(cluster, Settings(location=ToLast(), trader=1))
    pid, _ = spawn(cluster, program(), 0)
    cluster.run(until=30)
    assert injector.journal.restarts == {pid: 1}
    assert cluster.location_of[pid] == 3
    assert cluster.exit_event(pid).value == 0


def test_a_crash_at_a_phase_hits_the_node_named() -> None:
    """PhaseCrash crashes the destination at the instant the migration's Migration Manager
    records that the process resumed there."""
    cluster = boot(nodes=3)
    plan = FaultPlan(phase_crashes=[PhaseCrash(1, "resumed", "destination")])
    injector = FaultInjector(cluster, plan)
    spawn(cluster, program(), 0, pid=1)
    cluster.run(until=0.2)
    record = migrate(cluster, 1, 2, "eager")
    cluster.run(until=20)
    [crash] = injector.crashes
    resumed = [e.time for e in cluster.log.select("resumed", component="migration")]
    assert crash.node == 2 and crash.at == resumed[0] >= record.value.resumed_at
    assert injector.journal.restarts == {1: 1}  # from its start: it had no checkpoint
    assert cluster.exit_event(1).value == 0


def test_random_failures_lose_nothing_unreported_and_run_nothing_twice() -> None:
    """Under random crashes and repairs with checkpoints, every process ends -- finished or
    reported lost with a reason -- and none ever runs on two nodes."""
    cluster = boot(nodes=4)
    plan = FaultPlan(
        random=RandomFailures(mttf_s=6.0, mttr_s=1.0),
        checkpoint_interval_s=0.5,
        until_s=60,
    )
    injector = FaultInjector(cluster, plan)
    pids = [spawn(cluster, program(2.0), n % 4)[0] for n in range(6)]
    twice: list[float] = []

    def watch() -> Any:
        while cluster.now < 60:
            running = [pid for node in cluster.nodes for pid in node.threads]
            if len(running) != len(set(running)):
                twice.append(cluster.now)
            yield cluster.env.timeout(0.005)

    cluster.env.process(watch())
    cluster.run(until=60)
    assert injector.crashes
    assert twice == []
    for pid in pids:
        code = cluster.exit_event(pid).value
        assert code == 0 or pid in injector.journal.lost


def test_a_node_that_announces_its_shutdown_migrates_its_processes_away() -> None:
    """Warned, node 0 moves its processes off before it goes down: nothing is restarted,
    no work is lost, and every process finishes elsewhere."""
    cluster = boot(nodes=3)
    plan = FaultPlan(shutdowns=[Shutdown(0, at_s=0.5, warning_s=3.0, strategy="precopy")])
    injector = FaultInjector(cluster, plan)
    pids = [spawn(cluster, program(2.0), 0)[0] for _ in range(2)]
    cluster.run(until=30)
    assert [crash.node for crash in injector.crashes] == [0]
    assert sorted(injector.evacuated) == pids
    assert injector.journal.restarts == {} and injector.journal.work_lost_s == 0
    for pid in pids:
        assert cluster.exit_event(pid).value == 0 and cluster.location_of[pid] != 0


def test_without_warning_the_same_crash_costs_restarts() -> None:
    """The same node going down unannounced: its processes restart, their work lost."""
    cluster = boot(nodes=3)
    injector = FaultInjector(cluster, FaultPlan(crashes=[Crash(0, 3.5)]))
    for _ in range(2):
        spawn(cluster, program(2.0), 0)
    cluster.run(until=30)
    assert sum(injector.journal.restarts.values()) == 2 and injector.journal.work_lost_s > 1
