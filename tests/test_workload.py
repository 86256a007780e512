"""Specification of the workloads: each runs to completion, clear errors, reference models."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import pytest

from rhodos.kernel import Layout
from rhodos.system import boot, processes, spawn
from rhodos.workload import WORKLOADS, ReferenceModel, UnknownWorkload, make_workload

#: Small parameters per workload, so that every one runs in a fraction of a second.
SMALL: dict[str, dict[str, Any]] = {
    "cpu-bound": {"processes": 2, "cpu_seconds": 0.3},
    "memory-writer": {"cpu_seconds": 0.3},
    "pingpong": {"rounds": 10},
    "server": {"clients": 3, "requests": 4},
    "stream": {"total_bytes": 64 * 1024, "chunk_bytes": 4096},
}


def test_every_workload_has_small_parameters_here() -> None:
    """This file exercises every registered workload (a new one must be added to SMALL)."""
    assert set(SMALL) == set(WORKLOADS)


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_runs_to_completion_on_four_nodes(name: str) -> None:
    """Every process of the workload exits, and every message sent is received."""
    cluster = boot(nodes=4, seed=1)
    pids = make_workload(name, **SMALL[name]).start(cluster, [0, 1, 2, 3])
    exits = [cluster.exit_event(pid) for pid in pids]
    cluster.run()
    assert all(event.triggered for event in exits)
    snapshots = processes(cluster)
    assert sorted(s.pid for s in snapshots) == sorted(pids)
    assert {s.state for s in snapshots} == {"exited"}
    sent = sum(s.messages_sent for s in snapshots)
    assert sent == sum(s.messages_received for s in snapshots)
    assert [node.frames_used for node in cluster.nodes] == [0] * 4
    if name in ("pingpong", "server", "stream"):
        assert sent > 0


def test_pingpong_exchanges_two_messages_per_round() -> None:
    """A ping-pong of 10 rounds sends 10 messages each way."""
    cluster = boot(nodes=2, seed=1)
    make_workload("pingpong", rounds=10).start(cluster, [0, 1])
    cluster.run()
    assert [(s.messages_sent, s.messages_received) for s in processes(cluster)] == [(10, 10)] * 2


def test_unknown_workload_lists_the_workloads() -> None:
    """An unknown workload name lists every workload (and suggests the nearest)."""
    with pytest.raises(UnknownWorkload) as error:
        make_workload("nope")
    for name in WORKLOADS:
        assert name in str(error.value)
    with pytest.raises(UnknownWorkload, match="did you mean 'pingpong'"):
        make_workload("pingpng")


def test_unknown_parameter_lists_the_allowed_ones() -> None:
    """An unknown parameter names itself and the parameters the workload takes."""
    with pytest.raises(UnknownWorkload, match=r"no parameter 'size'; it takes: rounds, size_bytes"):
        make_workload("pingpong", size=10)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("working_set", 1.5),
        ("locality", -0.1),
        ("write_fraction", 2.0),
        ("refs_per_s", -1.0),
        ("dirty_rate", -5.0),
        ("stack_bytes", -1),
    ],
)
def test_reference_model_validation_names_the_field(field: str, value: float) -> None:
    """A reference-model value out of range raises an error naming the field."""
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        ReferenceModel(**{field: value})


def test_reference_model_keeps_to_its_working_set() -> None:
    """Heap references fall in the working set; each batch also reads code and writes the stack."""
    layout = Layout(code=2, heap=20, stack=2)
    refs = ReferenceModel(working_set=0.25, refs_per_s=1000.0)
    touch = refs.sample(layout, 0.1, np.random.default_rng(0), code_page=1)
    assert (touch.pages[0], touch.writes[0]) == (1, False)
    assert (touch.pages[1], touch.writes[1]) == (layout.pages - 1, True)
    heap = touch.pages[2:]
    assert heap.size > 0 and heap.min() >= 2 and heap.max() < 2 + 5


@pytest.mark.parametrize(("stack_bytes", "page"), [(None, 3), (100, 3), (4096, 3), (5000, 2)])
def test_reference_model_writes_the_stack_pointer_s_page(
    stack_bytes: int | None, page: int
) -> None:
    """With a stack in use of ``stack_bytes`` the batch writes the stack pointer's page (on
    4 KiB pages, 5,000 bytes reach the second page from the top) and reports the pointer."""
    layout = Layout(code=1, heap=1, stack=2)  # the stack is pages 2 and 3
    refs = ReferenceModel(refs_per_s=0.0, stack_bytes=stack_bytes)
    touch = refs.sample(layout, 0.1, np.random.default_rng(0), page_size=4096)
    assert touch.pages.tolist() == [0, page] and touch.stack_depth == stack_bytes


def test_dirty_rate_sets_the_writes_per_second() -> None:
    """Over a long run, a model with dirty rate D writes D * t heap pages, within 5 sigma."""
    layout = Layout(code=4, heap=96, stack=4)
    rate, burst, bursts = 50.0, 0.05, 4000
    refs = ReferenceModel(dirty_rate=rate, refs_per_s=200.0)
    rng = np.random.default_rng(3)
    writes = sum(int(refs.sample(layout, burst, rng).writes[2:].sum()) for _ in range(bursts))
    expected = rate * burst * bursts  # Poisson: the variance equals the mean
    assert abs(writes - expected) <= 5 * math.sqrt(expected)


def test_write_fraction_applies_without_a_dirty_rate() -> None:
    """Without a dirty rate, a fraction ``write_fraction`` of the references write."""
    layout = Layout(code=4, heap=96, stack=4)
    refs = ReferenceModel(write_fraction=0.25, refs_per_s=1000.0)
    rng = np.random.default_rng(4)
    batches = [refs.sample(layout, 0.05, rng) for _ in range(400)]
    heap_writes = sum(int(b.writes[2:].sum()) for b in batches)
    expected = 0.25 * 1000.0 * 0.05 * 400
    assert abs(heap_writes - expected) <= 5 * math.sqrt(expected)


def test_a_stream_receiver_detects_a_gap() -> None:
    """The stream receiver fails loudly when a chunk is missing (so its silence means order)."""
    from rhodos.kernel import Send
    from rhodos.workload import StreamBroken, StreamReceiver

    @attrs.frozen
    class Skipper:
        name: str = "skipper"
        memory_bytes: int = 64 * 1024

        def run(self, ctx: Any) -> Any:
            yield Send(ctx.peers["peer"], 100, ("data", 0, 100))
            yield Send(ctx.peers["peer"], 100, ("data", 200, 100))  # bytes 100..199 lost

    cluster = boot(nodes=2, seed=1)
    receiver, _ = spawn(cluster, StreamReceiver(), 1)
    spawn(cluster, Skipper(), 0, peers={"peer": receiver})
    with pytest.raises(StreamBroken, match="expected byte 100, got 200"):
        cluster.run()


def test_a_program_that_does_not_fit_is_refused_at_spawn() -> None:
    """Spawning more memory than the node has free names the node, the need and what is free."""
    from rhodos.kernel import OutOfMemory
    from rhodos.workload import Computer

    cluster = boot(nodes=2, seed=1)  # sun3-ethernet: 8 MiB per node
    with pytest.raises(OutOfMemory, match=r"needs 2048 page frames .* 1024 are free"):
        spawn(cluster, Computer(memory_bytes=16 * 1024 * 1024), 0)
    with pytest.raises(Exception, match="file-server"):
        spawn(cluster, Computer(), 2)


def test_a_remote_null_home_call_is_one_round_trip_home() -> None:
    """A memory writer's home calls of 64 bytes with no service time, made from another
    node, each take two network messages of 64 bytes (how sprite-sparc-1991 measures the
    RPC round trip); the first ones after the resume share the nodes' CPUs with the
    migration's clean-up messages, which delays them by at most a few message overheads
    in all."""
    from rhodos.experiment import Scenario, run_migration

    scenario = Scenario(
        profile="sparc-ethernet",
        memory_bytes=16 * 1024,
        dirty_rate=0.0,
        cpu_seconds=0.002,
        home_calls_per_s=100_000.0,
        migrate_at=0.003,
        workload_params={"home_call_bytes": 64, "home_call_service_s": 0.0},
    )
    record = run_migration(scenario, "flushing")
    p = scenario.profile
    one_way = (
        2 * p.message_cpu_overhead_s + p.wire_bytes(64) / p.bandwidth_bytes_per_s
    ) + p.network_latency_s
    assert record.home_calls > 50
    excess = record.home_call_s - record.home_calls * 2 * one_way
    assert 0 <= excess <= 4 * p.message_cpu_overhead_s


def test_open_files_need_a_workload_that_opens_them() -> None:
    """Dirty file blocks without an open file, or a negative count, are refused by name."""
    with pytest.raises(ValueError, match="dirty_file_blocks = 3 needs open files"):
        make_workload("memory-writer", dirty_file_blocks=3)
    with pytest.raises(ValueError, match="open_files must be within"):
        make_workload("cpu-bound", open_files=-1)
