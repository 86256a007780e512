"""The event log: every kernel and server event, with the simulated time bound in.

The log is the single source for determinism checks (same seed, same config ->
identical log), for trace export and for structlog output. Recording is a tuple append;
listeners (a structlog bridge, a trace exporter) subscribe to the same events.

By default the kernel logs the messages that cross the network (``network`` ``send`` and
``arrive``); the CPU's busy intervals (``cpu`` ``kernel``, one per piece of kernel work)
only while a listener is subscribed (:attr:`EventLog.listened`). A listener that draws
who asked whom (a message-sequence chart) turns on :attr:`EventLog.messages` before the
run: the kernel then also logs every message
between two servers of one node (``kernel`` ``local``), and each message names the port
it goes to, the server or port owner there (``to``) and, for a request, the port its
answer will come to (``reply_to``), so that every reply is paired with its request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import simpy
import structlog

__all__ = ["EventLog", "LogEvent", "structlog_listener"]


@attrs.frozen
class LogEvent:
    """One event: when, where, which component, what, and its fields (sorted name/value pairs)."""

    time: float
    node: int
    component: str
    event: str
    fields: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The event as a flat dict, as structlog and JSON lines want it."""
        return {
            "sim_time": self.time,
            "node": self.node,
            "component": self.component,
            "event": self.event,
            **dict(self.fields),
        }


Listener = Callable[[LogEvent], None]


class EventLog:
    """An append-only list of :class:`LogEvent` with subscribers."""

    def __init__(self, env: simpy.Environment, *, keep: bool = True) -> None:
        self._env = env
        self._keep = keep
        self._events: list[LogEvent] = []
        self._listeners: list[Listener] = []
        #: Log every kernel message, local ones too, with its addressing (off: the
        #: network's messages only).
        self.messages = False

    def record(self, node: int, component: str, event: str, **fields: Any) -> None:
        """Record ``event`` of ``component`` on ``node`` at the current simulated time."""
        if not self._keep and not self._listeners:
            return
        entry = LogEvent(self._env.now, node, component, event, tuple(sorted(fields.items())))
        if self._keep:
            self._events.append(entry)
        for listener in self._listeners:
            listener(entry)

    @property
    def listened(self) -> bool:
        """Whether a listener is subscribed (a trace, a console, a checker).

        The most numerous events, one per piece of kernel work (``cpu`` ``kernel``: the
        CPU lane of a trace), are recorded only then: nothing else reads them, and
        recording them would cost more than the work they describe.
        """
        return bool(self._listeners)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every later event."""
        self._listeners.append(listener)

    def __iter__(self) -> Iterator[LogEvent]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def select(self, event: str | None = None, component: str | None = None) -> list[LogEvent]:
        """The recorded events with this name and/or component."""
        return [
            e
            for e in self._events
            if (event is None or e.event == event)
            and (component is None or e.component == component)
        ]


def structlog_listener(logger: Any | None = None) -> Listener:
    """A listener that emits every event through structlog (JSON lines or console)."""
    log = logger if logger is not None else structlog.get_logger("rhodos")

    def emit(entry: LogEvent) -> None:
        log.info(entry.event, **{k: v for k, v in entry.as_dict().items() if k != "event"})

    return emit
