"""Small tools that keep a kernel message down to a handful of simpy events.

A :class:`Later` is an event that the kernel triggers after a delay decided after it was
made: a piece of kernel work waiting for the CPU is handed out as a ``Later`` at once and
scheduled when its turn comes, and a message's delivery event is the very event of the
last piece of kernel work it needs. One event where a timeout and an event were two.

:func:`drive` runs a generator of simpy events the way a simpy ``Process`` does, by
callbacks on the events it yields, but without the process's own start and end events:
a server handler that does not wait costs no event at all, and one that waits costs
only the events it waits on.

:func:`soon` is the one event by which something starts later at the same instant, as
a simpy ``Process`` does; :func:`hold_back` lets a step of a message that turns out not
to be delivered keep those waiting for the delivery waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy
from simpy.events import PENDING, URGENT, EventPriority

__all__ = ["LATE", "Later", "drive", "hold_back", "soon"]

#: The priority of a :class:`Later`: after every ordinary event due at the same instant.
#: The end of a piece of kernel work (and the delivery it completes) takes effect after
#: whatever else happens at that instant -- a network arrival, a timer -- as it did when
#: each of its consequences was a simpy process that started one event later; so that
#: simultaneous requests reach a CPU in the same order as before the message path was
#: made lean, and the same seed gives the same records.
LATE = EventPriority(2)


class Later(simpy.Event):
    """An event that succeeds a delay after :meth:`succeed_in` is called.

    Like simpy's ``Timeout`` it is scheduled once, with its delay; unlike a timeout, the
    delay starts when the kernel decides (the CPU becomes free, the last bit has left),
    and at its instant it comes after the ordinary events (:data:`LATE`).
    """

    def succeed_in(self, delay: float, value: Any = None) -> None:
        """Succeed with ``value`` ``delay`` seconds from now."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        self.env.schedule(self, LATE, delay)

    def fail_in(self, delay: float, exception: BaseException) -> None:
        """Fail with ``exception`` ``delay`` seconds from now."""
        if self._value is not PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = False
        self._value = exception
        self.env.schedule(self, LATE, delay)


#: Told how a driven generator ended: ``(True, its return value)`` or ``(False, the error)``.
Done = Callable[[bool, Any], None]


class _Driver:
    """Resumes one generator on the events it yields (simpy ``Process._resume``'s loop)."""

    __slots__ = ("_done", "_generator")

    def __init__(self, generator: Generator[simpy.Event, Any, Any], done: Done) -> None:
        self._generator = generator
        self._done = done

    def resume(self, event: simpy.Event) -> None:
        if event._ok:
            self.step(True, event._value)
        else:
            event._defused = True
            self.step(False, event._value)

    def step(self, ok: bool, value: Any) -> None:
        generator = self._generator
        while True:
            try:
                if ok:
                    event = generator.send(value)
                else:
                    # As simpy does: the generator gets its own copy of the exception.
                    error = type(value)(*value.args)
                    error.__cause__ = value
                    event = generator.throw(error)
            except StopIteration as stop:
                self._done(True, stop.value)
                return
            except Exception as error:
                self._done(False, error)
                return
            if event.callbacks is not None:
                event.callbacks.append(self.resume)
                return
            ok, value = event._ok, event._value  # already processed: go on at once
            if not ok:
                event._defused = True


def drive(generator: Generator[simpy.Event, Any, Any], done: Done) -> None:
    """Run ``generator`` from now on, resuming it when each event it yields is processed.

    It starts at once, inside the caller (not at a later event as a simpy ``Process``
    would); ``done`` is called with how it ended. An error the generator raises is
    handed to ``done``, never raised here.
    """
    _Driver(generator, done).step(True, None)


def soon(env: simpy.Environment) -> simpy.Event:
    """An event processed at this instant, after what the caller does next and before the
    ordinary events due now (simpy starts a ``Process`` with one such event)."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, URGENT)
    return event


def hold_back(
    callbacks: list[Callable[[simpy.Event], None]], step: Callable[..., None]
) -> list[Callable[[simpy.Event], None]]:
    """Take out of ``callbacks`` those after the one that is ``step`` (a :func:`partial` of it).

    Called by that callback while its event is processed (simpy calls an event's
    callbacks in the order of its list, which is ``callbacks``): the ones after it are
    not called now; the caller calls them later, with the event, when what they wait
    for has really happened.
    """
    here = next(
        i for i, callback in enumerate(callbacks) if getattr(callback, "func", None) == step
    )
    held = callbacks[here + 1 :]
    del callbacks[here + 1 :]
    return held
