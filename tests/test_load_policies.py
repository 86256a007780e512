"""Specification of the load-sharing policies: the registry, the presets, each policy's rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from rhodos.load import (
    KINDS,
    PRESETS,
    BasePolicy,
    InformationPolicy,
    LoadView,
    LocationPolicy,
    Resident,
    SelectionPolicy,
    Settings,
    Target,
    TransferPolicy,
    UnknownPolicy,
    UnknownPreset,
    make_policy,
    policy_settings,
    register,
    registered,
    unregister,
)
from rhodos.migration_manager import make_strategy

PROTOCOLS = {
    "information": InformationPolicy,
    "transfer": TransferPolicy,
    "location": LocationPolicy,
    "selection": SelectionPolicy,
}


class FakeAgent:
    """The least of an agent a selection policy or a location policy reads without waiting."""

    def __init__(self, load: int, now: float = 10.0, cost_s: float = 1.0) -> None:
        self.load = load
        self.now = now
        self.cost_s = cost_s
        self.node_id = 0

    def migration_cost_s(self, pages: int) -> float:
        return self.cost_s * pages


def run_decision(steps: Any) -> Any:
    """Run a policy step that does not wait; its value."""
    try:
        next(steps)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the step waited")


# -- the registry ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_registered_policy_follows_its_kinds_protocol(kind: str) -> None:
    """Each built-in policy of a kind is built with its defaults and meets the kind's protocol."""
    policies = registered(kind)
    assert policies
    for name, cls in policies.items():
        policy = cls()
        assert isinstance(policy, PROTOCOLS[kind]), name
        assert policy.kind == kind and policy.name == name and policy.summary
        assert policy.params() == attrs.asdict(policy)


def test_the_built_in_policies_are_those_of_the_literature() -> None:
    """The four kinds hold the policies the design names, in a stable order."""
    assert list(registered("information")) == ["none", "probe", "broadcast", "exchange", "central"]
    assert list(registered("transfer")) == [
        "never",
        "always",
        "sender",
        "receiver",
        "symmetric",
        "periodic",
    ]
    assert list(registered("location")) == [
        "local",
        "random",
        "round-robin",
        "threshold",
        "shortest",
        "power-of-d",
        "jsq",
        "least-loaded",
    ]
    assert list(registered("selection")) == ["birth", "names", "newest", "oldest", "age", "memory"]


def test_an_unknown_policy_or_parameter_is_refused_by_name() -> None:
    """A misspelt name or parameter names what exists."""
    with pytest.raises(UnknownPolicy, match=r"did you mean 'power-of-d'.*location policies: local"):
        make_policy("location", "power-of-2")
    with pytest.raises(UnknownPolicy, match="has no parameter 'dd'; its parameters: d"):
        make_policy("location", "power-of-d", dd=3)
    with pytest.raises(UnknownPolicy, match="unknown policy kind 'placement'"):
        make_policy("placement", "birth")


def test_a_bad_parameter_value_names_the_field_and_the_range() -> None:
    """Validators name the policy, the field and what is allowed."""
    with pytest.raises(ValueError, match="location policy 'power-of-d': d must be an integer >= 1"):
        make_policy("location", "power-of-d", d=0)
    with pytest.raises(ValueError, match="information policy 'broadcast': period_s must be > 0"):
        make_policy("information", "broadcast", period_s=0)
    with pytest.raises(ValueError, match="selection policy 'age': cost_s must be >= 0"):
        make_policy("selection", "age", cost_s=-1)


def test_a_new_policy_is_registered_by_decorating_its_class() -> None:
    """A plugin class with a kind, a name and attrs fields becomes available by name."""

    @register
    @attrs.frozen
    class Lightest(BasePolicy):
        kind: ClassVar[str] = "selection"
        name: ClassVar[str] = "lightest-test"
        summary: ClassVar[str] = "test"
        at_birth: ClassVar[bool] = False

        def choose(self, agent: Any, residents: Sequence[Resident], target: Target) -> Any:
            return residents[0] if residents else None

    try:
        assert make_policy("selection", "lightest-test").name == "lightest-test"
        settings = policy_settings("receiver", selection="lightest-test")
        assert settings.selection.name == "lightest-test"
    finally:
        unregister("selection", "lightest-test")
    assert "lightest-test" not in registered("selection")


def test_a_class_without_kind_or_fields_is_not_registered() -> None:
    """Registration refuses what the registry could not use."""
    with pytest.raises(ValueError, match="kind must be one of information"):
        register(type("NoKind", (), {"name": "x"}))

    class Plain:
        kind = "location"
        name = "plain"

    with pytest.raises(ValueError, match="must be an attrs class"):
        register(Plain)


# -- presets and settings ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_settings_that_can_run(name: str) -> None:
    """Each ``--policy`` name is a consistent set of four policies (with a strategy)."""
    settings = policy_settings(name, strategy=make_strategy("eager"))
    assert settings.problems(4) == []
    preset = PRESETS[name]
    assert (settings.transfer.name, settings.location.name) == (preset.transfer, preset.location)


def test_the_knobs_reach_the_policies_that_take_them() -> None:
    """--threshold, --probe-limit and --d set those parameters wherever they exist."""
    settings = policy_settings("symmetric", threshold=3, probe_limit=5)
    assert settings.transfer.threshold == 3 and settings.transfer.probe_limit == 5
    assert settings.location.threshold == 3 and settings.location.probe_limit == 5
    assert policy_settings("power-of-d", d=4).location.d == 4
    assert policy_settings("random", d=4).transfer.threshold == 1  # d is not random's


def test_an_unknown_preset_lists_the_presets() -> None:
    """A misspelt --policy gets a hint and the list."""
    with pytest.raises(UnknownPreset, match=r"did you mean 'threshold'.*policies: none, random"):
        policy_settings("treshold")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            lambda: policy_settings("receiver", selection="birth"),
            "moves running processes: choose a preemptive selection",
        ),
        (lambda: policy_settings("receiver"), "needs a migration strategy"),
        (lambda: policy_settings("jsq", information="exchange"), "use information 'central'"),
        (lambda: policy_settings("least-loaded", information="none"), "needs load information"),
        (lambda: policy_settings("random", trader=7), "the trader node 7 is not a compute node"),
        (
            lambda: Settings(location=make_policy("selection", "birth")),
            "location must be a location policy",
        ),
    ],
)
def test_settings_that_cannot_work_say_why(settings: Any, problem: str) -> None:
    """Impossible combinations are named before anything runs."""
    assert any(problem in p for p in settings().problems(4))


# -- transfer rules ----------------------------------------------------------------------


def test_the_threshold_is_the_queue_a_node_keeps_without_sharing() -> None:
    """Sender above T (the newcomer counted), receiver below T, giver above T."""
    sender = make_policy("transfer", "sender", threshold=2)
    assert [sender.sender(load) for load in (1, 2, 3)] == [False, False, True]
    receiver = make_policy("transfer", "receiver", threshold=2)
    assert [receiver.receiver(load) for load in (0, 1, 2)] == [True, True, False]
    assert [receiver.gives(load) for load in (2, 3)] == [False, True]
    symmetric = make_policy("transfer", "symmetric", threshold=1)
    assert symmetric.sender(2) and symmetric.receiver(0) and not symmetric.receiver(1)
    assert make_policy("transfer", "always").sender(1)
    assert not make_policy("transfer", "never").sender(100)
    assert make_policy("transfer", "periodic", every_s=2.5).period_s == 2.5


# -- selection rules ---------------------------------------------------------------------

RESIDENTS = [Resident(1, 0.0, 10), Resident(2, 6.0, 3), Resident(3, 9.5, 40)]


def test_newest_oldest_and_memory_pick_by_birth_and_size() -> None:
    """Newest is the last born, oldest the first, memory the smallest address space."""
    agent, target = FakeAgent(load=4), Target(1, 0)
    pick = {
        name: make_policy("selection", name).choose(agent, RESIDENTS, target).pid
        for name in ("newest", "oldest", "memory")
    }
    assert pick == {"newest": 3, "oldest": 1, "memory": 2}
    assert make_policy("selection", "birth").choose(agent, RESIDENTS, target) is None


def test_nothing_moves_to_a_queue_less_than_two_shorter() -> None:
    """A preemptive move to a queue only one shorter helps nobody: none is chosen."""
    oldest = make_policy("selection", "oldest")
    assert oldest.choose(FakeAgent(load=3), RESIDENTS, Target(1, 2)) is None
    assert oldest.choose(FakeAgent(load=3), RESIDENTS, Target(1, 1)) is not None
    assert oldest.choose(FakeAgent(load=3), RESIDENTS, Target(1, None)) is not None


def test_age_based_selection_is_harchol_balter_and_downeys_rule() -> None:
    """Eligible once age > cost / (n - m); the oldest eligible process moves."""
    age = make_policy("selection", "age", cost_s=8.0)
    # At t = 10 the ages are 10, 4 and 0.5. With n - m = 2 the bar is 4: only pid 1 passes.
    assert age.choose(FakeAgent(load=3), RESIDENTS, Target(1, 1)).pid == 1
    # With n - m = 4 the bar is 2: pids 1 and 2 pass; the oldest goes.
    assert age.choose(FakeAgent(load=5), RESIDENTS, Target(1, 1)).pid == 1
    # Without pid 1, pid 2 (age 4) passes the bar of 2 but not the bar of 4.
    assert age.choose(FakeAgent(load=5), RESIDENTS[1:], Target(1, 1)).pid == 2
    assert age.choose(FakeAgent(load=3), RESIDENTS[1:], Target(1, 1)) is None


def test_age_based_selection_estimates_the_cost_per_process_when_unset() -> None:
    """Unset, the cost is the agent's estimate for the process's size."""
    age = make_policy("selection", "age")
    agent = FakeAgent(load=3, cost_s=0.5)  # cost = 0.5 s per page
    # bars: pid 1 (10 pages) 2.5 s < age 10; pid 3 (40 pages) 10 s > age 0.5
    assert age.choose(agent, [RESIDENTS[0], RESIDENTS[2]], Target(1, 1)).pid == 1
    assert age.choose(agent, [RESIDENTS[2]], Target(1, 1)) is None


# -- what a node knows -------------------------------------------------------------------


def test_the_load_view_keeps_the_latest_measurement_and_its_age() -> None:
    """A report older than what is known changes nothing; ages count from the measurement."""
    view = LoadView(4)
    assert not view.known(2)
    view.update(2, 5, at=3.0)
    view.update(2, 1, at=2.0)  # overtaken on the way: older, ignored
    assert view.load[2] == 5 and view.age(2, now=4.5) == 1.5
    assert view.reports == 2


def test_least_loaded_ranks_unknown_nodes_last_and_spreads_ties() -> None:
    """The least known load wins; ties go to the first after the offset."""
    view = LoadView(5)
    candidates = np.array([1, 2, 3, 4], dtype=np.int32)
    assert view.least(candidates) is None
    for node, load in ((1, 2), (2, 1), (3, 1)):
        view.update(node, load, at=1.0)
    assert view.least(candidates) == 2
    assert view.least(candidates, offset=2) == 3
    assert view.least(np.array([4], dtype=np.int32)) is None


def test_random_and_round_robin_need_no_information() -> None:
    """Random draws one candidate; round-robin walks them in turn from after the node."""

    class Turns(FakeAgent):
        def __init__(self) -> None:
            super().__init__(load=1)
            self.node_id, self.turns = 1, 0

        def uniform(self) -> float:
            return 0.6

        def turn(self) -> int:
            self.turns += 1
            return self.turns - 1

    agent = Turns()
    candidates = np.array([0, 2, 3], dtype=np.int32)
    random_ = make_policy("location", "random")
    assert run_decision(random_.destination(agent, candidates)) == Target(2, None)
    walk = make_policy("location", "round-robin")
    assert [run_decision(walk.destination(agent, candidates)).node for _ in range(4)] == [
        2,
        3,
        0,
        2,
    ]
    assert run_decision(make_policy("location", "local").destination(agent, candidates)) is None
