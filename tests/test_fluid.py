"""Specification of the fluid scheduler: max-min fair sharing, one event per change."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from rhodos.kernel.fluid import Flow, FluidScheduler, Link


def exactly(value: float) -> Any:
    """Compare simulated times and amounts to 1e-9 relative."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()


@pytest.fixture
def fluid(env: simpy.Environment) -> FluidScheduler:
    return FluidScheduler(env)


def finish_times(env: simpy.Environment, *flows: Flow) -> dict[Flow, float]:
    """Run the simulation to its end and return when each flow's done event fired."""
    times: dict[Flow, float] = {}
    for flow in flows:
        flow.done.callbacks.append(lambda event: times.__setitem__(event.value, env.now))
    env.run()
    return times


def start_at(
    env: simpy.Environment, fluid: FluidScheduler, when: float, amount: float, links: list[Link]
) -> simpy.Process:
    """A process that starts a flow at time ``when`` and returns the flow."""

    def starter() -> Generator[simpy.Event, Any, Flow]:
        yield env.timeout(when)
        return fluid.start(amount, links)

    return env.process(starter())


def test_one_flow_alone_finishes_at_amount_over_capacity(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """A flow alone on a link moves at the link's full capacity."""
    wire = fluid.add_link("wire", 10.0)
    flow = fluid.start(125.0, [wire])
    assert flow.rate == 10.0
    assert finish_times(env, flow)[flow] == exactly(12.5)
    assert flow.remaining == 0.0
    assert flow.finished_at == exactly(12.5)


def test_two_equal_flows_each_take_twice_as_long(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """Two flows started together on one link share it equally."""
    wire = fluid.add_link("wire", 10.0)
    a, b = fluid.start(100.0, [wire]), fluid.start(100.0, [wire])
    assert (a.rate, b.rate) == (5.0, 5.0)
    times = finish_times(env, a, b)
    assert times[a] == exactly(20.0)
    assert times[b] == exactly(20.0)


def test_flows_finishing_together_complete_in_start_order(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """Flows that finish at the same instant complete in one wake-up, in start order."""
    wire = fluid.add_link("wire", 3.0)
    flows = [fluid.start(7.0, [wire], tag=i) for i in range(3)]
    order: list[int] = []
    for flow in flows:
        flow.done.callbacks.append(lambda event: order.append(event.value.tag))
    env.run()
    assert order == [0, 1, 2]
    assert env.now == exactly(7.0)


def test_first_flow_speeds_up_again_when_the_later_one_ends(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """A flow slows to half while a later one shares its link, then speeds up again."""
    wire = fluid.add_link("wire", 10.0)
    first = fluid.start(100.0, [wire])
    second_starter = start_at(env, fluid, 2.0, 30.0, [wire])
    env.run(until=second_starter)
    second = second_starter.value
    assert isinstance(second, Flow)
    # 0..2 s: first alone at 10/s moves 20, leaving 80.
    # from 2 s: both at 5/s; second's 30 take 6 s -> done at 8; first moves 30, leaving 50.
    # from 8 s: first alone at 10/s -> done at 8 + 5 = 13.
    assert first.remaining == exactly(80.0)
    times = finish_times(env, first, second)
    assert times[second] == exactly(8.0)
    assert times[first] == exactly(13.0)


def test_three_flows_on_a_star_get_max_min_fair_shares(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """A->C and B->C share C's down link; A->D gets the other half of A's up link."""
    up = {node: fluid.add_link(f"{node}.up", 1.0) for node in "ABCD"}
    down = {node: fluid.add_link(f"{node}.down", 1.0) for node in "ABCD"}
    a_c = fluid.start(10.0, [up["A"], down["C"]])
    b_c = fluid.start(10.0, [up["B"], down["C"]])
    a_d = fluid.start(20.0, [up["A"], down["D"]])
    assert (a_c.rate, b_c.rate, a_d.rate) == (0.5, 0.5, 0.5)
    # A->C and B->C finish at 10 / 0.5 = 20 s; A->D has 10 left and runs alone at 1/s.
    times = finish_times(env, a_c, b_c, a_d)
    assert times[a_c] == exactly(20.0)
    assert times[b_c] == exactly(20.0)
    assert times[a_d] == exactly(30.0)


def test_capacity_zero_pauses_and_restoring_resumes(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """A flow makes no progress while its link has capacity 0 and resumes after."""
    wire = fluid.add_link("wire", 10.0)
    flow = fluid.start(100.0, [wire])
    env.run(until=3.0)
    fluid.set_capacity(wire, 0.0)
    assert flow.remaining == exactly(70.0)
    assert flow.rate == 0.0
    env.run(until=5.0)
    assert fluid.remaining(flow) == exactly(70.0)
    fluid.set_capacity(wire, 20.0)
    # 70 left at 20/s from t = 5 -> done at 8.5.
    assert finish_times(env, flow)[flow] == exactly(8.5)


def test_stale_wakeups_do_nothing(env: simpy.Environment, fluid: FluidScheduler) -> None:
    """A wake-up scheduled before a slowdown does not complete the flow early."""
    wire = fluid.add_link("wire", 10.0)
    flow = fluid.start(100.0, [wire])  # wake-up scheduled for t = 10
    env.run(until=5.0)
    fluid.set_capacity(wire, 5.0)  # 50 left at 5/s -> t = 15
    env.run(until=12.0)
    assert not flow.done.triggered
    assert finish_times(env, flow)[flow] == exactly(15.0)


def test_cancel_returns_the_unmoved_units(env: simpy.Environment, fluid: FluidScheduler) -> None:
    """Cancelling a flow returns what it did not move, and its done event never fires."""
    wire = fluid.add_link("wire", 10.0)
    doomed = fluid.start(100.0, [wire])
    other = fluid.start(100.0, [wire])
    env.run(until=4.0)
    assert fluid.cancel(doomed) == exactly(80.0)
    assert doomed.cancelled
    assert fluid.active == (other,)
    # other has 80 left, now alone at 10/s -> done at 12.
    assert finish_times(env, other)[other] == exactly(12.0)
    assert not doomed.done.triggered
    assert doomed.cancel() == exactly(80.0)  # cancelling again changes nothing
    stats = fluid.statistics()
    assert (stats.flows_started, stats.flows_completed, stats.flows_cancelled) == (2, 1, 1)
    assert stats.units_moved == exactly(120.0)


def test_zero_amount_flow_completes_immediately(
    env: simpy.Environment, fluid: FluidScheduler
) -> None:
    """A flow of nothing is done at once and never occupies the link."""
    wire = fluid.add_link("wire", 10.0)
    flow = fluid.start(0.0, [wire])
    assert flow.done.triggered
    assert flow.done.value is flow
    assert fluid.active == ()
    assert finish_times(env, flow)[flow] == 0.0


def test_recomputes_only_on_changes(env: simpy.Environment, fluid: FluidScheduler) -> None:
    """Rates are recomputed once per start, end or capacity change, never per unit."""
    wire = fluid.add_link("wire", 1.0)
    fluid.start(1e9, [wire])
    fluid.start(2e9, [wire])
    env.run()
    stats = fluid.statistics()
    assert stats.recomputations == 4  # two starts, two ends
    assert stats.units_moved_by_link == {"wire": exactly(3e9)}
    assert env.now == exactly(3e9)


def test_remaining_is_exact_between_changes(env: simpy.Environment, fluid: FluidScheduler) -> None:
    """remaining() includes the progress made since the last change."""
    wire = fluid.add_link("wire", 4.0)
    flow = fluid.start(10.0, [wire])
    env.run(until=1.5)
    assert fluid.remaining(flow) == exactly(4.0)
    assert fluid.statistics().units_moved == exactly(6.0)


def test_bad_input_is_refused(fluid: FluidScheduler) -> None:
    """Invalid capacities, amounts and paths raise ValueError."""
    wire = fluid.add_link("wire", 1.0)
    stranger = FluidScheduler(simpy.Environment()).add_link("wire", 1.0)
    with pytest.raises(ValueError, match="already exists"):
        fluid.add_link("wire", 2.0)
    with pytest.raises(ValueError, match="capacity"):
        fluid.add_link("other", -1.0)
    with pytest.raises(ValueError, match="capacity"):
        fluid.set_capacity(wire, float("inf"))
    with pytest.raises(ValueError, match="amount"):
        fluid.start(-1.0, [wire])
    with pytest.raises(ValueError, match="at least one link"):
        fluid.start(1.0, [])
    with pytest.raises(ValueError, match="at most once"):
        fluid.start(1.0, [wire, wire])
    with pytest.raises(ValueError, match="another scheduler"):
        fluid.start(1.0, [stranger])


# -- property: the allocation is feasible and max-min fair; every flow completes ----------

TOLERANCE = 1e-9


def check_max_min_fair(fluid: FluidScheduler) -> None:
    """Assert that the current rates are feasible and max-min fair."""
    load: dict[Link, float] = {}
    flows_on: dict[Link, list[Flow]] = {}
    for flow in fluid.active:
        assert flow.rate >= 0.0
        for link in flow.links:
            load[link] = load.get(link, 0.0) + flow.rate
            flows_on.setdefault(link, []).append(flow)
    for link, total in load.items():
        assert total <= link.capacity * (1 + TOLERANCE) + TOLERANCE, link
    for flow in fluid.active:
        # A bottleneck: a saturated link on which no flow goes faster than this one.
        assert any(
            load[link] >= link.capacity * (1 - TOLERANCE) - TOLERANCE
            and all(
                other.rate <= flow.rate * (1 + TOLERANCE) + TOLERANCE for other in flows_on[link]
            )
            for link in flow.links
        ), flow


flow_specs = st.lists(
    st.tuples(
        st.floats(0.0, 5.0),  # start time
        st.floats(0.0, 100.0),  # amount
        st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),  # path
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    capacities=st.lists(st.one_of(st.just(0.0), st.floats(0.5, 50.0)), min_size=6, max_size=6),
    specs=flow_specs,
)
def test_allocation_is_feasible_max_min_fair_and_every_flow_completes(
    capacities: list[float], specs: list[tuple[float, float, list[int]]]
) -> None:
    """For random flows on random links, rates are max-min fair at every change and all finish."""
    env = simpy.Environment()
    fluid = FluidScheduler(env)
    links = [fluid.add_link(f"l{i}", capacity) for i, capacity in enumerate(capacities)]
    started: list[Flow] = []

    def driver() -> Generator[simpy.Event, Any, None]:
        for when, amount, path in sorted(specs, key=lambda spec: spec[0]):
            yield env.timeout(max(0.0, when - env.now))
            started.append(fluid.start(amount, [links[i] for i in path]))
            check_max_min_fair(fluid)
        yield env.timeout(1.0)
        check_max_min_fair(fluid)
        for link in links:  # un-pause every link so that everything can finish
            if link.capacity == 0.0:
                fluid.set_capacity(link, 1.0)
                check_max_min_fair(fluid)

    def watcher() -> Generator[simpy.Event, Any, None]:
        while fluid.active or len(started) < len(specs):
            check_max_min_fair(fluid)
            yield env.timeout(0.37)

    env.process(driver())
    env.process(watcher())
    env.run()

    assert fluid.active == ()
    assert all(flow.done.triggered and flow.remaining == 0.0 for flow in started)
    stats = fluid.statistics()
    assert stats.flows_completed == len(specs)
    assert stats.units_moved == pytest.approx(sum(f.amount for f in started), rel=1e-9, abs=1e-9)
    for link in links:
        expected = sum(flow.amount for flow in started if link in flow.links)
        assert stats.units_moved_by_link[link.name] == pytest.approx(expected, rel=1e-9, abs=1e-9)


# -- the incremental model against a from-scratch fluid --------------------------------


def reference_rates(paths: list[list[int]], capacities: list[float]) -> list[float]:
    """Max-min fair rates by progressive filling over every flow, from scratch."""
    rates: list[float | None] = [None] * len(paths)
    spare = list(capacities)
    while any(rate is None for rate in rates):
        unfixed = [i for i, rate in enumerate(rates) if rate is None]
        crossing = {link: [i for i in unfixed if link in paths[i]] for link in range(len(spare))}
        share, bottleneck = min(
            (spare[link] / len(flows), link) for link, flows in crossing.items() if flows
        )
        for i in crossing[bottleneck]:
            rates[i] = share
            for link in paths[i]:
                spare[link] = max(0.0, spare[link] - share)
    return [rate for rate in rates if rate is not None]


def reference_run(
    capacities: list[float], ops: list[tuple[float, str, Any]]
) -> tuple[dict[int, float], dict[int, float]]:
    """A from-scratch fluid: water-fill every flow at every change, step to each end.

    ``ops`` are (time, "start", (id, amount, path)), (time, "cancel", id) or
    (time, "capacity", (link, value)), in time order. Returns the completion time of
    every flow that completed and the units left of every flow cancelled.
    """
    capacity = list(capacities)
    left: dict[int, float] = {}
    paths: dict[int, list[int]] = {}
    ended: dict[int, float] = {}
    cancelled: dict[int, float] = {}
    now, pending = 0.0, list(ops)
    while pending or left:
        ids = sorted(left)
        rates = dict(zip(ids, reference_rates([paths[i] for i in ids], capacity), strict=True))
        finish = min((now + left[i] / rates[i] for i in ids if rates[i] > 0), default=math.inf)
        if pending and pending[0][0] <= finish:
            when, kind, what = pending.pop(0)
        elif finish < math.inf:
            when, kind, what = finish, "end", None
        else:
            break  # paused for ever: the caller resumes every link
        for i in ids:
            left[i] = max(0.0, left[i] - rates[i] * (when - now))
        now = when
        for i in ids:
            if left[i] <= 1e-9 * (1 + left[i]) or (
                kind == "end" and rates[i] > 0 and left[i] <= 1e-9 * rates[i]
            ):
                ended[i] = now
                del left[i]
        if kind == "start":
            flow_id, amount, path = what
            if amount == 0.0:
                ended[flow_id] = now
            else:
                left[flow_id], paths[flow_id] = amount, path
        elif kind == "cancel" and what in left:
            cancelled[what] = left.pop(what)
        elif kind == "capacity":
            link, value = what
            capacity[link] = value
    return ended, cancelled


steps = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # time since the previous step
        st.one_of(
            st.tuples(
                st.just("start"),
                st.one_of(st.just(0.0), st.floats(1e-3, 100.0)),
                st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),
            ),
            st.tuples(st.just("cancel"), st.integers(0, 20)),
            st.tuples(
                st.just("capacity"),
                st.integers(0, 4),
                st.one_of(st.just(0.0), st.floats(0.5, 50.0)),
            ),
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(capacities=st.lists(st.floats(0.5, 50.0), min_size=5, max_size=5), steps=steps)
def test_incremental_rates_and_ends_equal_a_from_scratch_fluid(
    capacities: list[float], steps: list[tuple[float, tuple[Any, ...]]]
) -> None:
    """After random starts, cancellations and capacity changes, every rate equals a
    from-scratch water-fill of all active flows, and every flow ends (or is cancelled
    with what it had left) when a from-scratch fluid says."""
    env = simpy.Environment()
    fluid = FluidScheduler(env)
    links = [fluid.add_link(f"l{i}", capacity) for i, capacity in enumerate(capacities)]
    flows: list[Flow] = []
    ops: list[tuple[float, str, Any]] = []
    returned: dict[int, float] = {}

    def check_rates() -> None:
        active = fluid.active
        index = {link: i for i, link in enumerate(links)}
        expected = reference_rates(
            [[index[link] for link in flow.links] for flow in active],
            [link.capacity for link in links],
        )
        assert [flow.rate for flow in active] == pytest.approx(expected, rel=1e-9, abs=1e-9)

    def driver() -> Generator[simpy.Event, Any, None]:
        for delay, (kind, *args) in steps:
            yield env.timeout(delay)
            if kind == "start":
                amount, path = args
                ops.append((env.now, "start", (len(flows), amount, path)))
                flows.append(fluid.start(amount, [links[i] for i in path]))
            elif kind == "cancel" and args[0] < len(flows):
                ops.append((env.now, "cancel", args[0]))
                returned[args[0]] = fluid.cancel(flows[args[0]])
            elif kind == "capacity":
                link, value = args
                ops.append((env.now, "capacity", (link, value)))
                fluid.set_capacity(links[link], value)
            check_rates()
        for i, link in enumerate(links):  # let everything finish
            if link.capacity == 0.0:
                ops.append((env.now, "capacity", (i, 1.0)))
                fluid.set_capacity(link, 1.0)
                check_rates()

    env.process(driver())
    env.run()
    ended, cancelled = reference_run(capacities, ops)
    for i, flow in enumerate(flows):
        if flow.cancelled:
            assert returned[i] == pytest.approx(cancelled.get(i, 0.0), rel=1e-6, abs=1e-6)
        else:
            assert flow.done.triggered
            assert flow.finished_at == pytest.approx(ended[i], rel=1e-6, abs=1e-6)
    assert fluid.active == ()
