"""Specification of the cluster network: flows, latency, packet overhead, topologies."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from rhodos.kernel.network import TOPOLOGIES, Network

BANDWIDTH = 1.25e6  # 10 Mb/s Ethernet, in bytes per second
LATENCY = 0.5e-3
PAYLOAD = 1024
HEADER = 64


def exactly(value: float) -> Any:
    """Compare simulated times to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def make_network(
    topology: str, nodes: tuple[int, ...] = (1, 2, 3, 4)
) -> tuple[simpy.Environment, Network]:
    """A fresh environment and a network of ``nodes`` with the constants above."""
    env = simpy.Environment()
    network = Network(
        env,
        node_ids=nodes,
        bandwidth_bytes_per_s=BANDWIDTH,
        latency_s=LATENCY,
        topology=topology,
        packet_payload_bytes=PAYLOAD,
        packet_header_bytes=HEADER,
    )
    return env, network


def arrival_times(env: simpy.Environment, *transfers: simpy.Event) -> list[float]:
    """Run the simulation to its end and return when each transfer arrived."""
    times: dict[simpy.Event, float] = {}

    def record(event: simpy.Event) -> None:
        times[event] = env.now

    for event in transfers:
        event.callbacks.append(record)
    env.run()
    return [times[event] for event in transfers]


def test_wire_bytes_adds_one_header_per_packet() -> None:
    """Wire size is payload plus a header per packet, and an empty payload is one packet."""
    _, network = make_network("shared")
    assert network.wire_bytes(0) == 64
    assert network.wire_bytes(1) == 1 + 64
    assert network.wire_bytes(1024) == 1024 + 64
    assert network.wire_bytes(1025) == 1025 + 2 * 64
    assert network.wire_bytes(1024 * 1024) == 1024 * 1024 + 1024 * 64


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_one_transfer_on_an_idle_network_takes_latency_plus_wire_time(topology: str) -> None:
    """A lone transfer takes exactly latency + wire_bytes / bandwidth."""
    env, network = make_network(topology)
    size = 1024 * 1024
    [arrived] = arrival_times(env, network.transfer(1, 2, size, kind="pages"))
    assert arrived == exactly(LATENCY + (size + 1024 * HEADER) / BANDWIDTH)


def test_two_transfers_on_a_shared_segment_each_take_twice_as_long() -> None:
    """Transfers between different pairs still share the one segment."""
    env, network = make_network("shared")
    size = 100_000
    wire = network.wire_bytes(size)
    times = arrival_times(env, network.transfer(1, 2, size), network.transfer(3, 4, size))
    assert times == [exactly(2 * wire / BANDWIDTH + LATENCY)] * 2


def test_two_transfers_between_disjoint_pairs_on_a_star_do_not_slow_each_other() -> None:
    """On a switched star, 1->2 and 3->4 each get the full bandwidth."""
    env, network = make_network("star")
    size = 100_000
    wire = network.wire_bytes(size)
    times = arrival_times(env, network.transfer(1, 2, size), network.transfer(3, 4, size))
    assert times == [exactly(wire / BANDWIDTH + LATENCY)] * 2


def test_three_transfers_on_a_star_get_max_min_fair_shares() -> None:
    """1->3 and 2->3 share 3's down link; 1->4 gets the other half of 1's up link."""
    env, network = make_network("star")
    small, large = 10_000, 30_000
    w_small, w_large = network.wire_bytes(small), network.wire_bytes(large)
    one_three = network.transfer(1, 3, small)
    two_three = network.transfer(2, 3, small)
    one_four = network.transfer(1, 4, large)
    assert [flow.rate for flow in network.fluid.active] == [BANDWIDTH / 2] * 3
    # All at B/2 until the small ones finish at 2 w_small / B; then 1->4, with
    # w_large - w_small left, runs alone at B and ends at (w_small + w_large) / B.
    times = arrival_times(env, one_three, two_three, one_four)
    assert times == [
        exactly(2 * w_small / BANDWIDTH + LATENCY),
        exactly(2 * w_small / BANDWIDTH + LATENCY),
        exactly((w_small + w_large) / BANDWIDTH + LATENCY),
    ]


def test_two_transfers_into_one_node_of_a_star_share_its_down_link() -> None:
    """On a star, 1->3 and 2->3 each get half of node 3's down link."""
    env, network = make_network("star")
    size = 50_000
    wire = network.wire_bytes(size)
    times = arrival_times(env, network.transfer(1, 3, size), network.transfer(2, 3, size))
    assert times == [exactly(2 * wire / BANDWIDTH + LATENCY)] * 2


def test_a_cut_star_link_pauses_a_transfer_and_restoring_resumes_it() -> None:
    """While a star node's links are down its transfers make no progress."""
    env, network = make_network("star")
    size = 100_000
    arrived = network.transfer(1, 2, size)
    env.run(until=0.01)
    network.set_link_up(2, False)
    assert not network.is_link_up(2)
    env.run(until=1.01)
    network.set_link_up(2, True)
    [when] = arrival_times(env, arrived)
    assert when == exactly(network.wire_bytes(size) / BANDWIDTH + 1.0 + LATENCY)


def test_cutting_a_node_on_a_shared_segment_is_a_no_op() -> None:
    """The shared segment is one medium: set_link_up does not change its capacity."""
    env, network = make_network("shared")
    size = 100_000
    arrived = network.transfer(1, 2, size)
    network.set_link_up(2, False)
    [when] = arrival_times(env, arrived)
    assert when == exactly(network.wire_bytes(size) / BANDWIDTH + LATENCY)


def test_zero_latency_arrives_when_the_last_bit_leaves() -> None:
    """With latency 0, arrival is the flow's completion."""
    env = simpy.Environment()
    network = Network(
        env,
        node_ids=(1, 2),
        bandwidth_bytes_per_s=1000.0,
        latency_s=0.0,
        topology="shared",
        packet_payload_bytes=100,
        packet_header_bytes=0,
    )
    [when] = arrival_times(env, network.transfer(1, 2, 500))
    assert when == exactly(0.5)


def test_statistics_count_bytes_and_messages_by_kind() -> None:
    """Payload bytes, wire bytes and messages are booked under their kind."""
    env, network = make_network("shared")
    network.transfer(1, 2, 100)
    network.transfer(2, 1, 200)
    network.transfer(1, 3, 5000, kind="pages")
    busy = network.statistics()
    assert (busy.flows_active, busy.messages_in_flight) == (3, 3)
    env.run()
    stats = network.statistics()
    assert stats.bytes_by_kind == {"control": 300, "pages": 5000}
    assert stats.wire_bytes_by_kind == {"control": 300 + 2 * HEADER, "pages": 5000 + 5 * HEADER}
    assert stats.messages_by_kind == {"control": 2, "pages": 1}
    assert (stats.flows_active, stats.messages_in_flight) == (0, 0)
    total_wire = 300 + 2 * HEADER + 5000 + 5 * HEADER
    assert stats.busy_time == exactly(total_wire / BANDWIDTH)
    assert network.fluid_statistics().units_moved_by_link == {"segment": exactly(total_wire)}


def test_a_node_added_later_can_send_and_receive() -> None:
    """add_node attaches a node (e.g. a file server) with its own star links."""
    env, network = make_network("star", nodes=(1, 2))
    network.add_node(99)
    [when] = arrival_times(env, network.transfer(1, 99, 1024))
    assert when == exactly((1024 + HEADER) / BANDWIDTH + LATENCY)
    assert network.node_ids == (1, 2, 99)


def test_bad_input_is_refused() -> None:
    """Unknown topology, self-transfer, unknown or repeated nodes raise ValueError."""
    with pytest.raises(ValueError, match=r"shared, star.*'ring'"):
        make_network("ring")
    _, network = make_network("star")
    with pytest.raises(ValueError, match="itself"):
        network.transfer(1, 1, 10)
    with pytest.raises(ValueError, match="unknown node 7"):
        network.transfer(1, 7, 10)
    with pytest.raises(ValueError, match="unknown node 7"):
        network.transfer(7, 1, 10)
    with pytest.raises(ValueError, match="unknown node 7"):
        network.set_link_up(7, False)
    with pytest.raises(ValueError, match="already attached"):
        network.add_node(1)
    with pytest.raises(ValueError, match="payload_bytes"):
        network.transfer(1, 2, -1)
    with pytest.raises(ValueError, match="bandwidth_bytes_per_s"):
        Network(
            simpy.Environment(),
            node_ids=(1, 2),
            bandwidth_bytes_per_s=0.0,
            latency_s=0.0,
            topology="shared",
            packet_payload_bytes=1,
            packet_header_bytes=0,
        )


def count_events(env: simpy.Environment) -> list[int]:
    """Count every event ``env`` schedules from now on (the list's one item)."""
    counter = [0]
    schedule = env.schedule

    def counting(event: simpy.Event, priority: int = 1, delay: float = 0) -> None:
        counter[0] += 1
        schedule(event, priority, delay)

    env.schedule = counting  # type: ignore[method-assign]
    return counter


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_a_short_transfer_costs_two_events_whatever_else_is_on_the_network(topology: str) -> None:
    """A long transfer in progress adds no events to short ones: each costs its end and
    its arrival (on a star they share no link; on a segment they share it in closed form)."""
    env, network = make_network(topology)
    network.transfer(1, 2, 100_000_000)  # 80 s on the wire
    events = count_events(env)
    transfers = 100

    def sender() -> Any:
        for _ in range(transfers):
            yield network.transfer(3, 4, 100)

    env.process(sender())
    env.run(until=10.0)
    assert events[0] <= 2 * transfers + 5
