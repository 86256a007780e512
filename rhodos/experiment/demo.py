"""The demonstration run: a mixed workload on a small cluster, summarised per node and process."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from rhodos.kernel import ClusterConfig
from rhodos.process_manager import ProcessSnapshot
from rhodos.system import boot, processes
from rhodos.workload import make_workload

__all__ = ["DemoResult", "NodeSummary", "run_demo"]


@attrs.frozen
class NodeSummary:
    """What one node did during a run."""

    node: int
    kind: str
    architecture: str
    cpu_user_s: float
    cpu_kernel_s: float
    utilisation: float
    processes: int
    faults: int
    messages_sent: int
    messages_delivered: int
    messages_forwarded: int


@attrs.frozen
class DemoResult:
    """Per-node and per-process summaries, and network totals, of one run."""

    config: ClusterConfig
    end_time: float
    nodes: tuple[NodeSummary, ...]
    processes: tuple[ProcessSnapshot, ...]
    network_bytes: dict[str, int]
    network_messages: dict[str, int]


#: The default mix: (workload name, parameters, node offsets into the cluster).
DEFAULT_MIX: tuple[tuple[str, dict[str, object], tuple[int, ...]], ...] = (
    ("cpu-bound", {"processes": 2, "cpu_seconds": 2.0}, (0,)),
    ("memory-writer", {"dirty_rate": 50.0, "cpu_seconds": 2.0}, (1,)),
    ("pingpong", {"rounds": 100}, (2, 3)),
    ("server", {"clients": 3, "requests": 25}, (3, 0, 1, 2)),
)


def run_demo(
    config: ClusterConfig | None = None,
    *,
    mix: Sequence[tuple[str, dict[str, object], tuple[int, ...]]] = DEFAULT_MIX,
    until: float | None = None,
) -> DemoResult:
    """Run the workload ``mix`` on a cluster and summarise it."""
    config = config or ClusterConfig()
    cluster = boot(config)
    n = config.nodes
    for name, params, offsets in mix:
        make_workload(name, **params).start(cluster, [o % n for o in offsets])
    cluster.run(until=until)
    end = cluster.now
    snaps = tuple(processes(cluster))
    summaries = []
    for node in cluster.all_nodes:
        cpu = node.cpu.statistics()
        mem = node.statistics("memory")
        comm = node.statistics("ipc")
        summaries.append(
            NodeSummary(
                node=node.node_id,
                kind=node.kind,
                architecture=node.architecture,
                cpu_user_s=cpu.user_seconds,
                cpu_kernel_s=cpu.kernel_seconds,
                utilisation=(cpu.user_seconds + cpu.kernel_seconds) / end if end > 0 else 0.0,
                processes=sum(1 for s in snaps if s.home == node.node_id),
                faults=(mem.faults_local + mem.faults_remote + mem.faults_file) if mem else 0,
                messages_sent=comm.sent if comm else 0,
                messages_delivered=comm.delivered if comm else 0,
                messages_forwarded=comm.forwarded if comm else 0,
            )
        )
    stats = cluster.network.statistics()
    return DemoResult(
        config=config,
        end_time=end,
        nodes=tuple(summaries),
        processes=snaps,
        network_bytes=dict(stats.bytes_by_kind),
        network_messages=dict(stats.messages_by_kind),
    )
