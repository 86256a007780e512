"""Specification of crashes in the kernel: what is lost, how peers learn of it, recovery."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import pytest
import simpy

from rhodos.kernel import (
    Cluster,
    ClusterConfig,
    Compute,
    Detection,
    Exit,
    Handler,
    Request,
    RequestFailed,
    Server,
)
from rhodos.system import boot, spawn
from rhodos.workload.programs import Computer

Gen = Generator[simpy.events.Event, Any, Any]


@attrs.frozen
class Slow(Request):
    """Anyone -> slow server: answer after ``seconds`` of simulated time."""

    seconds: float


class SlowServer(Server):
    """Answers each request after the time it asks for."""

    role = "slow"

    def handlers(self) -> dict[type[Request], Handler]:
        return {Slow: self._slow}

    def _slow(self, req: Slow) -> Gen:
        yield self.env.timeout(req.seconds)
        return "done"


def slow_cluster() -> tuple[Cluster, Detection]:
    cluster = Cluster(ClusterConfig(nodes=2, file_servers=0), node_servers=(SlowServer,))
    detection = Detection(request_timeout_s=0.5, transport_timeout_s=0.01, heartbeat_interval_s=1)
    cluster.detection = detection
    return cluster, detection


def call_at(cluster: Cluster, seconds: float, outcome: list[Any]) -> Gen:
    node = cluster.node(0)
    try:
        reply = yield node.call(node.role_port("slow", 1), Slow(seconds))
        outcome.append(reply.body)
    except RequestFailed as failed:
        outcome.append((cluster.now, failed.failure))


def test_a_slow_peer_is_waited_for() -> None:
    """A peer that answers probes is slow, not dead: a call longer than the timeout succeeds."""
    cluster, _ = slow_cluster()
    outcome: list[Any] = []
    cluster.env.process(call_at(cluster, 3.0, outcome))
    cluster.run()
    assert outcome == ["done"]


def test_a_call_to_a_node_that_crashes_fails_after_its_timeout_and_a_probe() -> None:
    """The caller learns of the crash by its timeout and an unanswered probe, not at once."""
    cluster, detection = slow_cluster()
    outcome: list[Any] = []
    cluster.env.process(call_at(cluster, 3.0, outcome))
    cluster.env.process(crash_at(cluster, 1, 0.2))
    cluster.run(until=10)
    [(when, failure)] = outcome
    assert failure.crashed == 1 and "node 1 crashed (does not answer)" in failure.reason
    assert when > detection.request_timeout_s  # not before the first timeout
    assert when < 2 * detection.request_timeout_s


def test_a_call_to_a_node_rebooted_meanwhile_fails() -> None:
    """A peer that answers from a later incarnation lost the request: the call fails."""
    cluster, _ = slow_cluster()
    outcome: list[Any] = []
    cluster.env.process(call_at(cluster, 3.0, outcome))
    cluster.env.process(crash_at(cluster, 1, 0.2, down_s=0.1))
    cluster.run(until=10)
    [(_, failure)] = outcome
    assert "was rebooted" in failure.reason
    assert cluster.incarnation(1) == 1


def crash_at(cluster: Cluster, node: int, at: float, down_s: float | None = None) -> Gen:
    yield cluster.env.timeout(at)
    cluster.crash(node)
    if down_s is not None:
        yield cluster.env.timeout(down_s)
        cluster.recover(node)


def test_a_message_to_a_crashed_node_is_reported_to_its_sender() -> None:
    """Sent to a crashed node, a request is not dropped silently: after the transport's
    timeout the sender's kernel counts and logs it, and the caller gets the failure."""
    cluster, detection = slow_cluster()
    cluster.crash(1)
    outcome: list[Any] = []
    cluster.env.process(call_at(cluster, 0.0, outcome))
    cluster.run(until=5)
    [(when, failure)] = outcome
    assert "undeliverable: node 1 crashed" in failure.reason
    assert when == pytest.approx(detection.transport_timeout_s)
    assert cluster.undeliverable == {"slow": 1}
    [event] = cluster.log.select("undeliverable")
    assert event.node == 0
    assert cluster.log.select("drop") == []


def test_a_crash_kills_processes_where_they_stand_and_keeps_their_work() -> None:
    """A crashed node's process stops at once; its CPU time done so far is accounted."""
    cluster = boot(nodes=2)
    pid, _ = spawn(cluster, Computer(cpu_seconds=2.0, burst_s=1.0), 0)
    cluster.run(until=0.5)
    thread = cluster.node(0).threads[pid]
    cluster.crash(0)
    cluster.run(until=5)
    assert thread.killed and not cluster.exit_event(pid).triggered
    assert thread.context.cpu_seconds == pytest.approx(0.5, abs=0.01)


def test_a_recovered_node_is_empty_and_its_dead_incarnation_does_nothing() -> None:
    """Recovery brings the node back with fresh servers and no process; what the crashed
    incarnation was doing never resumes."""
    cluster = boot(nodes=2)
    pid, _ = spawn(cluster, Computer(cpu_seconds=1.0), 0)
    cluster.run(until=0.3)
    old = cluster.node(0)
    cluster.crash(0)
    node = cluster.recover(0)
    cluster.run(until=5)
    assert node is not old and node.incarnation == 1 and not node.threads
    assert node.statistics("process").processes == ()
    assert not cluster.exit_event(pid).triggered
    assert old.cpu.statistics().user_seconds == pytest.approx(0.3, abs=0.01)


def test_without_detection_nothing_waits_on_timers() -> None:
    """With no crash expected, a call is a plain request/reply: no timer is set."""
    cluster = Cluster(ClusterConfig(nodes=2, file_servers=0), node_servers=(SlowServer,))
    assert cluster.detection is None
    outcome: list[Any] = []
    cluster.env.process(call_at(cluster, 3.0, outcome))
    cluster.run()
    assert outcome == ["done"]
    assert cluster.log.select("peer-crashed") == []


def test_detection_timeouts_come_from_the_profile() -> None:
    """A request waits at least 50 ms and more than a file-server disk access."""
    cluster = boot(nodes=1)
    detection = Detection.for_profile(cluster.profile)
    assert detection.request_timeout_s > cluster.profile.file_server_latency_s
    assert detection.request_timeout_s >= 0.05
    assert detection.suspicion_s == 3 * detection.heartbeat_interval_s


def test_detection_values_are_checked() -> None:
    """A timeout of 0 names the field and what is allowed."""
    with pytest.raises(ValueError, match="request_timeout_s"):
        Detection(request_timeout_s=0, transport_timeout_s=1, heartbeat_interval_s=1)


def test_compute_and_exit_still_run_as_before() -> None:
    """A cluster with detection on runs a process to its end (nothing crashes)."""
    cluster = boot(nodes=1)
    cluster.detection = Detection.for_profile(cluster.profile)

    class TwoSteps:
        name = "two-steps"
        memory_bytes = 16 * 1024

        def run(self, ctx: Any) -> Any:
            yield Compute(0.25)
            yield Exit(0)

    pid, _ = spawn(cluster, TwoSteps(), 0)  # type: ignore[arg-type]
    cluster.run()
    assert cluster.exit_event(pid).value == 0
