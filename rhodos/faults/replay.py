"""Restarting a process from its checkpoint: the program it runs again.

A checkpoint stores the process's pages, a copy of its execution state and of its
communication state. Between the checkpoint and the crash the process went on: its
program yielded more actions (its :class:`~rhodos.kernel.Recorder` kept them with the
checkpoint), it took messages (each logged on stable storage before it took it:
pessimistic, receiver-based logging) and sent some (their receivers recognise the ones
they have by their sequence numbers). A deterministic program re-run from the
checkpoint with the logged messages does exactly what it did before the crash.

So a restarted process **runs that interval again**: every action yielded since the
checkpoint -- its computations on the CPU, its page references, its sends (with the
sequence numbers they had) and its receives (the logged messages, queued again for it in
the order it took them) -- then the part of the action in flight at the crash that it
had done, and then goes on with what was left of that action and the rest of its
program. The program's own code is not run again: a Python generator cannot be rewound,
so the recorded actions stand for it; the state the program ends in is the one the
re-run reaches, and the time the re-run costs is spent on the restarted node's CPU,
network and disk.

The *work lost* is the CPU-seconds done between the checkpoint and the crash; the
*work re-executed* is what the restarted process's CPU spent running that interval
again (the same, unless it crashed again before it finished).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import attrs

from rhodos.kernel import (
    Action,
    CheckpointImage,
    Compute,
    ExecutionContext,
    Recorder,
    Sleep,
    Touch,
)

__all__ = ["restart", "work_lost_s"]


def work_lost_s(image: CheckpointImage) -> float:
    """CPU-seconds ``image``'s process did after its checkpoint, up to its crash."""
    live = _recorder(image).context
    return max(0.0, live.cpu_seconds - image.cpu_seconds)


def restart(
    image: CheckpointImage, reexecuted: Callable[[float], None]
) -> tuple[ExecutionContext, CheckpointImage]:
    """The execution state to restart ``image``'s process with, and the image that stands
    for the restarted process from then on (the same checkpoint, with the actions the
    restarted process yields recorded from its start).

    ``reexecuted`` is told the CPU-seconds of each re-run action as it ends.
    """
    recorder = _recorder(image)
    checkpoint: ExecutionContext = image.context
    live = recorder.context
    done, pending, value = _interval(checkpoint, list(image.since), live)
    program = _replayed(
        done, pending, value, Recorder.unwrap(checkpoint.program), recorder, reexecuted
    )
    since = recorder.checkpoint()
    context = attrs.evolve(
        checkpoint, program=recorder.wrap(program), step=None, progress=None, value=None
    )
    recorder.context = context
    again = attrs.evolve(image, context=attrs.evolve(context), since=since)
    return context, again


def _recorder(image: CheckpointImage) -> Recorder:
    recorder = image.context.recorder
    if not isinstance(recorder, Recorder):
        raise TypeError(f"checkpoint of process {image.pid} has no recorder of its actions")
    return recorder


def _interval(
    checkpoint: ExecutionContext, since: list[Action], live: ExecutionContext
) -> tuple[list[Action], Action | None, Any]:
    """What the process did between ``checkpoint`` and the crash, as the actions to run
    again, the action left in flight (``None``: none), and the value its program waits
    for when nothing was in flight."""
    first = [] if checkpoint.step is None else [_remainder(checkpoint.step, checkpoint.progress)]
    sequence = first + since
    if not sequence:
        return [], None, checkpoint.value
    if live.step is None:  # the last action had ended: all of it is run again
        return sequence, None, None
    # The last action was in flight: what had been done of it is run again, then the rest.
    began = checkpoint.progress if not since else None
    done = _done(live.step, began, live.progress)
    return sequence[:-1] + done, _remainder(live.step, live.progress), None


def _remainder(step: Action, progress: float | int | None) -> Action:
    """What is left of ``step`` after ``progress``."""
    if progress is None:
        return step
    if isinstance(step, Compute):
        return Compute(float(progress))
    if isinstance(step, Sleep):
        return Sleep(float(progress))
    if isinstance(step, Touch):
        i = int(progress)
        return attrs.evolve(step, pages=step.pages[i:], writes=step.writes[i:])
    return step


def _done(step: Action, began: float | int | None, reached: float | int | None) -> list[Action]:
    """The part of ``step`` done between progress ``began`` and ``reached``."""
    if isinstance(step, Compute | Sleep):
        start = step.seconds if began is None else float(began)
        left = start if reached is None else float(reached)
        return [type(step)(start - left)] if start > left else []
    if isinstance(step, Touch):
        i = 0 if began is None else int(began)
        j = i if reached is None else int(reached)
        return [attrs.evolve(step, pages=step.pages[i:j], writes=step.writes[i:j])] if j > i else []
    return []  # a receive, a send or a call in flight had not happened: it runs again


def _replayed(
    done: list[Action],
    pending: Action | None,
    value: Any,
    program: Generator[Action, Any, None],
    recorder: Recorder,
    reexecuted: Callable[[float], None],
) -> Generator[Action, Any, None]:
    cpu = recorder.context.cpu_seconds
    for step in done:
        value = yield step
        now = recorder.context.cpu_seconds
        reexecuted(now - cpu)
        cpu = now
    if pending is not None:
        value = yield pending
    while True:
        try:
            step = program.send(value)
        except StopIteration:
            return
        value = yield step
