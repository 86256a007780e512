"""Logging a run: the event log through structlog, with the simulated time bound in.

Every event the kernel and the servers record (:class:`~rhodos.kernel.LogEvent`) can be
written as a structlog event: ``sim_time`` (simulated seconds), ``node``,
``component`` (the server's role, ``kernel``, ``network``, ``cpu``, ``thread``),
``event`` and the event's own fields, plus ``run``: the label of the run (the strategy,
or ``"baseline"``). Two outputs, one processor chain each:

* :func:`console_logger` -- readable lines (``structlog.dev.ConsoleRenderer``), to
  standard error for ``rhodos -v``;
* :func:`json_logger` -- one JSON object per line (``structlog.processors.JSONRenderer``),
  for ``rhodos --log-json FILE``.

:class:`EventLogger` is an :data:`~rhodos.experiment.Observer`: pass it as ``observe=``
and every cluster the experiment runs is logged. Nothing is logged -- and nothing is
paid -- unless an observer subscribes. :func:`capture` collects the events as dicts, for
tests (like ``structlog.testing.capture_logs``)::

    with capture() as logs:
        run_migration(scenario, "eager", observe=logs.observe)
    assert logs[0]["event"] == "spawn"

The processors are plain callables ``(logger, method_name, event_dict) -> event_dict``.
"""

from __future__ import annotations

import enum
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import structlog
from structlog.typing import EventDict, Processor

from rhodos.kernel import structlog_listener

if TYPE_CHECKING:
    from rhodos.kernel import Cluster

__all__ = [
    "Captured",
    "EventLogger",
    "capture",
    "configure",
    "console_logger",
    "json_logger",
    "lead_keys",
    "plain",
    "sim_timestamp",
    "to_builtin",
]

#: The keys every line starts with, in this order; the event's own fields follow, sorted.
LEAD_KEYS = ("event", "sim_time", "run", "node", "component")


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays become Python numbers and
    lists, NaN and infinities ``None``, tuples and sets lists, enums their value; anything
    else that JSON cannot hold becomes its ``str``."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [plain(v) for v in items]
    return str(value)


def to_builtin(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: every value as plain JSON data (see :func:`plain`)."""
    return {key: plain(value) for key, value in event_dict.items()}


def lead_keys(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: :data:`LEAD_KEYS` first, then the event's fields in name order."""
    ordered = {key: event_dict[key] for key in LEAD_KEYS if key in event_dict}
    ordered.update(sorted((k, v) for k, v in event_dict.items() if k not in ordered))
    return ordered


def sim_timestamp(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Processor: show ``sim_time`` as the line's timestamp (``t=0.504257s``)."""
    if "sim_time" in event_dict:
        event_dict["timestamp"] = f"t={event_dict.pop('sim_time'):.6f}s"
    return event_dict


def json_processors() -> list[Processor]:
    """The chain of :func:`json_logger`."""
    return [to_builtin, lead_keys, structlog.processors.JSONRenderer()]


def console_processors(colors: bool = False) -> list[Processor]:
    """The chain of :func:`console_logger`."""
    return [
        to_builtin,
        lead_keys,
        sim_timestamp,
        structlog.dev.ConsoleRenderer(colors=colors, sort_keys=False),
    ]


def json_logger(stream: TextIO) -> Any:
    """A structlog logger writing one JSON object per event to ``stream``."""
    return structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=json_processors(),
        wrapper_class=structlog.BoundLogger,
        context_class=dict,
    )


def console_logger(stream: TextIO | None = None, *, colors: bool | None = None) -> Any:
    """A structlog logger writing readable lines to ``stream`` (standard error).

    Colours are on when the stream is a terminal, unless ``colors`` says otherwise.
    """
    stream = sys.stderr if stream is None else stream
    if colors is None:
        colors = stream.isatty()
    return structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=console_processors(colors),
        wrapper_class=structlog.BoundLogger,
        context_class=dict,
    )


class EventLogger:
    """An Observer: every event of each cluster it sees goes to its structlog loggers.

    Each cluster's events are bound with ``run=label``.
    """

    def __init__(self, *loggers: Any) -> None:
        self.loggers = loggers

    def observe(self, label: str, cluster: Cluster) -> None:
        """Subscribe the loggers to ``cluster``'s event log."""
        for logger in self.loggers:
            cluster.log.subscribe(structlog_listener(logger.bind(run=label)))

    __call__ = observe


def configure(*, verbose: bool = False, json_file: TextIO | None = None) -> EventLogger | None:
    """The observer of the command line's ``-v`` and ``--log-json``; ``None`` when neither."""
    loggers = []
    if verbose:
        loggers.append(console_logger())
    if json_file is not None:
        loggers.append(json_logger(json_file))
    return EventLogger(*loggers) if loggers else None


class Captured(list[EventDict]):
    """The events captured by :func:`capture`, as the dicts a JSON line holds."""

    def __init__(self) -> None:
        super().__init__()
        self.active = True

    def _keep(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        if self.active:
            self.append(event_dict)
        raise structlog.DropEvent

    def observe(self, label: str, cluster: Cluster) -> None:
        """An Observer: capture every event of ``cluster`` (bound with ``run=label``)."""
        logger = structlog.wrap_logger(
            None,
            processors=[to_builtin, lead_keys, self._keep],
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
        )
        EventLogger(logger).observe(label, cluster)

    __call__ = observe


@contextmanager
def capture() -> Iterator[Captured]:
    """Capture, as dicts, the events of every cluster observed with ``.observe`` inside."""
    captured = Captured()
    try:
        yield captured
    finally:
        captured.active = False
