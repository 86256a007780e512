"""The Load Manager's private table, and what its policies see of it (the agent).

The table holds the processes living here that the Load Manager knows (pid -> birth
and size), its view of the other nodes' loads, on the trader's node the trader's
offers, and the node's own random stream. The handlers live beside it, in
:mod:`~rhodos.load.server`, as the Memory Manager keeps its handlers around its table.

The methods below are the :class:`~rhodos.load.policy.Agent` a policy acts through:
everything a policy asks that crosses the network is a request to another node's Load
Manager, so it costs what the profile says.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, cast

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Message, Node, RequestFailed, Server
from rhodos.load.policy import Decision, Target
from rhodos.load.requests import SIZES, LeastLoaded, LoadReport, Probe, Resident, node_list_bytes
from rhodos.load.settings import Settings
from rhodos.load.trader import TraderTable
from rhodos.load.view import LoadView

__all__ = ["LoadStatistics", "LoadTable"]

#: How many uniform numbers are drawn from the node's stream at a time.
_BATCH = 1024


@attrs.frozen
class LoadStatistics:
    """What one Load Manager did since boot."""

    #: Execs from this node's users.
    execs: int
    #: Processes it had its Process Manager create (its own execs and remote ones).
    spawned: int
    #: Execs of its users it sent to another node (remote execution).
    placed_remote: int
    #: Remote execs from other nodes it ran here.
    remote_execs_served: int
    #: Execs it could not place anywhere (no memory).
    refused: int
    probes_sent: int
    probes_answered: int
    reports_sent: int
    reports_received: int
    pulls_sent: int
    pulls_served: int
    #: Migrations it asked its Migration Manager for, refused, and completed.
    migrations_requested: int
    migrations_refused: int
    migrations_completed: int
    #: Freeze time of its completed migrations, summed.
    freeze_s: float
    offers_exported: int
    #: Questions it asked the trader (the answers are kept for an offer period).
    imports: int
    #: Idle workstations: simulated seconds this host was idle by the rule (sampled).
    idle_s: float = 0.0
    #: Idle hosts asked of the trader, and the time the answers took (select).
    selects: int = 0
    select_s: float = 0.0
    #: Owner returns that evicted guests, the guests evicted, and the time from each
    #: eviction's start to its last guest running again elsewhere, summed.
    evictions: int = 0
    evicted: int = 0
    eviction_s: float = 0.0


@attrs.define
class _Counters:
    execs: int = 0
    spawned: int = 0
    placed_remote: int = 0
    remote_execs_served: int = 0
    refused: int = 0
    probes_sent: int = 0
    probes_answered: int = 0
    reports_sent: int = 0
    reports_received: int = 0
    pulls_sent: int = 0
    pulls_served: int = 0
    migrations_requested: int = 0
    migrations_refused: int = 0
    migrations_completed: int = 0
    freeze_s: float = 0.0
    offers_exported: int = 0
    imports: int = 0
    idle_s: float = 0.0
    selects: int = 0
    select_s: float = 0.0
    evictions: int = 0
    evicted: int = 0
    eviction_s: float = 0.0


class LoadTable(Server):
    """The Load Manager's state, and the agent services its policies use."""

    def __init__(self, node: Node) -> None:
        self.settings = Settings()
        self.residents: dict[int, Resident] = {}
        self.view = LoadView(1)
        self.trader = TraderTable(1)
        self._rng: np.random.Generator = np.random.default_rng(0)
        self._draws: list[float] = []
        self._turn = 0
        self._pending_pages = 0
        self._seeking = False
        self._imported: dict[tuple[str, int], tuple[float, npt.NDArray[np.int32]]] = {}
        self._load_average = 0.0  # the owner's, for the idle rule
        self._offered_idle = False
        self._evicting = False
        self._counts = _Counters()
        super().__init__(node)

    def statistics(self) -> LoadStatistics:
        """What this Load Manager did so far."""
        return LoadStatistics(**attrs.asdict(self._counts))

    # -- the agent: what policies see ----------------------------------------------
    @property
    def node_id(self) -> int:
        """This node."""
        return self.node.node_id

    @property
    def now(self) -> float:
        """The simulated time."""
        return float(self.env.now)

    @property
    def load(self) -> int:
        """The processes on this node's run queue now."""
        return self.node.cpu.runnable

    def uniform(self) -> float:
        """The next uniform number of this node's stream (drawn in batches)."""
        if not self._draws:
            self._draws = self._rng.random(_BATCH).tolist()
            self._draws.reverse()
        return self._draws.pop()

    def turn(self) -> int:
        """0, 1, 2, ...: this node's round-robin turn."""
        self._turn += 1
        return self._turn - 1

    def sample_indices(self, n: int, count: int) -> list[int]:
        """``count`` distinct indices in ``range(n)`` at random (all of them if fewer)."""
        if count >= n:
            return list(range(n))
        chosen: list[int] = []
        while len(chosen) < count:
            index = int(self.uniform() * n)
            if index not in chosen:
                chosen.append(index)
        return chosen

    def sample(self, candidates: npt.NDArray[np.int32], count: int) -> list[int]:
        """``count`` distinct candidates at random (all of them, shuffled, if fewer)."""
        return [int(candidates[i]) for i in self.sample_indices(int(candidates.size), count)]

    def probe(self, nodes: Sequence[int]) -> Decision:
        """Ask ``nodes`` for their loads, in parallel; their loads, in order."""
        calls = [
            self.node.call(self.peer(node), Probe(), size_bytes=SIZES["probe"]) for node in nodes
        ]
        self._counts.probes_sent += len(calls)
        yield self.env.all_of(calls)
        loads = []
        for call in calls:
            report: LoadReport = cast(Message, call.value).body
            self.view.update(report.node, report.load, report.at)
            loads.append(report.load)
        return loads

    def report(self, node: int) -> None:
        """Send this node's load, as it is now, to ``node``'s Load Manager (one-way)."""
        self._counts.reports_sent += 1
        report = LoadReport(self.node_id, self.load, self.now)
        self.node.send(self.peer(node), report, size_bytes=SIZES["report"])

    def least_loaded(self, candidates: npt.NDArray[np.int32]) -> Decision:
        """The least-loaded candidate as the information policy knows it."""
        target = yield from self.settings.information.least_loaded(self, candidates)
        return target

    def ask_least_loaded(self, server: int, candidates: npt.NDArray[np.int32]) -> Decision:
        """Ask the load server on ``server`` for its least-loaded candidate."""
        reply = yield self.node.call(
            self.peer(server), LeastLoaded(candidates), size_bytes=node_list_bytes(candidates.size)
        )
        report: LoadReport | None = reply.body
        if report is None:
            return None
        return Target(report.node, report.load)

    def background(self, work: Decision) -> None:
        """Run a decision alongside; a request to a peer that crashed gives it up."""
        self.env.process(self._guarded(work))

    def _guarded(self, work: Decision) -> Decision:
        try:
            yield from work
        except RequestFailed as failed:
            self.log("given-up", why=str(failed))

    def every(self, period_s: float, action: Callable[[], Any]) -> None:
        """Call ``action()`` every ``period_s``, from a random phase in the first period."""
        self.env.process(self._every(period_s, action))

    def _every(self, period_s: float, action: Callable[[], Any]) -> Decision:
        yield self.env.timeout(self.uniform() * period_s)
        while not self.node.crashed:  # a crash ends this incarnation's periodic work
            out = action()
            if isinstance(out, Generator):
                self.background(out)
            yield self.env.timeout(period_s)

    def migration_cost_s(self, pages: int) -> float:
        """An eager move of ``pages`` pages on this profile: its bytes over the network, the
        kernel's work at both ends, extracting and installing the state."""
        profile = self.node.profile
        size = profile.execution_state_bytes + pages * profile.page_size_bytes
        return (
            profile.wire_bytes(size) / profile.bandwidth_bytes_per_s
            + 2 * profile.message_cpu_s(size)
            + profile.state_extract_s
            + profile.state_install_s
        )
