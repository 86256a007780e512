"""Idle workstations: the owner at the keyboard, and Sprite's rule for when a host is idle.

A workstation belongs to its *owner*. Sprite (Douglis & Ousterhout, SP&E 1991) and
Condor (Litzkow, Livny & Mutka 1988) lend a workstation to other users' processes --
*guests* -- only while its owner is away, and give it back the moment the owner
returns: the guests are *evicted*, migrated home or to another idle host.

* :class:`OwnerModel` -- the owner's sessions: away for an exponential time, then at
  the keyboard for an exponential time, typing (an input every few seconds, Poisson)
  and starting short processes of their own, which never leave the workstation.
* :class:`IdleRule` -- Sprite's rule, the default: a host is idle once it has had no
  input for 30 s *and* fewer than one runnable process of its owner, averaged over the
  last minute (the exponentially decayed load average of Unix, sampled every 5 s). An
  idle host with no guest is offered to the trader as idle; a guest is placed only on a
  host so offered (the trader hands each idle host to one requester at a time); input on
  a host with guests evicts them, to their home node (Sprite) or to another idle host
  (``evict_to = "idle"``, home when none is offered), by the configured strategy.

The Load Manager applies the rule (:mod:`rhodos.load.server`); the owner touches only
the hardware: the node's keyboard (:meth:`~rhodos.kernel.Node.owner_input`) and its
own processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import attrs
import numpy as np
import simpy

from rhodos.kernel import Node

__all__ = ["EVICT_TO", "IdleRule", "OwnerModel"]

#: Where evicted guests go: their home node, or another idle host (home if none).
EVICT_TO = ("home", "idle")


def _positive(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(
            f"{type(instance).__name__}: {attribute.name} must be a finite number > 0, "
            f"got {value!r}"
        )


def _non_negative(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(
            f"{type(instance).__name__}: {attribute.name} must be a finite number >= 0, "
            f"got {value!r}"
        )


def _evict_to(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in EVICT_TO:
        raise ValueError(f"{attribute.name} must be one of {', '.join(EVICT_TO)}, got {value!r}")


@attrs.frozen
class IdleRule:
    """When a workstation may take guests, and where its guests go when its owner returns.

    Attributes:
        input_quiet_s: seconds without keyboard or mouse input before a host is idle.
        load_below: the owner's load average must be below this.
        window_s: the load average's time constant (Unix: one minute).
        sample_s: how often the Load Manager samples the run queue and applies the rule;
            an owner's return is noticed within this time.
        evict_to: ``home`` (Sprite) or ``idle`` (another idle host, home if none).
    """

    input_quiet_s: float = attrs.field(default=30.0, validator=_non_negative)
    load_below: float = attrs.field(default=1.0, validator=_positive)
    window_s: float = attrs.field(default=60.0, validator=_positive)
    sample_s: float = attrs.field(default=5.0, validator=_positive)
    evict_to: str = attrs.field(default="home", validator=_evict_to)

    @property
    def decay(self) -> float:
        """The load average's weight of the past at each sample: ``exp(-sample/window)``."""
        return math.exp(-self.sample_s / self.window_s)


@attrs.frozen
class OwnerModel:
    """An owner's sessions at the workstation.

    Away for an exponential time of mean ``away_mean_s``, then present for an
    exponential time of mean ``present_mean_s``; while present the owner gives an input
    every ``input_gap_mean_s`` on average (Poisson) and starts a process of their own
    every ``job_gap_mean_s`` on average, each needing an exponential ``job_mean_s`` of
    CPU. A node's owner starts present with probability :attr:`present_fraction`, so
    the sessions are stationary from the first instant.

    The defaults make the owner away 75% of the time, Sprite's overall figure over 13
    months (66% of weekday hours, 78% off-hours): a calibration, not a prediction.
    """

    away_mean_s: float = attrs.field(default=5400.0, validator=_positive)
    present_mean_s: float = attrs.field(default=1800.0, validator=_positive)
    input_gap_mean_s: float = attrs.field(default=5.0, validator=_positive)
    job_gap_mean_s: float = attrs.field(default=30.0, validator=_positive)
    job_mean_s: float = attrs.field(default=0.5, validator=_non_negative)

    @property
    def present_fraction(self) -> float:
        """The long-run fraction of time the owner is at the workstation."""
        return self.present_mean_s / (self.present_mean_s + self.away_mean_s)

    def run(
        self,
        node: Node,
        rng: np.random.Generator,
        start_job: Callable[[float], None],
    ) -> Generator[simpy.events.Event, Any, None]:
        """The owner of ``node``, for ever: sessions, inputs, and ``start_job(cpu_s)``
        for each process the owner starts."""
        env = node.env
        present = bool(rng.random() < self.present_fraction)
        while True:
            if not present:
                yield env.timeout(rng.exponential(self.away_mean_s))
            leaves = env.now + rng.exponential(self.present_mean_s)
            node.owner_input()
            next_input = env.now + rng.exponential(self.input_gap_mean_s)
            next_job = env.now + rng.exponential(self.job_gap_mean_s)
            while min(next_input, next_job) < leaves:
                if next_input <= next_job:
                    yield env.timeout(next_input - env.now)
                    node.owner_input()
                    next_input += rng.exponential(self.input_gap_mean_s)
                else:
                    yield env.timeout(next_job - env.now)
                    start_job(float(rng.exponential(self.job_mean_s)))
                    next_job += rng.exponential(self.job_gap_mean_s)
            yield env.timeout(leaves - env.now)
            present = False
