"""What fails, and when: a :class:`FaultPlan` of scheduled and random crashes.

* :class:`Crash` -- node ``node`` crashes at ``at_s`` and comes back ``down_s`` later;
* :class:`PhaseCrash` -- at the instant process ``pid``'s migration reaches ``phase``
  (a name the migration's record lists: ``frozen``, ``pages-sent``, ``resumed`` ...),
  its ``source``, its ``destination`` or the ``file-server`` crashes;
* :class:`Shutdown` -- node ``node`` announces at ``at_s`` that it shuts down
  ``warning_s`` later: its processes are migrated away first, with ``strategy`` to the
  nodes its location policy chooses;
* :class:`RandomFailures` -- every compute node (and the file server, if asked) fails
  after exponentially distributed times of mean ``mttf_s`` and is repaired after
  exponentially distributed times of mean ``mttr_s``, each node from a random stream of
  its own.

All are frozen, validated values; a bad one names the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

import rhodos.validators as validators
from rhodos.kernel import Detection

__all__ = ["TARGETS", "Crash", "FaultPlan", "PhaseCrash", "RandomFailures", "Shutdown"]

#: Which node a :class:`PhaseCrash` takes down.
TARGETS = ("source", "destination", "file-server")


def _rule(rule: validators.Rule, *, optional: bool = False) -> Callable[..., None]:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if optional and value is None:
            return
        rule.check(f"{type(instance).__name__}.{attribute.name}", value)

    return validate


@attrs.frozen
class Crash:
    """Node ``node`` crashes at ``at_s``; it comes back empty ``down_s`` later (``None``:
    it stays down)."""

    node: int = attrs.field(validator=_rule(validators.non_negative))
    at_s: float = attrs.field(validator=_rule(validators.non_negative))
    down_s: float | None = attrs.field(
        default=None, validator=_rule(validators.positive, optional=True)
    )


@attrs.frozen
class PhaseCrash:
    """When process ``pid``'s migration reaches ``phase``, ``target`` crashes (at that
    instant); it comes back ``down_s`` later (``None``: it stays down)."""

    pid: int
    phase: str
    target: str = attrs.field(validator=_rule(validators.one_of(TARGETS)))
    down_s: float | None = attrs.field(
        default=None, validator=_rule(validators.positive, optional=True)
    )


@attrs.frozen
class Shutdown:
    """Node ``node`` announces at ``at_s`` that it goes down ``warning_s`` later (for
    ``down_s``; ``None``: for good); meanwhile it migrates its processes away with
    ``strategy``."""

    node: int = attrs.field(validator=_rule(validators.non_negative))
    at_s: float = attrs.field(validator=_rule(validators.non_negative))
    warning_s: float = attrs.field(validator=_rule(validators.non_negative))
    strategy: str = "eager"
    down_s: float | None = attrs.field(
        default=None, validator=_rule(validators.positive, optional=True)
    )


@attrs.frozen
class RandomFailures:
    """Exponential times to failure (mean ``mttf_s``) and to repair (mean ``mttr_s``)."""

    mttf_s: float = attrs.field(validator=_rule(validators.positive))
    mttr_s: float = attrs.field(validator=_rule(validators.positive))
    #: The file server fails too.
    file_server: bool = False


def _crashes(values: Iterable[Crash]) -> tuple[Crash, ...]:
    return tuple(values)


def _phase_crashes(values: Iterable[PhaseCrash]) -> tuple[PhaseCrash, ...]:
    return tuple(values)


def _shutdowns(values: Iterable[Shutdown]) -> tuple[Shutdown, ...]:
    return tuple(values)


@attrs.frozen
class FaultPlan:
    """Every failure of a run, how they are detected, and the checkpoints taken.

    Attributes:
        crashes: scheduled crashes.
        phase_crashes: crashes at a migration's phase.
        shutdowns: announced shutdowns (migrate away on warning).
        random: random failures of every compute node (``None``: none).
        detection: timeouts and heartbeats (``None``: derived from the profile).
        checkpoint_interval_s: every process is checkpointed this often (``None``: never
            periodically; :func:`~rhodos.faults.checkpoint` takes one on request).
        incremental: after a process's first (full) checkpoint, write only the pages it
            dirtied since the last one.
        restart_from_start: a process that has no checkpoint yet restarts from its
            program's start (all its work lost); else it is reported lost.
        until_s: heartbeats, random failures and periodic checkpoints stop here.
    """

    crashes: tuple[Crash, ...] = attrs.field(default=(), converter=_crashes)
    phase_crashes: tuple[PhaseCrash, ...] = attrs.field(default=(), converter=_phase_crashes)
    shutdowns: tuple[Shutdown, ...] = attrs.field(default=(), converter=_shutdowns)
    random: RandomFailures | None = None
    detection: Detection | None = None
    checkpoint_interval_s: float | None = attrs.field(
        default=None, validator=_rule(validators.positive, optional=True)
    )
    incremental: bool = False
    restart_from_start: bool = True
    until_s: float = attrs.field(default=3600.0, validator=_rule(validators.positive))
