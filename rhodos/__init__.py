"""rhodos: a simulated microkernel distributed operating system, for studying process migration.

In the spirit of RHODOS (Deakin University, 1990s), a process is not one object but a
set of resources, each owned by a server that runs on every node: its state by the
Process Manager, its address space by the Memory Manager, its ports and messages by the
IPC Manager. To migrate a process, the Migration Manager asks each server to move its
resource to its peer on the destination, in the order and at the time a *strategy*
says (eager copy, precopy, copy-on-reference, flushing, freeze-free, postcopy...).
Everything happens in simulated time (simpy), on machines described by calibrated
profiles of the classic papers' hardware, and every migration is measured the way the
literature measured it (:class:`MigrationRecord`).

The package, layer by layer from the bottom:

* :mod:`rhodos.kernel` -- the microkernel and the hardware: cluster, nodes, CPU,
  network, ports and messages, machine profiles;
* the servers -- :mod:`rhodos.process_manager`, :mod:`rhodos.memory_manager`,
  :mod:`rhodos.ipc_manager` and :mod:`rhodos.migration_manager` (with its strategies);
* :mod:`rhodos.system` -- boots a cluster with its servers and starts programs on it;
* :mod:`rhodos.workload` -- the programs processes run and the named workloads;
* :mod:`rhodos.experiment` -- scenarios, comparisons, sweeps, results, plots, traces,
  the reproduced papers;
* :mod:`rhodos.cli` -- the ``rhodos`` command.

The names below are the public API. Each is imported when first used, so that
``import rhodos`` (and ``rhodos --help``) stays quick::

    from rhodos import Scenario, compare

    for record in compare(Scenario(profile="sparc-ethernet", memory_bytes="4MiB")):
        print(record.strategy, record.freeze_s, record.total_s)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rhodos.experiment import (
        Scenario,
        SweepConfig,
        TraceRecorder,
        compare,
        run_migration,
        run_sweep,
    )
    from rhodos.kernel import (
        Cluster,
        ClusterConfig,
        Compute,
        Exit,
        HomeCall,
        MachineProfile,
        Receive,
        Send,
        Sleep,
        Touch,
        builtin_profiles,
        load_profile,
    )
    from rhodos.migration_manager import (
        BaseStrategy,
        MigrationRecord,
        Session,
        Steps,
        make_strategy,
        register,
        registered,
    )
    from rhodos.system import boot, migrate, spawn
    from rhodos.workload import (
        WORKLOADS,
        Program,
        ProgramContext,
        ReferenceModel,
        make_workload,
    )

#: The layers that export the public names, searched bottom up.
_LAYERS = (
    "rhodos.kernel",
    "rhodos.migration_manager",
    "rhodos.system",
    "rhodos.workload",
    "rhodos.experiment",
)

__all__ = [
    "WORKLOADS",
    "BaseStrategy",
    "Cluster",
    "ClusterConfig",
    "Compute",
    "Exit",
    "HomeCall",
    "MachineProfile",
    "MigrationRecord",
    "Program",
    "ProgramContext",
    "Receive",
    "ReferenceModel",
    "Scenario",
    "Send",
    "Session",
    "Sleep",
    "Steps",
    "SweepConfig",
    "Touch",
    "TraceRecorder",
    "boot",
    "builtin_profiles",
    "compare",
    "load_profile",
    "make_strategy",
    "make_workload",
    "migrate",
    "register",
    "registered",
    "run_migration",
    "run_sweep",
    "spawn",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its layer when it is first asked for."""
    if name in __all__:
        for layer in _LAYERS:
            module = importlib.import_module(layer)
            if name in module.__all__:
                value = getattr(module, name)
                globals()[name] = value  # asked once: later lookups do not come here
                return value
    raise AttributeError(f"module 'rhodos' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
