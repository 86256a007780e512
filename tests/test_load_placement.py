"""Specification of what the Load Manager does with work: where it is born, what migrates."""

from __future__ import annotations

import attrs
import pytest
from load_helpers import Job, exec_jobs, load_cluster

from rhodos.kernel import load_profile
from rhodos.load import policy_settings
from rhodos.load.requests import SIZES
from rhodos.migration_manager import make_strategy, registered
from rhodos.system import processes

#: Offers are exported at boot only, so the network carries nothing else periodic.
QUIET = {"offer_period_s": 1e6}


def test_without_sharing_every_process_runs_where_it_arrives() -> None:
    """Policy ``none``: no probe, no remote exec, every process is born on its arrival node."""
    cluster = load_cluster(3, "none")
    jobs = [Job(at=0.1 * i, node=i % 3, cpu_s=1.0) for i in range(9)]
    cluster.run(until=exec_jobs(cluster, jobs))
    assert all(cluster.home_of[j.pid] == j.node == cluster.location_of[j.pid] for j in jobs)
    stats = [node.statistics("load") for node in cluster.nodes]
    assert sum(s.placed_remote + s.probes_sent + s.migrations_requested for s in stats) == 0


def test_placement_at_birth_starts_the_process_on_the_chosen_node_at_once_when_free() -> None:
    """Round-robin from node 0 of two nodes sends every exec to node 1; with zero costs the
    process exists there at the instant of its exec (a teleport, no freeze), but for the
    nanosecond its exec request takes at the largest bandwidth a profile may have."""
    cluster = load_cluster(2, "round-robin", **QUIET)
    jobs = [Job(at=0.5 + 0.25 * i, node=0, cpu_s=2.0) for i in range(4)]
    cluster.run(until=exec_jobs(cluster, jobs))
    assert {cluster.home_of[j.pid] for j in jobs} == {1}
    created = {snap.pid: snap.created_at for snap in processes(cluster)}
    assert [created[j.pid] for j in jobs] == pytest.approx([j.at for j in jobs], abs=1e-8)
    assert cluster.node(0).statistics("load").placed_remote == 4
    assert cluster.node(1).statistics("load").remote_execs_served == 4


def test_a_remote_exec_costs_one_request_carrying_the_exec_and_one_reply() -> None:
    """On the Sun-3 profile, the network carries, besides the trader's traffic, one
    1 KiB exec request and one 16-byte reply per remote placement, and the process is
    born on the remote node no sooner than that request can cross the Ethernet."""
    cluster = load_cluster(2, "round-robin", cost="model", **QUIET)
    jobs = [Job(at=0.5 + 0.25 * i, node=1, cpu_s=1.0) for i in range(3)]
    cluster.run(until=exec_jobs(cluster, jobs))
    stats = cluster.network.statistics()
    trader = SIZES["offer"] + SIZES["import"] + (SIZES["list_header"] + 4 * 2)  # export, import
    assert stats.messages_by_kind["control"] == 3 + 3 * 2
    assert stats.bytes_by_kind["control"] == trader + 3 * (SIZES["exec"] + SIZES["exec_reply"])
    profile = cluster.profile
    crossing = (
        profile.wire_bytes(SIZES["exec"]) / profile.bandwidth_bytes_per_s
        + profile.network_latency_s
        + 2 * profile.message_cpu_s(SIZES["exec"])
    )
    created = {snap.pid: snap.created_at for snap in processes(cluster)}
    assert all(created[j.pid] - j.at >= crossing for j in jobs)
    assert {cluster.home_of[j.pid] for j in jobs} == {0}


def test_an_exec_that_fits_nowhere_is_refused_with_the_reason() -> None:
    """Nodes of four page frames hold one smallest process (three pages) each: a remote
    node that is full sends the exec back, and an exec that fits nowhere is refused."""
    small = attrs.evolve(load_profile("sun3-ethernet"), memory_bytes=4 * 8192)
    cluster = load_cluster(2, "round-robin", profile=small, **QUIET)
    jobs = [Job(at=0.5 + 0.01 * i, node=0, cpu_s=10.0) for i in range(3)]
    exec_jobs(cluster, jobs)
    cluster.run(until=1.0)
    placed = [job.placed.value for job in jobs]
    assert [p.node for p in placed] == [1, 0, None]
    assert placed[2].refused == f"node 0 has 1 free page frames, process {jobs[2].pid} needs 3"
    assert cluster.node(0).statistics("load").refused == 1


def pulled(cost: str, strategy: str = "eager") -> tuple[object, list[Job], list[float]]:
    """Three long jobs on node 0, a short one on node 1: when it ends, idle node 1 pulls."""
    settings = policy_settings("receiver", strategy=make_strategy(strategy), **QUIET)
    cluster = load_cluster(2, settings, cost=cost)
    jobs = [Job(at=0.1, node=0, cpu_s=3.0 + i) for i in range(3)] + [Job(0.2, node=1, cpu_s=0.5)]
    cluster.run(until=exec_jobs(cluster, jobs))
    cpu = {snap.pid: snap.cpu_seconds for snap in processes(cluster)}
    return cluster, jobs, [cpu[j.pid] for j in jobs]


def test_a_receiver_pulls_a_process_by_migration_and_the_process_keeps_its_work() -> None:
    """The idle node probes the busy one and asks for a process; the busy node migrates its
    newest process there through its Migration Manager; every process still gets exactly
    the CPU time it needed."""
    for cost in ("zero", "model"):
        cluster, jobs, cpu = pulled(cost)
        busy, idle = cluster.node(0).statistics("load"), cluster.node(1).statistics("load")
        assert idle.pulls_sent >= 1 and busy.pulls_served >= 1
        assert busy.migrations_completed >= 1 and busy.migrations_refused == 0
        assert cluster.location_of[jobs[2].pid] == 1  # the newest of node 0's three
        assert all(abs(got - j.cpu_s) < 1e-9 for got, j in zip(cpu, jobs, strict=True))
        if cost == "zero":
            assert busy.freeze_s < 1e-6  # its state and pages at 1e13 bit/s
        else:
            assert busy.freeze_s > 0.0


@pytest.mark.parametrize("strategy", list(registered()))
def test_every_strategy_can_carry_a_pulled_process(strategy: str) -> None:
    """With the Sun-3's real costs, whichever strategy migrates the pulled process, it
    completes and every process gets exactly the CPU time it needed."""
    cluster, jobs, cpu = pulled("model", strategy)
    stats = cluster.node(0).statistics("load")
    assert stats.migrations_completed >= 1 and stats.migrations_refused == 0
    assert all(abs(got - j.cpu_s) < 1e-9 for got, j in zip(cpu, jobs, strict=True))


def test_sender_initiated_with_a_preemptive_selection_migrates_a_running_process() -> None:
    """With selection ``oldest``, an arrival that makes node 0 a sender moves its oldest
    process (not the newborn) to the idle node the threshold probe found."""
    settings = policy_settings(
        "threshold", selection="oldest", strategy=make_strategy("eager"), **QUIET
    )
    cluster = load_cluster(2, settings)
    jobs = [Job(at=0.1, node=0, cpu_s=5.0), Job(at=0.3, node=0, cpu_s=5.0)]
    cluster.run(until=exec_jobs(cluster, jobs))
    assert cluster.home_of[jobs[0].pid] == 0 and cluster.location_of[jobs[0].pid] == 1
    assert cluster.location_of[jobs[1].pid] == 0
    assert cluster.node(0).statistics("load").migrations_completed == 1


def test_the_age_policy_migrates_a_process_once_old_enough_for_its_cost() -> None:
    """Harchol-Balter & Downey's policy on the Sun-3 profile: node 0 runs three processes,
    node 1 none; once node 0 hears of node 1 and a process is older than its migration
    cost over the load difference, one migrates."""
    cluster = load_cluster(2, "age", cost="model", **QUIET)
    jobs = [Job(at=0.1, node=0, cpu_s=8.0) for _ in range(3)]
    cluster.run(until=exec_jobs(cluster, jobs))
    stats = cluster.node(0).statistics("load")
    assert stats.migrations_completed >= 1
    assert {cluster.location_of[j.pid] for j in jobs} == {0, 1}
