"""The load-sharing workload: Poisson arrivals per node, CPU demands, and a real trace.

A *service* distribution gives each process its CPU demand (seconds at the profile's
CPU speed); its spec is the command line's ``--service``:

* ``exp:MEAN`` -- exponential (``exp`` alone: mean 1 s), the classic queueing models';
* ``pareto:ALPHA:LOW:HIGH`` -- bounded Pareto, density proportional to ``x^-(ALPHA+1)``
  on ``[LOW, HIGH]``: with ALPHA = 1, P(life > t) ~ 1/t, Harchol-Balter & Downey's
  lifetimes of Unix processes above 1 s;
* ``trace:FILE[:MEAN]`` -- the CPU times of a real process trace, drawn with
  replacement and rescaled to mean MEAN (1 s unless given), so that the load stays the
  arrival rate (*sample and rescale*: a short run keeps the trace's shape).

:func:`read_trace` reads the trace of Harchol-Balter & Downey (``csd-trace.csv.xz``:
columns ``hour,min,unk,sec,prog``) lazily, through :mod:`lzma`, one record at a time.
The column names are misleading; :class:`TraceRecord` says how they are read and why.
:class:`TraceReplay` replays the trace's own arrivals instead: a window of it, sped up.
"""

from __future__ import annotations

import csv
import functools
import io
import lzma
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

from rhodos.kernel import Compute, Exit

__all__ = [
    "BoundedPareto",
    "Exponential",
    "Service",
    "ServiceError",
    "TraceDemands",
    "TraceRecord",
    "TraceReplay",
    "job",
    "parse_service",
    "read_trace",
    "trace_cpu_times",
]


class ServiceError(ValueError):
    """A service-time spec that cannot be read, or a value out of range."""


class Service(Protocol):
    """A distribution of CPU demands."""

    @property
    def mean(self) -> float:
        """The mean demand, in seconds."""
        ...

    @property
    def spec(self) -> str:
        """How it is written on the command line."""
        ...

    def draw(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
        """``count`` demands, in seconds."""
        ...


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ServiceError(f"{attribute.name} must be a finite number > 0, got {value!r}")


@attrs.frozen
class Exponential:
    """Exponential demands of mean ``mean_s``."""

    mean_s: float = attrs.field(default=1.0, validator=_positive)

    @property
    def mean(self) -> float:
        """The mean demand."""
        return float(self.mean_s)

    @property
    def spec(self) -> str:
        """``exp:MEAN``."""
        return f"exp:{self.mean_s:g}"

    def draw(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
        """``count`` exponential demands."""
        return rng.exponential(self.mean_s, count)


@attrs.frozen
class BoundedPareto:
    """Bounded Pareto demands: density ~ ``x^-(alpha+1)`` on ``[low, high]``."""

    alpha: float = attrs.field(validator=_positive)
    low: float = attrs.field(validator=_positive)
    high: float = attrs.field(validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not self.high > self.low:
            raise ServiceError(f"pareto HIGH ({self.high}) must be above LOW ({self.low})")

    @property
    def mean(self) -> float:
        """The mean of the bounded Pareto distribution (closed form)."""
        a, lo, hi = self.alpha, self.low, self.high
        if math.isclose(a, 1.0):
            return lo * hi / (hi - lo) * math.log(hi / lo)
        tail = 1.0 - (lo / hi) ** a
        return a * lo**a / tail * (lo ** (1 - a) - hi ** (1 - a)) / (a - 1)

    @property
    def spec(self) -> str:
        """``pareto:ALPHA:LOW:HIGH``."""
        return f"pareto:{self.alpha:g}:{self.low:g}:{self.high:g}"

    def draw(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
        """``count`` demands by inverting the distribution function."""
        u = rng.random(count)
        tail = 1.0 - (self.low / self.high) ** self.alpha
        return self.low / (1.0 - u * tail) ** (1.0 / self.alpha)


@attrs.frozen
class TraceRecord:
    """One process of the Harchol-Balter & Downey trace, as read here.

    The columns are named ``hour,min,unk,sec,prog``, but ``hour`` runs over 0..479 and
    ``min`` over 0..59.9: ``hour`` is the *minute* of the trace and ``min`` the second
    within it, so the trace spans 480 minutes (8 hours). The evidence: dividing each
    host's CPU seconds by 8 hours gives the per-host utilisations published with the
    trace (0.71, 0.10, 0.09, 0.37, 0.49, 0.60), while a reading in hours would give
    20 days and utilisations 60 times smaller. ``unk`` is the host (0 to 5) and
    ``sec`` the CPU seconds the process used (``.005`` stands for "under the 10 ms
    resolution"). The rows come in three runs whose minute ranges overlap (240-299,
    then 0-239, then 120-479); they are not sorted by time.
    """

    time_s: float
    host: int
    cpu_s: float
    program: str


def _open_text(path: str | os.PathLike[str]) -> io.TextIOBase:
    if str(path).endswith(".xz"):
        return io.TextIOWrapper(lzma.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_trace(path: str | os.PathLike[str]) -> Iterator[TraceRecord]:
    """The records of the trace at ``path``, one at a time (``.xz`` decompressed on the fly).

    Raises:
        ServiceError: the file is missing or a row cannot be read (naming the line).
    """
    if not Path(path).is_file():
        raise ServiceError(f"trace file {str(path)!r} does not exist")
    with _open_text(path) as stream:
        rows = csv.reader(stream)
        header = next(rows, None)
        if header != ["hour", "min", "unk", "sec", "prog"]:
            raise ServiceError(
                f"trace {str(path)!r}: expected the header hour,min,unk,sec,prog, got {header}"
            )
        for line, row in enumerate(rows, start=2):
            try:
                minute, second, host, cpu, program = row
                yield TraceRecord(int(minute) * 60 + float(second), int(host), float(cpu), program)
            except ValueError:
                raise ServiceError(f"trace {str(path)!r} line {line}: cannot read {row}") from None


@functools.lru_cache(maxsize=4)
def _cpu_times(path: str, mtime: float) -> npt.NDArray[np.float64]:
    times = np.fromiter((record.cpu_s for record in read_trace(path)), dtype=np.float64)
    if times.size == 0 or not np.all(times > 0):
        raise ServiceError(f"trace {path!r} holds no positive CPU times")
    times.flags.writeable = False
    return times


def trace_cpu_times(path: str | os.PathLike[str]) -> npt.NDArray[np.float64]:
    """Every CPU time of the trace, in file order (read once per file, then kept)."""
    if not Path(path).is_file():
        raise ServiceError(f"trace file {str(path)!r} does not exist")
    return _cpu_times(str(path), Path(path).stat().st_mtime)


@attrs.frozen
class TraceDemands:
    """The trace's CPU times, drawn with replacement and scaled to mean ``mean_s``."""

    path: str
    mean_s: float = attrs.field(default=1.0, validator=_positive)

    @property
    def mean(self) -> float:
        """The mean demand (the rescaled trace's)."""
        return float(self.mean_s)

    @property
    def spec(self) -> str:
        """``trace:FILE:MEAN``."""
        return f"trace:{self.path}:{self.mean_s:g}"

    @property
    def scale(self) -> float:
        """The factor applied to the trace's CPU times."""
        return self.mean_s / float(trace_cpu_times(self.path).mean())

    def draw(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.float64]:
        """``count`` CPU times of the trace, at random, rescaled."""
        times = trace_cpu_times(self.path)
        return times[rng.integers(0, times.size, count)] * self.scale


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ServiceError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


@attrs.frozen
class TraceReplay:
    """The trace's own arrivals: a window of it, replayed faster or slower.

    The processes that arrived in ``[start_s, start_s + span_s)`` of the trace arrive
    again, in time order, ``speedup`` times faster (the *sample*: a window; the
    *rescale*: the speed-up, which multiplies the load, since demands are kept), each
    on node ``host % nodes`` with the CPU time it used. The trace is read lazily and
    the window kept, once per replay.
    """

    path: str
    start_s: float = attrs.field(default=0.0, validator=_non_negative)
    span_s: float = attrs.field(default=480 * 60.0, validator=_positive)
    speedup: float = attrs.field(default=1.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not Path(self.path).is_file():
            raise ServiceError(f"trace file {self.path!r} does not exist")

    def window(self) -> list[TraceRecord]:
        """The window's records, in time order."""
        return _window(self.path, self.start_s, self.span_s)

    def arrivals(self, nodes: int) -> list[tuple[float, int, float, str]]:
        """``(instant, node, cpu seconds, program name)`` of every replayed arrival, in
        time order."""
        return [
            ((r.time_s - self.start_s) / self.speedup, r.host % nodes, r.cpu_s, r.program)
            for r in self.window()
        ]

    @property
    def duration_s(self) -> float:
        """How long the replayed window lasts in simulated time."""
        return self.span_s / self.speedup

    def load(self, nodes: int) -> float:
        """CPU seconds per node per second of the replay: its offered load per node."""
        return sum(r.cpu_s for r in self.window()) / (nodes * self.duration_s)


@functools.lru_cache(maxsize=8)
def _window(path: str, start_s: float, span_s: float) -> list[TraceRecord]:
    stop = start_s + span_s
    kept = [r for r in read_trace(path) if start_s <= r.time_s < stop]
    kept.sort(key=lambda r: (r.time_s, r.host))
    return kept


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ServiceError(f"{what} must be a number, got {text!r}") from None


SERVICE_FORMS = "exp:MEAN, pareto:ALPHA:LOW:HIGH or trace:FILE[:MEAN]"


def parse_service(spec: str) -> Service:
    """The service distribution written ``spec`` (see the module docstring).

    Raises:
        ServiceError: naming what is wrong and the forms allowed.
    """
    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "exp" and len(parts) <= 1:
        return Exponential(_number(parts[0], "exp MEAN") if parts else 1.0)
    if kind == "pareto" and len(parts) == 3:
        names = ("pareto ALPHA", "pareto LOW", "pareto HIGH")
        alpha, low, high = (_number(p, n) for p, n in zip(parts, names, strict=True))
        return BoundedPareto(alpha, low, high)
    if kind == "trace" and rest:
        path, mean = rest, 1.0
        head, _, last = rest.rpartition(":")
        if head and not Path(rest).is_file():
            path, mean = head, _number(last, "trace MEAN")
        if not Path(path).is_file():
            raise ServiceError(f"trace file {path!r} does not exist")
        return TraceDemands(path, mean)
    raise ServiceError(f"cannot read service {spec!r}: write {SERVICE_FORMS}")


def job(cpu_s: float) -> Iterator[Compute | Exit]:
    """The program of a load-sharing process: compute for ``cpu_s`` seconds, then exit."""
    yield Compute(cpu_s)
    yield Exit(0)
