"""Specification of the harchol-balter-downey-1997 experiment's parts: placement by name,
the out-of-sample name list, migration cost as a parameter, delay, and the machinery."""

from __future__ import annotations

import math

import pytest
from load_helpers import Job, exec_jobs, load_cluster

from rhodos.kernel import ClusterConfig, Compute, Exit, Layout
from rhodos.load import make_policy, policy_settings
from rhodos.load.experiment import render_rows
from rhodos.load.lifetimes import (
    MEMORY_BYTES,
    TRACE,
    cost_profile,
    lifetimes,
    long_lived_names,
    rows,
)
from rhodos.load.requests import Exec
from rhodos.load.workload import read_trace
from rhodos.migration_manager import make_strategy
from rhodos.system import boot, migrate, spawn
from rhodos.workload import Computer

needs_trace = pytest.mark.skipif(not TRACE.is_file(), reason="the shared trace is not here")


def test_placement_by_name_sends_only_the_listed_programs() -> None:
    """With the name list, a listed program goes to the idle node, an unlisted one stays
    on its loaded node."""
    settings = policy_settings(
        "name-list", names=["cc1"], information="probe", strategy=make_strategy("eager")
    )
    cluster = load_cluster(2, settings)
    exec_jobs(cluster, [Job(at=0.0, node=0, cpu_s=50.0)])  # node 0 is loaded
    cluster.run(until=1.0)
    node = cluster.node(0)
    layout = Layout.from_bytes(0, cluster.profile.page_size_bytes)
    placed = {}
    for name in ("cc1", "ls"):
        pid = cluster.new_pid()

        def program() -> object:
            yield Compute(1.0)
            yield Exit(0)

        placed[name] = node.submit("load", Exec(pid, name, program(), layout, node.architecture))
    cluster.run(until=2.0)
    assert placed["cc1"].value.node == 1
    assert placed["ls"].value.node == 0


def test_the_name_list_is_a_set_of_names_and_shows_them() -> None:
    """The policy keeps its names as a set; any other birth policy places every name."""
    policy = make_policy("selection", "names", names=["a", "b", "a"])
    assert policy.places("a") and not policy.places("c")
    assert policy.params() == {"names": frozenset({"a", "b"})}
    assert make_policy("selection", "birth").places("anything")


@needs_trace
def test_the_name_list_is_learnt_outside_the_replayed_window() -> None:
    """A program is listed when it ran over 1 s in at least half its runs (5 or more)
    outside the window: the window's own runs never count."""
    window = (7200.0, 8400.0)
    names = long_lived_names(TRACE, window)
    assert "emacs-19.2" in names and "ls" not in names
    runs: dict[str, list[float]] = {}
    for record in read_trace(TRACE):
        if not window[0] <= record.time_s < window[1]:
            runs.setdefault(record.program, []).append(record.cpu_s)
    for name in names[:20]:
        times = runs[name]
        assert len(times) >= 5 and sum(t > 1.0 for t in times) >= len(times) / 2


def test_the_cost_profile_makes_a_migration_cost_exactly_what_it_is_told() -> None:
    """On cost_profile(c) the Load Manager's estimate of moving the process is c, and an
    eager migration of an idle-network process freezes it for c plus nothing else."""
    for cost in (0.1, 2.0):
        profile = cost_profile(cost)
        cluster = boot(ClusterConfig(nodes=2, profile=profile, keep_log=False))
        pages = Layout.from_bytes(MEMORY_BYTES, profile.page_size_bytes).pages
        manager = cluster.node(0).debug_server("load")
        assert manager.migration_cost_s(pages) == pytest.approx(cost, rel=1e-12)
        program = Computer(memory_bytes=MEMORY_BYTES, cpu_seconds=10.0)
        pid, _ = spawn(cluster, program, 0)
        cluster.run(until=0.5)
        record = migrate(cluster, pid, 1, "eager")
        cluster.run(until=record)
        assert record.value.freeze_s == pytest.approx(cost, rel=0.02)
    assert cost_profile(0.0).network_bandwidth_bps == cost_profile(0.0).file_server_bandwidth_bps


@needs_trace
def test_the_experiment_runs_and_renders_at_a_small_scale() -> None:
    """A 30 s window, two costs and one strategy: every run, row and claim is there; a
    process's delay is its response less its demand, so it is never negative."""
    runs = lifetimes(0.025, costs=(0.0, 1.0), strategies=("eager",))
    assert [(r.part, r.policy) for r in runs] == [
        (1, "none"), (1, "name-list"), (1, "age"), (1, "name-list"), (1, "age"),
        (2, "none"), (2, "name-list"), (2, "age"),
    ]  # fmt: skip
    for run in runs:
        assert run.result.mean_delay_s >= -1e-9
        assert run.result.processes == runs[0].result.processes > 0
    assert runs[0].result.frac_migrated == 0.0
    text = render_rows(rows(runs))
    assert "age, cost 1 s: mean slowdown" in text and "Sun-3 costs, eager" in text
    assert not math.isnan(runs[2].result.mean_slowdown)
