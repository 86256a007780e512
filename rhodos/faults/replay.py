"""Restarting a process from its checkpoint: the program it runs again.

A checkpoint stores the process's pages and execution state; between the checkpoint and
the crash the process went on, receiving messages that the recovery keeps in a message
log (pessimistic, receiver-based logging: every message is logged on the file server
before it is delivered), and sending messages that receivers recognise as duplicates by
their sequence numbers when they come again. Replayed from the checkpoint with the
logged messages, a deterministic program does exactly what it did before the crash.

The simulator does not run the lost interval again action by action: it charges its
CPU time -- the *work lost*, the CPU-seconds done between the checkpoint and the crash
-- as one computation, then continues the program where the crash stopped it. The end
state is the one the replay would reach; the time it costs is the time the replay's
computation costs.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs

from rhodos.kernel import Action, CheckpointImage, Compute, ExecutionContext, Sleep, Touch

__all__ = ["restarted_context", "work_lost_s"]


def work_lost_s(image: CheckpointImage) -> float:
    """CPU-seconds the process did after its checkpoint, up to its crash."""
    context: ExecutionContext = image.context
    return max(0.0, context.cpu_seconds - image.cpu_seconds)


def restarted_context(image: CheckpointImage) -> ExecutionContext:
    """A new execution state for ``image``'s process: first the replay of the work lost,
    then the step the crash interrupted (what was left of it), then the rest."""
    old: ExecutionContext = image.context
    pending = None if old.step is None else _remainder(old.step, old.progress)
    program = _replayed(work_lost_s(image), pending, old.value, old.program)
    return ExecutionContext(
        pid=old.pid,
        home=old.home,
        program=program,
        cpu_seconds=image.cpu_seconds,
        faults=old.faults,
        remote_faults=old.remote_faults,
        fault_stall_s=old.fault_stall_s,
        messages_sent=old.messages_sent,
        messages_received=old.messages_received,
        home_calls=old.home_calls,
        home_call_s=old.home_call_s,
    )


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


def _replayed(
    lost_s: float, pending: Action | None, value: Any, program: Generator[Action, Any, None]
) -> Generator[Action, Any, None]:
    if lost_s > 0:
        yield Compute(lost_s)
    if pending is not None:
        value = yield pending
    while True:
        try:
            step = program.send(value)
        except StopIteration:
            return
        value = yield step
