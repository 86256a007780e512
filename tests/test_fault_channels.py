"""Specification of channels across crashes: every message reaches its receiving program
exactly once, in order, whatever crashed and was restarted from a checkpoint; a message
that can never be delivered is reported to the process that sent it; a restarted
process runs again what it had done since its checkpoint."""

from __future__ import annotations

import pytest

from rhodos.faults import Crash, FaultInjector, FaultPlan, RandomFailures
from rhodos.faults.talkers import Counter, Echo, Tally
from rhodos.kernel import Cluster
from rhodos.system import boot, processes, spawn
from rhodos.workload.programs import Computer

ROUNDS = 150


def pair(cluster: Cluster, tally: Tally, *, on: tuple[int, int] = (0, 1)) -> tuple[int, int]:
    """A counter on node ``on[0]`` and its echo on node ``on[1]``."""
    counter, echo = cluster.new_pid(), cluster.new_pid()
    spawn(cluster, Counter(tally, rounds=ROUNDS), on[0], pid=counter, peers={"peer": echo})
    spawn(cluster, Echo(tally, rounds=ROUNDS), on[1], pid=echo, peers={"peer": counter})
    return counter, echo


def codes(cluster: Cluster, *pids: int) -> list[int | None]:
    return [cluster.exit_event(p).value if cluster.exit_event(p).triggered else None for p in pids]


@pytest.mark.parametrize("crashed", ["counter", "echo"])
@pytest.mark.parametrize("at", [0.75, 1.3, 2.05])
def test_every_number_is_taken_exactly_once_across_a_crash_and_a_restart(
    crashed: str, at: float
) -> None:
    """The node of one of the pair crashes between two checkpoints: that process restarts
    from its checkpoint with the channel state it had then and the messages it took
    since, and each side still takes every number once, in order."""
    cluster = boot(nodes=3)
    node = 0 if crashed == "counter" else 1
    plan = FaultPlan(crashes=[Crash(node, at, 1.0)], checkpoint_interval_s=0.5, until_s=60)
    injector = FaultInjector(cluster, plan)
    tally = Tally()
    counter, echo = pair(cluster, tally)
    cluster.run(until=60)
    pid = counter if crashed == "counter" else echo
    assert injector.journal.restarts == {pid: 1}
    assert codes(cluster, counter, echo) == [0, 0]
    assert tally.messages == 2 * ROUNDS
    assert (tally.lost(), tally.duplicated, tally.undeliverable) == (0, 0, 0)
    assert set(tally.taken.values()) == {1}


def test_under_random_failures_no_message_is_lost_or_taken_twice() -> None:
    """Three pairs on four nodes that crash every 10 s on average, checkpointed twice a
    second: several restarts, and every message is still taken exactly once."""
    cluster = boot(nodes=4, seed=1)
    plan = FaultPlan(
        random=RandomFailures(mttf_s=10.0, mttr_s=1.0), checkpoint_interval_s=0.5, until_s=200
    )
    injector = FaultInjector(cluster, plan)
    tally = Tally()
    pids = [p for i in range(3) for p in pair(cluster, tally, on=(i, i + 1))]
    cluster.run(until=200)
    assert sum(injector.journal.restarts.values()) >= 5
    assert codes(cluster, *pids) == [0] * 6
    assert tally.messages == 6 * ROUNDS
    assert (tally.lost(), tally.duplicated) == (0, 0)


def test_the_sending_process_is_told_when_its_receiver_is_lost() -> None:
    """The echo's node crashes and the echo, without a checkpoint, is lost: the counter's
    next number cannot be delivered, and the counter itself receives the notice."""
    cluster = boot(nodes=3)
    plan = FaultPlan(crashes=[Crash(1, 0.5)], restart_from_start=False, until_s=60)
    injector = FaultInjector(cluster, plan)
    tally = Tally()
    counter, echo = pair(cluster, tally)
    cluster.run(until=60)
    assert echo in injector.journal.lost
    assert codes(cluster, counter) == [0]
    assert tally.undeliverable == 1
    assert tally.lost(frozenset({echo})) == 0
    bounced = sum(n.statistics("ipc").bounced for n in cluster.nodes)
    assert bounced == 1


def test_a_restarted_process_runs_again_the_work_it_had_done_since_its_checkpoint() -> None:
    """Checkpointed at 1 s, crashed at 1.9 s: the restarted process computes again the CPU
    seconds it had done since its checkpoint, so it ends that much later; the recovery
    manager measures the re-run, equal to the work lost."""
    cluster = boot(nodes=3)
    plan = FaultPlan(crashes=[Crash(0, 1.9, 1.0)], checkpoint_interval_s=1.0, until_s=40)
    injector = FaultInjector(cluster, plan)
    pid, _ = spawn(cluster, Computer(cpu_seconds=3.0, memory_bytes=128 * 1024), 0)
    cluster.run(until=40)
    journal = injector.journal
    assert journal.restarts == {pid: 1}
    assert 0.5 < journal.work_lost_s < 1.0
    assert journal.reexecuted_s == pytest.approx(journal.work_lost_s, abs=1e-9)
    [restarted] = [e.time for e in cluster.log.select("restarted", component="recovery")]
    [done] = [p for p in processes(cluster) if p.pid == pid and p.state == "exited"]
    assert done.cpu_seconds == pytest.approx(3.0)
    # It had done at most 1.9 CPU-s at the crash: what was left, and the work lost again.
    assert done.exited_at is not None
    assert done.exited_at - restarted >= (3.0 - 1.9) + journal.work_lost_s
