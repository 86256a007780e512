"""The kernel's thread: runs a program's actions on the node where the process is.

A thread executes one action at a time. Computing shares the CPU; touching pages goes
through the node's MMU view of the address space (:class:`~rhodos.kernel.node.Pager`)
and traps to the Memory Manager at the first page that is not resident; sending,
receiving and location-dependent calls are requests to the node's IPC Manager and
Process Manager. The thread knows its node only through the kernel's naming service,
so after a migration the same program continues on another node, unaware.

A thread can be *frozen* for migration: it stops at the next preemption point -- in
the middle of a computation (keeping the CPU time still owed), between two page faults,
while blocked in a receive, or while sleeping -- and hands over its
:class:`ExecutionContext`: the program's continuation, the step in flight and its
accounting. Installing that context on another node continues the program exactly
where it stopped.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from typing import Any, cast

import simpy

from rhodos.kernel.actions import Action, Compute, Exit, HomeCall, Receive, Send, Sleep, Touch
from rhodos.kernel.context import ExecutionContext
from rhodos.kernel.later import drive
from rhodos.kernel.message import Message, RequestFailed
from rhodos.kernel.node import Node
from rhodos.kernel.traps import (
    CancelReceive,
    HomeService,
    PageFault,
    ReceiveMessage,
    SendMessage,
    ThreadExited,
)

__all__ = ["LOST_EXIT_CODE", "Thread", "ThreadState"]

#: The exit code of a process the kernel could not run on (a server failed one of its
#: traps): it is reported lost.
LOST_EXIT_CODE = -1


class ThreadState(enum.Enum):
    """Where a thread is in its life."""

    RUNNING = "running"
    FROZEN = "frozen"
    EXITED = "exited"


class _Frozen(Exception):
    """Raised inside the thread to unwind to the freeze point."""


class Thread:
    """Runs one process's program on one node until it exits or is frozen."""

    def __init__(self, node: Node, context: ExecutionContext) -> None:
        self.node = node
        self.env: simpy.Environment = node.env
        self.context = context
        self.state = ThreadState.RUNNING
        self._freeze = self.env.event()
        #: Fires when the thread stops running here: value is the context when frozen,
        #: ``None`` when the program exited.
        self.stopped = self.env.event()
        node.threads[context.pid] = self
        drive(self._run(), self._ended)  # it starts at once, as the kernel dispatches it

    @property
    def pid(self) -> int:
        """The process this thread runs."""
        return self.context.pid

    def freeze(self) -> simpy.Event:
        """Ask the thread to stop at its next preemption point; returns :attr:`stopped`."""
        if not self._freeze.triggered and self.state is ThreadState.RUNNING:
            self._freeze.succeed()
        return self.stopped

    @staticmethod
    def _ended(ok: bool, error: Any) -> None:
        if not ok:  # a defect in the kernel or a program: stop the run, loudly
            raise error

    # -- the loop ------------------------------------------------------------------
    def _run(self) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        try:
            while True:
                if self._freeze.triggered:
                    raise _Frozen
                if ctx.step is None:
                    try:
                        ctx.step = ctx.program.send(ctx.value)
                    except StopIteration:
                        ctx.step = Exit()
                    ctx.progress = None
                    ctx.value = None
                step = ctx.step
                if isinstance(step, Exit):
                    yield from self._exit(step)
                    return
                ctx.value = yield from self._execute(step)
                ctx.step = None
                ctx.progress = None
        except _Frozen:
            self.state = ThreadState.FROZEN
            self.node.threads.pop(ctx.pid, None)
            self._record("frozen")
            self.stopped.succeed(ctx)
        except RequestFailed as failed:  # a server could not serve a trap: it cannot go on
            yield from self._exit(Exit(LOST_EXIT_CODE), lost=str(failed))

    def _execute(self, step: Action) -> Generator[simpy.events.Event, Any, Any]:
        if isinstance(step, Compute):
            yield from self._compute(step)
            return None
        if isinstance(step, Touch):
            yield from self._touch(step)
            return None
        if isinstance(step, Receive):
            return (yield from self._receive())
        if isinstance(step, Send):
            yield from self._send(step)
            return None
        if isinstance(step, Sleep):
            yield from self._sleep(step)
            return None
        if isinstance(step, HomeCall):
            yield from self._home_call(step)
            return None
        raise TypeError(f"a program yielded {step!r}, which is not an action")

    # -- actions -------------------------------------------------------------------
    def _compute(self, step: Compute) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        owed = float(ctx.progress) if ctx.progress is not None else step.seconds
        flow = self.node.cpu.execute(owed, tag=ctx.pid)
        result = yield flow.done | self._freeze
        if flow.done in result:
            ctx.cpu_seconds += owed
            return
        left = self.node.cpu.preempt(flow)
        ctx.cpu_seconds += owed - left
        ctx.progress = left
        raise _Frozen

    def _touch(self, step: Touch) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        node = self.node
        pages, writes = step.pages, step.writes
        i = int(ctx.progress) if ctx.progress is not None else 0
        while i < pages.size:
            i += node.pager(ctx.pid).touch(pages, writes, i)
            ctx.progress = i
            if i >= pages.size:
                break
            if self._freeze.triggered:
                raise _Frozen
            began = self.env.now
            yield node.kernel_work(node.profile.page_fault_trap_s)
            reply = yield node.call(
                node.role_port("memory"), PageFault(ctx.pid, int(pages[i]), bool(writes[i]))
            )
            ctx.faults += 1
            if reply.body != "local":
                ctx.remote_faults += 1
                ctx.fault_stall_s += self.env.now - began

    def _receive(self) -> Generator[simpy.events.Event, Any, Any]:
        ctx = self.context
        ipc = self.node.role_port("ipc")
        request = self.node.call(ipc, ReceiveMessage(ctx.pid))
        result = yield request | self._freeze
        if request not in result:
            cancel = self.node.call(ipc, CancelReceive(ctx.pid))
            answer: Message = yield cancel
            if answer.body == "cancelled":
                raise _Frozen
            # The message was already on its way to us: take it, then stop.
            yield request
        ctx.messages_received += 1
        reply = cast(Message, request.value)
        return reply.body

    def _send(self, step: Send) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        yield self.node.call(
            self.node.role_port("ipc"), SendMessage(ctx.pid, step.to, step.size_bytes, step.body)
        )
        ctx.messages_sent += 1

    def _sleep(self, step: Sleep) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        left = float(ctx.progress) if ctx.progress is not None else step.seconds
        deadline = self.env.now + left
        wake = self.env.timeout(left)
        result = yield wake | self._freeze
        if wake not in result:
            ctx.progress = deadline - self.env.now
            raise _Frozen

    def _home_call(self, step: HomeCall) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        began = self.env.now
        here = self.node.node_id
        yield self.node.call(
            self.node.role_port("process", ctx.home),
            HomeService(ctx.pid, step.kind, step.service_s, step.size_bytes, caller=here),
            size_bytes=step.size_bytes,
            traffic="home" if ctx.home != here else "control",
            account=ctx.pid,
        )
        ctx.home_calls += 1
        ctx.home_call_s += self.env.now - began

    def _exit(
        self, step: Exit, *, lost: str | None = None
    ) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        ctx.exit_code = step.code
        self.state = ThreadState.EXITED
        self.node.threads.pop(ctx.pid, None)
        if lost is None:
            self._record("exit", code=step.code)
        else:
            self._record("exit", code=step.code, lost=lost)
        yield self.node.send(self.node.role_port("process"), ThreadExited(ctx.pid, lost))
        self.stopped.succeed(None)

    def _record(self, event: str, **fields: Any) -> None:
        self.node.log("thread", event, pid=self.pid, **fields)
