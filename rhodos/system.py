"""Boot a cluster with its servers, and start programs on it.

The kernel knows no server; this module is where the system is assembled: every
compute node runs a Process Manager, a Memory Manager, an IPC Manager, a Migration
Manager and a Load Manager, every file-server node runs the file server. It talks to
the servers as the operator's console would: by request
(:class:`~rhodos.process_manager.requests.Spawn`,
:class:`~rhodos.migration_manager.requests.Migrate`), and it observes them through
their frozen statistics.
"""

from __future__ import annotations

from typing import Any

import attrs
import simpy

from rhodos.ipc_manager import IPCManager
from rhodos.kernel import Cluster, ClusterConfig, ConfigError, FileServer, Node, OutOfMemory
from rhodos.load import LoadManager
from rhodos.memory_manager import MemoryManager
from rhodos.migration_manager import Migrate, MigrationManager, MigrationRecord, make_strategy
from rhodos.process_manager import ProcessManager, ProcessSnapshot, ProcessStatistics
from rhodos.process_manager.requests import Spawn
from rhodos.workload.program import Program, ProgramContext, layout_for

__all__ = ["SERVERS", "boot", "migrate", "processes", "spawn"]

#: The servers every compute node runs, in start order.
SERVERS: tuple[type[Any], ...] = (
    ProcessManager,
    MemoryManager,
    IPCManager,
    MigrationManager,
    LoadManager,
)


def boot(config: ClusterConfig | None = None, **overrides: Any) -> Cluster:
    """A cluster with every server running; ``overrides`` vary the config's fields."""
    config = attrs.evolve(config or ClusterConfig(), **overrides)
    return Cluster(config, node_servers=SERVERS, file_server=FileServer)


def spawn(
    cluster: Cluster,
    program: Program,
    node: int = 0,
    *,
    name: str | None = None,
    peers: dict[str, int] | None = None,
    pid: int | None = None,
) -> tuple[int, simpy.Event]:
    """Start ``program`` as a new process on ``node``.

    Returns the pid at once and the event of the Process Manager's reply (the process
    exists once it fires). The program's random stream is spawned from the cluster's
    seed under the pid, so it does not depend on what else runs.
    """
    target: Node = cluster.node(node)
    layout = layout_for(program, cluster.profile.page_size_bytes)
    if target.kind != "compute":
        raise ConfigError(f"node {node} is a {target.kind}; programs run on compute nodes")
    if layout.pages > target.frames_free:
        raise OutOfMemory(
            f"cannot start {name or program.name!r} on node {node}: it needs {layout.pages} "
            f"page frames ({program.memory_bytes:,} bytes), {target.frames_free} are free of "
            f"{target.frames_total}"
        )
    pid = cluster.new_pid() if pid is None else pid
    context = ProgramContext(
        pid=pid,
        rng=cluster.rng("program", pid),
        layout=layout,
        page_size=cluster.profile.page_size_bytes,
        peers=dict(peers or {}),
        instructions_per_s=cluster.profile.instructions_per_s,
    )
    generator = program.run(context)
    done = target.call(
        target.role_port("process"), Spawn(pid, name or program.name, generator, layout)
    )
    return pid, done


def processes(cluster: Cluster) -> list[ProcessSnapshot]:
    """A snapshot of every process of the cluster (running, frozen or exited), by pid.

    It reads the Process Managers' frozen statistics: asking them by message would cost
    simulated time and run the simulation on, after the run it describes.
    """
    seen: dict[int, ProcessSnapshot] = {}
    for node in cluster.nodes:
        stats: ProcessStatistics | None = node.statistics("process")
        if stats is None:
            continue
        for snap in stats.processes:
            current = seen.get(snap.pid)
            if current is None or snap.state != "exited" or current.state == "exited":
                seen[snap.pid] = snap
    return [seen[pid] for pid in sorted(seen)]


def migrate(cluster: Cluster, pid: int, dest: int, strategy: str, **params: Any) -> simpy.Process:
    """Ask the Migration Manager of the node where ``pid`` lives to move it to ``dest``.

    The event's value is the :class:`MigrationRecord` (a refusal is a record too). An
    unknown strategy or parameter raises at once (bad input); everything that depends
    on the cluster's state is a refusal in the record. The request comes from outside
    the simulated machines, so it reaches the Migration Manager at no simulated cost
    (:meth:`~rhodos.kernel.Node.submit`).
    """
    chosen = make_strategy(strategy, **params)
    where = cluster.location_of.get(pid)
    node = cluster.node(where if where is not None else 0)
    return node.submit("migration", Migrate(pid, dest, chosen))


__all__ += ["MigrationRecord"]
