"""The checks of a finished run that need no oracle: cheap enough for every comparison.

:func:`audit_run` reads, once a run has ended, its migration record and the servers'
final state (through their read-only snapshots, as every checker does):

* the record's metric invariants: freeze <= latency <= total, bytes on the network >=
  the execution state, no residual time for a strategy that promises none
  (:func:`~rhodos.testing.check_record`);
* nothing of the process left on the source, and no page of it located there
  (:func:`~rhodos.testing.check_record` given the cluster);
* no IPC Manager counted a duplicate or dropped a message (:func:`~rhodos.testing.check_ipc`);
* every process ended, and no server holds anything of it any more, frames included
  (:func:`~rhodos.testing.check_quiescent`).

They cost a scan of the servers' tables and of the event log, milliseconds for a run
that took seconds, so ``rhodos compare`` runs them on every record it prints. What must
watch the run as it goes -- one location at every instant, every page's contents
against what was written, messages in order per channel -- needs a monitor on every
kernel event and programs that record what they did: that is the conformance suite's
(:func:`~rhodos.testing.check_strategy`), not something to pay on every comparison.
"""

from __future__ import annotations

from typing import Any

from rhodos.kernel import Cluster
from rhodos.migration_manager import MigrationRecord
from rhodos.testing.checks import check_ipc, check_quiescent, check_record

__all__ = ["AUDITED", "audit_run"]

#: What :func:`audit_run` checks, in words (as ``rhodos compare`` says it).
AUDITED = (
    "freeze <= latency <= total",
    "bytes >= state",
    "residual promise kept",
    "nothing left on the source",
    "no message lost or duplicated",
    "every process ended and released",
)


def audit_run(cluster: Cluster, record: MigrationRecord, strategy_cls: type[Any]) -> list[str]:
    """The violations found in the finished run ``cluster`` of migration ``record``
    (made by ``strategy_cls``); empty: all of :data:`AUDITED` holds."""
    out = check_record(record, strategy_cls, cluster)
    out += check_ipc(cluster)
    out += check_quiescent(cluster, sorted(cluster.location_of))
    return out
