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

Detection is off (``Cluster.detection is None``) until the fault layer turns it on, so a
run without failures sends and waits exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

import rhodos.validators as validators
from rhodos.kernel.message import Request
from rhodos.kernel.profile import MachineProfile

__all__ = ["Detection", "NodeCrashed", "ProcessFailed"]


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
    def for_profile(
        cls, profile: MachineProfile, *, heartbeat_interval_s: float = 1.0, misses: int = 3
    ) -> Detection:
        """Timeouts derived from the profile's costs.

        A request waits 20 idle round trips of a small message plus a disk access (what
        a file-server request costs), at least 50 ms; the transport retries for 4 round
        trips; heartbeats every ``heartbeat_interval_s``.
        """
        one_way = (
            profile.network_latency_s
            + profile.wire_bytes(64) / profile.bandwidth_bytes_per_s
            + 2 * profile.message_cpu_s(64)
        )
        return cls(
            request_timeout_s=max(0.05, 20 * 2 * one_way + profile.file_server_latency_s),
            transport_timeout_s=4 * 2 * one_way,
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_misses=misses,
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
