"""Specification of load information: what it costs in messages, and how old it is when used."""

from __future__ import annotations

import numpy as np
import pytest
from load_helpers import Job, exec_jobs, load_cluster

from rhodos.kernel import Cluster
from rhodos.load import policy_settings
from rhodos.load.requests import SIZES, LeastLoaded, LoadReport

#: Offers are exported at boot only, so the network carries nothing else periodic.
QUIET = {"offer_period_s": 1e6}


def phase(cluster: Cluster, node: int, nth: int) -> float:
    """The ``nth`` (0-based) uniform number of ``node``'s Load Manager stream: the phases of
    its periodic work, drawn in the order it starts them (offers first when it shares,
    then information)."""
    return float(cluster.rng("load", node).random(nth + 1)[nth])


def reports(cluster: Cluster) -> tuple[int, int]:
    """Load reports sent and received, over every node."""
    stats = [node.statistics("load") for node in cluster.nodes]
    return sum(s.reports_sent for s in stats), sum(s.reports_received for s in stats)


def network_control(cluster: Cluster) -> tuple[int, int]:
    """Control messages and their payload bytes on the network so far."""
    stats = cluster.network.statistics()
    return stats.messages_by_kind.get("control", 0), stats.bytes_by_kind.get("control", 0)


def test_broadcast_costs_n_minus_1_messages_per_node_per_period() -> None:
    """Four nodes broadcasting every second for 10 s send exactly 4 x 3 x 10 reports, each a
    network message of the report's size (nodes that never share make no offers)."""
    settings = policy_settings("none", information="broadcast", **QUIET)
    cluster = load_cluster(4, settings)
    cluster.run(until=10.0)
    assert reports(cluster) == (120, 120)
    assert network_control(cluster) == (120, 120 * SIZES["report"])


def test_nodes_that_share_offer_themselves_to_the_trader() -> None:
    """Sharing nodes export an offer at boot (the trader's own, node 0's, is local) and
    then every offer period."""
    settings = policy_settings("none", transfer="always", offer_period_s=2.0)
    cluster = load_cluster(4, settings)
    cluster.run(until=9.0)
    exported = [node.statistics("load").offers_exported for node in cluster.nodes]
    first = [2.0 * phase(cluster, node, 0) for node in range(4)]
    assert exported == [1 + sum(1 for k in range(5) if at + 2 * k < 9) for at in first]
    remote = sum(exported[1:])
    assert network_control(cluster) == (remote, remote * SIZES["offer"])


def test_exchange_costs_fanout_messages_per_node_per_period() -> None:
    """MOSIX-style exchange with a fan-out of 2: 4 x 2 x 10 reports in 10 s."""
    settings = policy_settings("none", information="exchange", **QUIET)
    cluster = load_cluster(4, settings)
    cluster.run(until=10.0)
    assert reports(cluster) == (80, 80)


def test_a_central_server_is_told_of_every_change() -> None:
    """With reports on every change, the server hears a boot report from each node, then
    one per process started and one per process ended."""
    settings = policy_settings("none", information="central", **QUIET)
    cluster = load_cluster(4, settings)
    jobs = [Job(at=0.5 * i, node=1 + i % 3, cpu_s=0.3) for i in range(6)]
    exec_jobs(cluster, jobs)
    cluster.run(until=5.0)
    assert reports(cluster) == (4 + 6 + 6, 4 + 6 + 6)
    assert cluster.node(0).statistics("load").reports_received == 16


def test_power_of_two_probes_exactly_the_other_node_it_drew() -> None:
    """On two nodes, d = 2 draws both: one probe (a request/reply) per arrival."""
    cluster = load_cluster(2, "power-of-d", d=2, **QUIET)
    jobs = [Job(at=0.2 * (i + 1), node=0, cpu_s=1.0) for i in range(5)]
    cluster.run(until=exec_jobs(cluster, jobs))
    assert cluster.node(0).statistics("load").probes_sent == 5
    assert cluster.node(1).statistics("load").probes_answered == 5


def test_threshold_probes_up_to_its_limit_when_every_node_is_busy() -> None:
    """Every other node busy: each transfer attempt probes exactly L nodes, then stays."""
    cluster = load_cluster(4, "threshold", threshold=1, probe_limit=3, **QUIET)
    busy = [Job(at=0.0, node=n, cpu_s=50.0) for n in (1, 2, 3)]
    # node 0: one job alone (no transfer), then four arrivals that each find it busy
    mine = [Job(at=1.0 + 0.1 * i, node=0, cpu_s=5.0) for i in range(5)]
    exec_jobs(cluster, busy + mine)
    cluster.run(until=3.0)
    stats = cluster.node(0).statistics("load")
    assert stats.probes_sent == 4 * 3
    assert stats.placed_remote == 0 and stats.spawned == 5


@pytest.mark.parametrize("cost", ["zero", "model"])
def test_a_decision_sees_the_load_as_it_was_when_it_was_sent(cost: str) -> None:
    """Node 0 knows node 1's load as of node 1's last broadcast: a job started on node 1
    after it is unknown to node 0 until the next one, and the report carries its instant."""
    settings = policy_settings("none", information="broadcast", **QUIET)
    cluster = load_cluster(2, settings, cost=cost)
    tick = phase(cluster, 1, 0)  # node 1 broadcasts at tick, tick + 1, tick + 2 ...
    jobs = [Job(at=0.0, node=1, cpu_s=100.0), Job(at=tick + 1.2, node=1, cpu_s=100.0)]
    exec_jobs(cluster, jobs)

    def known_at(at: float) -> LoadReport:
        cluster.run(until=at)
        answer = cluster.node(0).submit("load", LeastLoaded(np.array([1], dtype=np.int32)))
        cluster.run(until=answer)
        report: LoadReport = answer.value
        return report

    assert known_at(tick + 1.5) == LoadReport(1, 1, tick + 1.0)  # node 1 runs 2 by now
    assert known_at(tick + 2.5) == LoadReport(1, 2, tick + 2.0)
