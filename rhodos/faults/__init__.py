"""Failures in the simulated system: crashes, their detection, checkpoints and recovery.

A node crash (:meth:`~rhodos.kernel.Cluster.crash`) loses the node's memory, its
processes and its queued and in-flight messages; a recovery brings it back empty. The
kernels learn of a crash by timeouts (:mod:`rhodos.kernel.failure`); the recovery manager
(:mod:`~rhodos.faults.recovery`) by heartbeats, and restarts the crashed node's processes
from their last checkpoint. The :class:`FaultInjector` crashes nodes as a
:class:`FaultPlan` says. See ``docs/fault-tolerance.md``.
"""

from rhodos.faults.injector import CrashEvent, FaultInjector
from rhodos.faults.plan import TARGETS, Crash, FaultPlan, PhaseCrash, RandomFailures, Shutdown
from rhodos.faults.recovery import Journal, RecoveryManager
from rhodos.faults.replay import restart, work_lost_s

__all__ = [
    "TARGETS",
    "Crash",
    "CrashEvent",
    "FaultInjector",
    "FaultPlan",
    "Journal",
    "PhaseCrash",
    "RandomFailures",
    "RecoveryManager",
    "Shutdown",
    "restart",
    "work_lost_s",
]
