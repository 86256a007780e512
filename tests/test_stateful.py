"""Stateful specification: random migrations at random moments never break an invariant.

A hypothesis state machine drives the real system -- a 3 or 4 node cluster running
memory-writing oracles, a two-way conversation and a stream -- with rules that let
simulated time pass and migrate processes (one, both ends of a conversation at once,
or back home) with randomly chosen registered strategies. Its timing is drawn from the
built-in machines and from the legal extremes that widen race windows: every CPU cost
0, every cost and latency 0, a network latency of 0.5 to 2 s. After every step it
checks what must hold at every instant; at the end it runs to completion and checks
that every page and every message arrived.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from rhodos.migration_manager import registered
from rhodos.system import boot
from rhodos.testing import REFUSALS_IN_FLIGHT, Harness, fuzz_profile

STRATEGIES = st.sampled_from(sorted(registered()))

#: The machines the state machine runs on: built-in, and legal extremes of timing.
PROFILES = st.sampled_from(
    [
        "sparc-ethernet",
        "sun3-ethernet",
        "zero-cpu",
        "zero-cpu:sun3-ethernet",
        "zero-cost",
        "slow-latency@0.5",
        "slow-latency@1",
    ]
)


class Migrations(RuleBasedStateMachine):
    """The cluster, its oracle processes, and the migrations asked of it so far."""

    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None

    @property
    def harness(self) -> Harness:
        assert self.h is not None
        return self.h

    @initialize(seed=st.integers(0, 2**16), nodes=st.integers(3, 4), profile=PROFILES)
    def boot(self, seed: int, nodes: int, profile: str) -> None:
        h = self.h = Harness(boot(nodes=nodes, seed=seed, profile=fuzz_profile(profile)))
        h.watch_the_clock(120.0)
        last = nodes - 1
        h.spawn_memory(0, cpu_seconds=0.8, dirty_rate=400.0, sweep_every=8)
        h.spawn_memory(last, cpu_seconds=0.5, dirty_rate=800.0, sweep_every=0)
        h.spawn_pair(0, 1, rounds=40)
        h.spawn_stream(1, last, chunks=100)

    # -- helpers ---------------------------------------------------------------------
    def live(self) -> list[int]:
        h = self.harness
        return [
            pid
            for pid in h.pids
            if pid in h.cluster.location_of and not h.cluster.exit_event(pid).triggered
        ]

    def elsewhere(self, pid: int) -> list[int]:
        here = self.harness.cluster.location_of[pid]
        return [n for n in range(len(self.harness.cluster.nodes)) if n != here]

    def away_from_home(self) -> list[int]:
        where = self.harness.cluster.location_of
        return [pid for pid in self.live() if where[pid] != self.harness.home[pid]]

    # -- rules -----------------------------------------------------------------------
    @rule(seconds=st.floats(0.0, 0.2), fine=st.booleans())
    def let_time_pass(self, seconds: float, fine: bool) -> None:
        # Sometimes a few microseconds only: the next request lands inside what the last
        # one set going.
        self.harness.run(self.harness.env.now + (seconds * 1e-3 if fine else seconds))

    @precondition(lambda self: self.h is not None and self.live())
    @rule(data=st.data(), strategy=STRATEGIES)
    def migrate_one(self, data: st.DataObject, strategy: str) -> None:
        pid = data.draw(st.sampled_from(self.live()), label="pid")
        dest = data.draw(st.sampled_from(self.elsewhere(pid)), label="dest")
        self.harness.migrate(pid, dest, strategy)

    @precondition(lambda self: self.h is not None and self.live())
    @rule(data=st.data(), first=STRATEGIES, second=STRATEGIES)
    def migrate_both_ends(self, data: st.DataObject, first: str, second: str) -> None:
        a, b = data.draw(st.sampled_from(self.harness.pairs), label="pair")
        for pid, strategy in ((a, first), (b, second)):
            if pid in self.live():
                dest = data.draw(st.sampled_from(self.elsewhere(pid)), label=f"dest of {pid}")
                self.harness.migrate(pid, dest, strategy)

    @precondition(lambda self: self.h is not None and self.away_from_home())
    @rule(data=st.data(), strategy=STRATEGIES)
    def migrate_home(self, data: st.DataObject, strategy: str) -> None:
        pid = data.draw(st.sampled_from(self.away_from_home()), label="pid")
        self.harness.migrate(pid, self.harness.home[pid], strategy)

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def one_node_per_process(self) -> None:
        assert self.harness.monitor.check() == []
        assert self.harness.monitor.violations == []

    @invariant()
    def messages_so_far_exactly_once_in_order(self) -> None:
        assert self.harness.messages.violations() == []
        for node in self.harness.cluster.nodes:
            stats = node.statistics("ipc")
            assert (stats.duplicates, stats.dropped) == (0, 0)

    @invariant()
    def finished_migrations_keep_their_promises(self) -> None:
        h = self.harness
        assert h.migration_errors == []
        assert h.residual_violations == []
        assert h.check_records() == []
        for record in h.records:
            if record.refused is not None:
                assert any(reason in record.refused for reason in REFUSALS_IN_FLIGHT), (
                    record.refused
                )

    @invariant()
    def memory_checks_passed(self) -> None:
        assert [v for oracle in self.harness.memory for v in oracle.violations] == []

    def teardown(self) -> None:
        if self.h is not None:
            latency = self.h.cluster.profile.network_latency_s
            violations = self.h.finish(limit_s=30.0 + 300.0 * latency)
            assert violations == [], "\n".join(violations)


TestMigrations = Migrations.TestCase
TestMigrations.settings = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
