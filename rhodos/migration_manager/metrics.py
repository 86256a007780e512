"""The metrics of a migration: one list, read by everything that shows or stores them.

Each :class:`Metric` names a column of a :class:`~rhodos.migration_manager.MigrationRecord`'s
row (``record.metrics()``), in row order, with its unit and what it measures; the
definitions are those of :mod:`rhodos.migration_manager.record` (and DESIGN.md). The
result files take their columns from it, the sweep summary its means and confidence
intervals, the tables and the plots their headings, ``rhodos sweep --metric`` its
choices. :data:`COMPARED` are the metrics that compare strategies: those the summaries,
tables and plots offer.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from rhodos.validators import did_you_mean

__all__ = ["COMPARED", "FILE_METRICS", "METRICS", "Metric", "compared", "metric"]

#: Units whose values count things (their means need one decimal at most).
COUNT_UNITS = ("bytes", "messages", "faults", "calls", "files", "blocks")


@attrs.frozen
class Metric:
    """One measured quantity of a migration."""

    #: The row's column and the record's attribute: ``freeze_s``.
    name: str
    #: ``s``, ``bytes``, ``messages``, ``faults``, ``calls``, ``pages``, ``files``,
    #: ``blocks``, or ``""`` (a ratio).
    unit: str
    #: What it measures, in one sentence.
    description: str
    #: How a figure titles it: ``freeze time``.
    label: str = ""
    #: How a narrow table heads it (before its unit): ``freeze``.
    column: str = ""
    #: A strategy comparison shows it (summaries, tables, plots).
    compared: bool = False

    @property
    def is_count(self) -> bool:
        """Its values count things (bytes, messages, faults, calls)."""
        return self.unit in COUNT_UNITS


#: Every metric of a record's row, in row order (after who migrated what where, before
#: ``refused``).
METRICS: tuple[Metric, ...] = (
    Metric(
        "latency_s",
        "s",
        "Request accepted -> process runs again on the destination.",
        "latency",
        "latency",
        compared=True,
    ),
    Metric(
        "freeze_s",
        "s",
        "Process stops executing -> process runs again.",
        "freeze time",
        "freeze",
        compared=True,
    ),
    Metric(
        "message_freeze_s",
        "s",
        "How long a message sent to the process could be neither received nor queued "
        "where it will run (from the hold or the freeze to the state's installation).",
        "message freeze time",
        "msg freeze",
        compared=True,
    ),
    Metric(
        "message_delay_max_s",
        "s",
        "The longest extra delay a message sent to the process suffered from the migration.",
        "longest message delay",
        "max msg delay",
    ),
    Metric(
        "message_delay_mean_s",
        "s",
        "The mean extra delay of the messages the migration delayed (0 if none was).",
        "mean message delay",
        "mean msg delay",
    ),
    Metric(
        "messages_delayed",
        "messages",
        "Messages the migration delayed (held, queued where the process no longer runs, "
        "or forwarded).",
    ),
    Metric(
        "total_s",
        "s",
        "Request -> the source holds nothing the process needs.",
        "total time",
        "total",
        compared=True,
    ),
    Metric(
        "residual_s",
        "s",
        "Resume -> the last dependency on the source ends.",
        "residual dependency",
        "residual",
        compared=True,
    ),
    Metric(
        "bytes_total",
        "bytes",
        "Migration bytes on the network, every cost kind.",
        "bytes moved",
        "bytes",
        compared=True,
    ),
    Metric(
        "messages_total",
        "messages",
        "Migration messages on the network, every cost kind.",
        "messages",
        "msgs",
        compared=True,
    ),
    Metric("state_bytes", "bytes", "Bytes of execution and communication state moved."),
    Metric("pages_bytes", "bytes", "Bytes of pages moved (the 'pages' traffic kind)."),
    Metric("flush_bytes", "bytes", "Bytes flushed to the file server (the 'flush' kind)."),
    Metric(
        "remote_faults",
        "faults",
        "Page faults resolved across the network after the resume.",
        "remote faults",
        "remote faults",
        compared=True,
    ),
    Metric(
        "stall_s",
        "s",
        "Time the process waited for its remote faults.",
        "stall",
        "stall",
        compared=True,
    ),
    Metric("home_calls", "calls", "Location-dependent calls the process made to its home node."),
    Metric("home_call_s", "s", "Time the process spent in calls to its home node."),
    Metric("home_bytes", "bytes", "Bytes of the process's calls to its home node."),
    Metric("messages_held", "messages", "Messages held at the source during the migration."),
    Metric("rounds", "pages", "Pages sent in each precopy round, in order."),
    Metric(
        "slowdown",
        "",
        "The migrated process's completion time over the same run's without migration.",
        "slowdown",
        "slowdown",
        compared=True,
    ),
)

#: The metrics of a process's open files, after :data:`METRICS` in the rows of runs whose
#: processes have files (``--open-files``): a run without files has no such columns.
FILE_METRICS: tuple[Metric, ...] = (
    Metric("files_moved", "files", "Open files moved to the destination's File Manager."),
    Metric(
        "file_blocks_flushed",
        "blocks",
        "Dirty file blocks the migration wrote back to the file server.",
    ),
    Metric("file_blocks_moved", "blocks", "Dirty file blocks sent to the destination's cache."),
)

#: The metrics that compare strategies, in row order: what the sweep summarises.
COMPARED: tuple[str, ...] = tuple(m.name for m in METRICS if m.compared)

_BY_NAME = {m.name: m for m in METRICS + FILE_METRICS}


def metric(name: str) -> Metric:
    """The metric called ``name`` (``KeyError`` when there is none)."""
    return _BY_NAME[name]


def compared(names: Iterable[str]) -> tuple[Metric, ...]:
    """The compared metrics called ``names``, in that order.

    Raises:
        ValueError: a name is not a compared metric (the message suggests the nearest
            and lists them all).
    """
    chosen = []
    for name in names:
        if name not in COMPARED:
            raise ValueError(
                f"unknown metric {name!r}{did_you_mean(name, COMPARED)}; "
                f"metrics are: {', '.join(COMPARED)}"
            )
        chosen.append(_BY_NAME[name])
    return tuple(chosen)
