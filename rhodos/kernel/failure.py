"""Failure detection: what a node's kernel does when a peer may have crashed.

A crash (:meth:`~rhodos.kernel.Cluster.crash`) loses a node's memory: its processes,
its servers' tables, the messages queued at its ports and those on their way to or
from it. Nobody is told by magic. The kernel finds out the way real ones do:

* a **request** (:meth:`~rhodos.kernel.Node.call`) to another node waits
  :attr:`Detection.request_timeout_s`, then asks that node's kernel whether it is alive
  and which incarnation (boot) it is in. No answer, or another incarnation than the one
  the request went to, means the request is lost: the call fails with a
  :class:`~rhodos.kernel.Failure` naming the node. An answer from the same incarnation
  means the peer is slow, not dead: the caller waits again, twice as long.
* a **message** that reaches a crashed node, or a port that a crash closed, is reported
  back to its sender's kernel after :attr:`Detection.transport_timeout_s` (the transport
  gave up retransmitting): counted as undeliverable and logged at the sender, and a
  caller waiting for its reply gets a failure at once then.
* **heartbeats** (:attr:`Detection.heartbeat_interval_s`, sent by
  :mod:`rhodos.faults`) let the recovery manager learn that a node has gone quiet.

The timeouts and the heartbeat period are fields of the machine profile
(:class:`~rhodos.kernel.MachineProfile`), each with its source; :class:`Detection` is
the frozen view of them that a run uses (:meth:`Detection.for_profile`), which a fault
plan may replace. Detection is off (``Cluster.detection is None``) until the fault layer
turns it on, so a run without failures sends and waits exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import attrs

import rhodos.validators as validators
from rhodos.kernel.actions import Action
from rhodos.kernel.context import ExecutionContext, Program
from rhodos.kernel.message import Request, UserMessage
from rhodos.kernel.profile import MachineProfile

__all__ = [
    "Detection",
    "LogReceive",
    "NodeCrashed",
    "ProcessFailed",
    "Recorder",
    "Undeliverable",
]


@attrs.frozen
class NodeCrashed(Request):
    """Recovery manager -> the servers of every live node: ``node`` crashed in its
    incarnation ``incarnation`` (one-way). Each drops what it held for the crashed node:
    a migration's destination what a source that died had sent it, a source the copies
    of pages whose process died elsewhere."""

    node: int
    incarnation: int


def _check(rule: validators.Rule) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        rule.check(f"detection {attribute.name}", value)

    return validate


@attrs.frozen
class Detection:
    """How long a kernel waits before it suspects a peer, and how often nodes say they live.

    Attributes:
        request_timeout_s: a request's wait for its reply before the caller probes the
            node it went to (doubled each time the node answers: slow, not dead).
        transport_timeout_s: how long the transport retries a message to a crashed
            node before it reports it undeliverable to the sender.
        heartbeat_interval_s: every node's kernel tells the recovery manager it lives
            this often.
        heartbeat_misses: heartbeats missed in a row before the recovery manager probes
            the node and, when it does not answer, declares it crashed.
    """

    request_timeout_s: float = attrs.field(validator=_check(validators.positive))
    transport_timeout_s: float = attrs.field(validator=_check(validators.positive))
    heartbeat_interval_s: float = attrs.field(validator=_check(validators.positive))
    heartbeat_misses: int = attrs.field(default=3, validator=_check(validators.positive))

    @classmethod
    def for_profile(cls, profile: MachineProfile) -> Detection:
        """The profile's failure-detection fields (``request_timeout_s``,
        ``transport_timeout_s``, ``heartbeat_interval_s``, ``heartbeat_misses``)."""
        return cls(
            request_timeout_s=profile.request_timeout_s,
            transport_timeout_s=profile.transport_timeout_s,
            heartbeat_interval_s=profile.heartbeat_interval_s,
            heartbeat_misses=profile.heartbeat_misses,
        )

    @property
    def suspicion_s(self) -> float:
        """How long a node is silent before the recovery manager probes it."""
        return self.heartbeat_interval_s * self.heartbeat_misses


@attrs.frozen
class ProcessFailed(Request):
    """Process Manager -> recovery manager: process ``pid`` on node ``node`` could not go
    on (``why``: part of it was lost with a crashed node); reply ``True`` when it will
    be restarted from its checkpoint, ``False`` when it has none (it ends, lost)."""

    pid: int
    node: int
    why: str


@attrs.frozen
class LogReceive(Request):
    """IPC Manager -> recovery manager: process ``pid``'s receive number ``index``
    (counted from its creation) takes ``message``; log it on stable storage before the
    process gets it (pessimistic receiver-based logging); reply ``None``."""

    pid: int
    index: int
    message: UserMessage


@attrs.frozen
class Undeliverable:
    """The body of the notice a process receives when a message it sent can never be
    delivered: ``message`` is that message, ``why`` says what became of its receiver.
    The notice comes from the receiver's pid with sequence number 0 (outside every
    channel)."""

    message: UserMessage
    why: str


class Recorder:
    """Keeps the actions a process's program yielded since its last checkpoint.

    A checkpoint holds the process's state at one instant; what the process did after
    it is what a restart must run again. A program is deterministic given the messages
    it receives (they are logged before delivery, :mod:`rhodos.ipc_manager`), so the
    actions it yielded since the checkpoint are the actions a replay from the
    checkpoint yields again: the recorder keeps them, on the file server with the
    checkpoint, as a real system keeps only the message log and re-runs the code.

    :meth:`install` puts a recording program around a process's program (at its
    creation, once crashes are expected, or at its first checkpoint); a checkpoint
    keeps a new list, which the recorder fills from then on.
    """

    def __init__(self, context: ExecutionContext) -> None:
        #: The process's live execution state (the restarted one after a restart).
        self.context = context
        #: The actions yielded since the last checkpoint, the one in flight last.
        self.since_checkpoint: list[Action] = []

    @classmethod
    def install(cls, context: ExecutionContext) -> Recorder:
        """The context's recorder, wrapping its program in one if it has none yet."""
        recorder = context.recorder
        if isinstance(recorder, Recorder):
            return recorder
        recorder = cls(context)
        context.recorder = recorder
        context.program = recorder.wrap(context.program)
        return recorder

    def wrap(self, program: Program) -> Program:
        """``program``, recording each action it yields."""
        return _Recording(self, program)

    def checkpoint(self) -> list[Action]:
        """A checkpoint is taken: record into a new list, which the checkpoint keeps."""
        self.since_checkpoint = []
        return self.since_checkpoint

    @staticmethod
    def unwrap(program: Program) -> Program:
        """The program a recording program wraps (``program`` itself if it records nothing)."""
        return program.program if isinstance(program, _Recording) else program


class _Recording(Generator[Action, Any, None]):
    """A program that hands each action of the program it wraps to its recorder.

    A class rather than a generator function: a generator function could not take the
    value the thread sends for the action in flight when the wrapping starts.
    """

    def __init__(self, recorder: Recorder, program: Program) -> None:
        self.recorder = recorder
        self.program = program

    def send(self, value: Any) -> Action:
        step = self.program.send(value)
        self.recorder.since_checkpoint.append(step)
        return step

    def throw(self, typ: Any = None, val: Any = None, tb: Any = None) -> Action:
        return self.program.throw(typ, val, tb)  # pragma: no cover - never thrown into
