"""The kernel's thread: runs a program's actions on the node where the process is.

A thread executes one action at a time. Computing shares the CPU; touching pages goes
through the node's MMU view of the address space (:class:`~rhodos.kernel.node.Pager`)
and traps to the Memory Manager at the first page that is not resident; sending,
receiving and location-dependent calls are requests to the node's IPC Manager and
Process Manager, opening, writing and closing files requests to its File Manager. The
thread knows its node only through the kernel's naming service, so after a migration
the same program continues on another node, unaware.

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

from rhodos.kernel.actions import (
    Action,
    CloseFile,
    Compute,
    Exit,
    HomeCall,
    OpenFile,
    Receive,
    Send,
    Sleep,
    Touch,
    WriteFile,
)
from rhodos.kernel.context import ExecutionContext
from rhodos.kernel.later import drive, soon
from rhodos.kernel.message import Message, RequestFailed
from rhodos.kernel.node import Node
from rhodos.kernel.traps import (
    CancelReceive,
    FileCall,
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


#: The steps that ask a server (by a message) rather than trap or compute.
_ASKS = (Send, Receive, HomeCall, Exit, OpenFile, WriteFile, CloseFile)


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
        #: Killed by a crash of its node: it never does anything again.
        self.killed = False
        self._flow: Any = None
        self._owed = 0.0
        self._deadline: float | None = None
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

    def kill(self) -> None:
        """Stop for ever, now (the node crashed): the context is left as it stands at this
        instant -- the CPU time computed so far counted, what is left of the step in
        flight in ``progress`` -- for the recovery's accounting and restart."""
        if self.state is not ThreadState.RUNNING or self.killed:
            return
        self.killed = True
        ctx = self.context
        if self._flow is not None:
            left = self.node.cpu.preempt(self._flow)
            ctx.cpu_seconds += self._owed - left
            ctx.progress = left
            self._flow = None
        elif self._deadline is not None:
            ctx.progress = max(0.0, self._deadline - self.env.now)
        self.state = ThreadState.EXITED
        self._record("killed")

    @staticmethod
    def _ended(ok: bool, error: Any) -> None:
        if not ok:  # a defect in the kernel or a program: stop the run, loudly
            raise error

    # -- the loop ------------------------------------------------------------------
    def _run(self) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        if not self._freeze.triggered and isinstance(self._next_step(), _ASKS):
            # A first step that asks a server lets the kernel work requested at this
            # instant by whoever made the thread (a server's reply) go first.
            yield soon(self.env)
        try:
            while not self.killed:
                if self._freeze.triggered:
                    raise _Frozen
                step = self._next_step()
                if isinstance(step, Exit):
                    yield from self._exit(step)
                    return
                value = yield from self._execute(step)
                if self.killed:
                    return
                ctx.value = value
                ctx.step = None
                ctx.progress = None
        except _Frozen:
            self.state = ThreadState.FROZEN
            self.node.threads.pop(ctx.pid, None)
            self._record("frozen")
            self.stopped.succeed(ctx)
        except RequestFailed as failed:  # a server could not serve a trap: it cannot go on
            yield from self._exit(Exit(LOST_EXIT_CODE), lost=str(failed))

    def _next_step(self) -> Action:
        """The step the program is at (asked of the program when the last one is done)."""
        ctx = self.context
        if ctx.step is None:
            try:
                ctx.step = ctx.program.send(ctx.value)
            except StopIteration:
                ctx.step = Exit()
            ctx.progress = None
            ctx.value = None
        return ctx.step

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
        if isinstance(step, OpenFile | WriteFile | CloseFile):
            return (yield from self._file_call(step))
        raise TypeError(f"a program yielded {step!r}, which is not an action")

    # -- actions -------------------------------------------------------------------
    def _compute(self, step: Compute) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        owed = float(ctx.progress) if ctx.progress is not None else step.seconds
        flow = self.node.cpu.execute(owed, tag=ctx.pid)
        self._flow, self._owed = flow, owed
        result = yield flow.done | self._freeze
        self._flow = None
        if self.killed:
            return
        if flow.done in result:
            ctx.cpu_seconds += owed
            self.node.charge(ctx.pid, owed)
            return
        left = self.node.cpu.preempt(flow)
        ctx.cpu_seconds += owed - left
        self.node.charge(ctx.pid, owed - left)
        ctx.progress = left
        raise _Frozen

    def _touch(self, step: Touch) -> Generator[simpy.events.Event, Any, None]:
        ctx = self.context
        node = self.node
        pages, writes = step.pages, step.writes
        i = int(ctx.progress) if ctx.progress is not None else 0
        while i < pages.size:
            i += node.pager(ctx.pid).touch(pages, writes, i, step.stack_depth)
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
            if self.killed:  # its node crashed as the answer came
                return
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
        deadline = self._deadline = self.env.now + left
        wake = self.env.timeout(left)
        result = yield wake | self._freeze
        self._deadline = None
        if self.killed:
            return
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

    def _file_call(
        self, step: OpenFile | WriteFile | CloseFile
    ) -> Generator[simpy.events.Event, Any, Any]:
        ctx = self.context
        reply = yield self.node.call(self.node.role_port("files"), FileCall(ctx.pid, step))
        if isinstance(step, OpenFile):
            ctx.open_files += 1
        elif isinstance(step, CloseFile):
            ctx.open_files -= 1
        return reply.body

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
