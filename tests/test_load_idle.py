"""Specification of idle workstations: guests only on idle hosts, evicted intact when the
owner returns, the CPU they got there counted as harvested."""

from __future__ import annotations

import attrs
import pytest
from load_helpers import exec_program

from rhodos.kernel import Layout
from rhodos.load import Settings
from rhodos.load.idle import IdleStudy, idle_settings, run_idle
from rhodos.load.owner import IdleRule, OwnerModel
from rhodos.load.run import configure
from rhodos.load.workload import job
from rhodos.migration_manager import registered
from rhodos.process_manager.requests import Spawn
from rhodos.testing import Harness, MemoryOracle, Talker

#: A rule that notices an owner's return within 50 ms (the default samples every 5 s).
QUICK = IdleRule(sample_s=0.05)


def idle_harness(rule: IdleRule, strategy: str, nodes: int = 3) -> Harness:
    """Three SPARC workstations whose owners are away, sharing by Sprite's policy."""
    harness = Harness.boot(nodes=nodes, profile="sparc-ethernet")
    configure(harness.cluster, idle_settings(rule, strategy))
    harness.run(0.05)  # the hosts' first offers reach the trader
    return harness


def watch(harness: Harness, pid: int, home: int) -> None:
    """Let the harness check ``pid`` as if it had spawned it."""
    harness.pids.append(pid)
    harness.home[pid] = home
    harness.monitor.watch(pid)


@pytest.mark.parametrize(
    ("strategy", "evict_to"),
    [(name, "home") for name in registered()] + [("eager", "idle"), ("freeze-free", "idle")],
)
def test_an_evicted_guest_finishes_with_its_work_intact(strategy: str, evict_to: str) -> None:
    """Guests evicted mid-run by the owner's return finish elsewhere with every page
    version they wrote and every message sent to or by them delivered once, in order."""
    harness = idle_harness(attrs.evolve(QUICK, evict_to=evict_to), strategy, nodes=4)
    cluster = harness.cluster
    oracle = MemoryOracle(cluster, cpu_seconds=0.8)
    harness.memory.append(oracle)
    guest, _ = exec_program(cluster, oracle, 0)
    watch(harness, guest, 0)
    home_talker = cluster.new_pid()
    talker, _ = exec_program(cluster, Talker(harness.messages), 0, peers={"peer": home_talker})
    watch(harness, talker, 0)
    harness.spawn(Talker(harness.messages), 0, pid=home_talker, peers={"peer": talker})
    harness.pairs.append((talker, home_talker))
    harness.run(0.15)
    host = cluster.location_of[guest]
    assert host != 0, "the guest was placed on an idle host"
    cluster.node(host).owner_input()  # the owner is back
    harness.watch_the_clock(60.0)
    assert harness.finish() == []
    evictions = sum(node.statistics("load").evictions for node in cluster.nodes)
    assert evictions >= 1
    assert oracle.checked_at is not None
    if evict_to == "home":
        assert cluster.location_of[guest] == 0, "Sprite sends evicted guests home"


def test_guests_go_only_to_idle_hosts_one_each() -> None:
    """A host whose owner typed in the last 30 s takes no guest, an idle host takes one
    at a time, and work that finds no idle host runs where it was started."""
    harness = idle_harness(QUICK, "eager")
    cluster = harness.cluster
    cluster.node(1).owner_input()
    pids = []
    for _ in range(3):
        pid, _ = exec_program(cluster, MemoryOracle(cluster, cpu_seconds=0.5), 0)
        pids.append(pid)
    harness.run(0.15)
    assert sorted(cluster.location_of[p] for p in pids) == [0, 0, 2]
    assert cluster.node(2).foreign == {p for p in pids if cluster.location_of[p] == 2}


def test_a_guest_never_evicted_is_harvested_exactly() -> None:
    """The CPU a guest gets on the host it borrowed counts as harvested there: all of a
    job that runs to its end on an idle host, and nothing on its origin."""
    harness = idle_harness(QUICK, "eager")
    cluster = harness.cluster
    pid, _ = exec_program(cluster, MemoryOracle(cluster, cpu_seconds=1.25), 0)
    harness.run(cluster.exit_event(pid))
    harness.run(cluster.now + 0.01)  # the Load Manager hears of the exit
    host = cluster.location_of[pid]
    assert host != 0
    assert cluster.node(host).foreign_cpu_s == pytest.approx(1.25, abs=1e-9)
    assert cluster.node(0).foreign_cpu_s == 0.0
    assert cluster.node(host).foreign == set(), "the host is released when its guest exits"


def test_an_owner_busy_with_two_processes_keeps_the_host() -> None:
    """Without input for 30 s a host is still not idle while its owner's processes keep the
    load average at one or more; it becomes idle once they end and the average decays."""
    harness = idle_harness(IdleRule(input_quiet_s=0.0, sample_s=1.0), "eager", nodes=2)
    cluster = harness.cluster
    nothing = Layout.from_bytes(0, cluster.profile.page_size_bytes)
    for _ in range(2):  # the owner's own processes, started directly
        cluster.node(1).submit("process", Spawn(cluster.new_pid(), "owner", job(100.0), nothing))
    harness.run(95.0)  # two processes for 95 s: the average is above 1 after ~42 s
    early, _ = exec_program(cluster, MemoryOracle(cluster, cpu_seconds=0.1), 0)
    harness.run(100.0)
    assert cluster.location_of[early] == 0
    harness.run(400.0)  # both ended near t=200 s; the average decays below 1 within a minute
    late, _ = exec_program(cluster, MemoryOracle(cluster, cpu_seconds=0.1), 0)
    harness.run(401.0)
    assert cluster.location_of[late] == 1


def test_a_study_is_deterministic_and_counts_what_it_harvests() -> None:
    """The same seed gives the same study, and the harvest is part of all the CPU given."""
    study = IdleStudy(
        nodes=3,
        duration_s=400.0,
        owner=OwnerModel(away_mean_s=90.0, present_mean_s=30.0),
        batch_gap_s=40.0,
        batch_cpu_s=10.0,
    )
    first, second = run_idle(study), run_idle(study)
    assert repr(attrs.evolve(first, wall_s=0.0)) == repr(attrs.evolve(second, wall_s=0.0))
    assert 0 < first.harvested_s <= first.cpu_s
    assert first.placed_remote > 0 and first.unfinished == 0
    assert first.evictions >= 1 and first.evicted >= first.evictions


def test_bad_settings_are_refused_with_one_clear_line() -> None:
    """An unknown eviction target, a rule out of range and idle hosts without a strategy."""
    with pytest.raises(ValueError, match="evict_to must be one of home, idle"):
        IdleRule(evict_to="away")
    with pytest.raises(ValueError, match="sample_s must be a finite number > 0"):
        IdleRule(sample_s=0.0)
    settings = attrs.evolve(idle_settings(IdleRule(), "eager"), strategy=None)
    assert isinstance(settings, Settings)
    assert "need a migration strategy" in settings.problems(3)[0]
