"""Specification of the trader: offers match processes, above all by architecture."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from load_helpers import Job, exec_jobs, load_cluster

from rhodos.load import Offer, TraderTable, policy_settings
from rhodos.load.requests import Import

ARCHITECTURES = ("m68k", "sparc", "x86")


@st.composite
def offers(draw: st.DrawFn) -> list[Offer]:
    """Offers of a random cluster, some nodes exporting several times, in random order."""
    nodes = draw(st.integers(1, 12))
    made = []
    for node in range(nodes):
        architecture = draw(st.sampled_from(ARCHITECTURES))
        for _ in range(draw(st.integers(0, 3))):
            made.append(
                Offer(
                    node=node,
                    architecture=architecture,
                    free_frames=draw(st.integers(0, 100)),
                    load=draw(st.integers(0, 9)),
                    idle=draw(st.booleans()),
                    at=draw(st.floats(0, 100)),
                )
            )
    return draw(st.permutations(made))


@settings(max_examples=60)
@given(
    offers(),
    st.sampled_from((*ARCHITECTURES, "mips")),
    st.integers(0, 100),
    st.booleans(),
)
def test_the_trader_offers_only_matching_nodes_and_every_matching_one(
    made: list[Offer], architecture: str, pages: int, idle: bool
) -> None:
    """A match is exactly the nodes whose latest offer has the architecture, the memory (and
    is idle): never a node of another architecture, never one left out."""
    table = TraderTable(12)
    latest: dict[int, Offer] = {}
    for offer in made:
        table.record(offer)
        if offer.node not in latest or offer.at >= latest[offer.node].at:
            latest[offer.node] = offer
    found = table.match(architecture, pages, idle=idle)
    expected = sorted(
        node
        for node, offer in latest.items()
        if offer.architecture == architecture
        and offer.free_frames >= pages
        and (offer.idle or not idle)
    )
    assert found.tolist() == expected
    assert all(latest[int(node)].architecture == architecture for node in found)


@st.composite
def heterogeneous_runs(draw: st.DrawFn) -> tuple[list[str], list[Job], str]:
    """A small cluster of mixed architectures and a burst of jobs on random nodes."""
    nodes = draw(st.integers(2, 6))
    architectures = [draw(st.sampled_from(ARCHITECTURES[:2])) for _ in range(nodes)]
    count = draw(st.integers(1, 10))
    jobs = [
        Job(
            at=draw(st.floats(0.0, 2.0)),
            node=draw(st.integers(0, nodes - 1)),
            cpu_s=draw(st.floats(0.05, 1.0)),
        )
        for _ in range(count)
    ]
    policy = draw(st.sampled_from(("random", "round-robin", "power-of-d", "receiver", "jsq")))
    return architectures, jobs, policy


@settings(max_examples=30, deadline=None)
@given(heterogeneous_runs(), st.integers(0, 2**16))
def test_no_process_ever_runs_on_a_node_of_another_architecture(
    run: tuple[list[str], list[Job], str], seed: int
) -> None:
    """Whatever the policy places or migrates, a process lives only on nodes of the
    architecture it was built for (its arrival node's), and every process finishes."""
    architectures, jobs, policy = run
    cluster = load_cluster(len(architectures), policy, architectures=architectures, seed=seed)
    everyone = exec_jobs(cluster, jobs)
    cluster.run(until=everyone)
    assert everyone.triggered
    for item in jobs:
        built_for = architectures[item.node]
        assert architectures[cluster.home_of[item.pid]] == built_for
        assert architectures[cluster.location_of[item.pid]] == built_for


def test_a_process_of_a_lone_architecture_stays_home() -> None:
    """A node whose architecture no other node shares finds no offer: its work stays."""
    cluster = load_cluster(3, "round-robin", architectures=["sparc", "m68k", "m68k"])
    jobs = [Job(at=0.1 * i, node=0, cpu_s=0.5) for i in range(4)]
    everyone = exec_jobs(cluster, jobs)
    cluster.run(until=everyone)
    assert {cluster.home_of[j.pid] for j in jobs} == {0}
    stats = cluster.node(0).statistics("load")
    assert stats.placed_remote == 0 and stats.imports == 1


def test_offers_go_stale_between_exports() -> None:
    """The trader answers with what a node had at its last export, not what it has now.

    A node exports at boot and then every offer period from a random phase (the first
    number of its own stream); three long jobs start on node 1 between the two exports.
    """
    cluster = load_cluster(2, policy_settings("none", transfer="always"))  # shares nothing
    period = 5.0
    first_export = period * cluster.rng("load", 1).random()
    jobs = [Job(at=0.3 * first_export, node=1, cpu_s=100.0) for _ in range(3)]
    exec_jobs(cluster, jobs)

    def idle_nodes(at: float) -> list[int]:
        cluster.run(until=at)
        answer = cluster.node(0).submit("load", Import("m68k", 0, idle=True))
        cluster.run(until=answer)
        return list(answer.value)

    assert idle_nodes(0.6 * first_export) == [0, 1]  # stale: node 1 said idle at boot
    assert idle_nodes(first_export + 0.1) == [0]  # its next export says it is busy
