"""Small helpers the load-sharing tests share: boot a cluster, give it policies, exec jobs."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import attrs
import simpy

from rhodos.kernel import Cluster, ClusterConfig, Layout, MachineProfile, load_profile
from rhodos.load import Settings, policy_settings
from rhodos.load.requests import Exec
from rhodos.load.run import configure, ideal_profile
from rhodos.load.workload import job
from rhodos.migration_manager import make_strategy
from rhodos.system import boot
from rhodos.workload import ProgramContext


def load_cluster(
    nodes: int,
    settings: Settings | str,
    *,
    cost: str = "zero",
    architectures: Sequence[str] | None = None,
    seed: int = 0,
    profile: str | MachineProfile = "sun3-ethernet",
    **knobs: Any,
) -> Cluster:
    """A booted cluster whose Load Managers run ``settings`` (or the preset of that name)."""
    if isinstance(settings, str):
        settings = policy_settings(settings, strategy=make_strategy("eager"), **knobs)
    machine = profile if isinstance(profile, MachineProfile) else load_profile(profile)
    if cost == "zero":
        machine = ideal_profile(machine)
    config = ClusterConfig(
        nodes=nodes,
        profile=machine,
        seed=seed,
        architectures=tuple(architectures) if architectures is not None else None,
        keep_log=False,
    )
    cluster = boot(config)
    configure(cluster, settings)
    return cluster


@attrs.define
class Job:
    """One exec: when, on which node, how much CPU; its pid and the Load Manager's answer."""

    at: float
    node: int
    cpu_s: float
    pid: int = 0
    placed: Any = None


def exec_jobs(cluster: Cluster, jobs: Sequence[Job], *, pages_bytes: int = 0) -> simpy.Event:
    """Exec ``jobs`` at their times from their nodes' users; the event of all of them exiting."""
    layout = Layout.from_bytes(pages_bytes, cluster.profile.page_size_bytes)
    for item in jobs:
        item.pid = cluster.new_pid()

    def users() -> Generator[simpy.events.Event, Any, None]:
        for item in sorted(jobs, key=lambda j: j.at):
            if item.at > cluster.now:
                yield cluster.env.timeout(item.at - cluster.now)
            node = cluster.node(item.node)
            request = Exec(item.pid, "job", job(item.cpu_s), layout, node.architecture)
            item.placed = node.submit("load", request)

    cluster.env.process(users())
    return cluster.env.all_of([cluster.exit_event(item.pid) for item in jobs])


def exec_program(
    cluster: Cluster, program: Any, node: int, *, peers: dict[str, int] | None = None
) -> tuple[int, simpy.Process]:
    """A user of ``node`` execs ``program`` (a workload program or an oracle) through the
    node's Load Manager, which places it; the pid and the event of the Load Manager's answer."""
    pid = cluster.new_pid()
    layout = Layout.from_bytes(program.memory_bytes, cluster.profile.page_size_bytes)
    context = ProgramContext(
        pid=pid,
        rng=cluster.rng("program", pid),
        layout=layout,
        page_size=cluster.profile.page_size_bytes,
        peers=dict(peers or {}),
        instructions_per_s=cluster.profile.instructions_per_s,
    )
    target = cluster.node(node)
    request = Exec(pid, program.name, program.run(context), layout, target.architecture)
    return pid, target.submit("load", request)
