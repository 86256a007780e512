"""The actions a program yields to the kernel, one per step of its execution.

A :class:`~rhodos.workload.Program` is a generator of these values. The kernel's thread
executes each one on the node where the process currently runs: computing uses the
node's CPU (processor sharing), touching pages goes through the memory manager's page
table (faults are messages to the Memory Manager), sending and receiving go through the
IPC Manager. A program never sees where it runs: that is what makes migration
transparent.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "Action",
    "CloseFile",
    "Compute",
    "Exit",
    "HomeCall",
    "OpenFile",
    "Receive",
    "Send",
    "Sleep",
    "Touch",
    "WriteFile",
]


def _non_negative(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value >= 0:
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must be >= 0, got {value!r}")


def _as_pages(value: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(value, dtype=np.int64).reshape(-1)


def _as_writes(value: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    return np.asarray(value, dtype=np.bool_).reshape(-1)


@attrs.frozen
class Compute:
    """Run on the CPU for ``seconds`` of this profile's CPU time (shared with other processes)."""

    seconds: float = attrs.field(validator=_non_negative)


@attrs.frozen(eq=False)
class Touch:
    """Reference ``pages`` in order; ``writes[i]`` says whether reference ``i`` writes.

    The batch stands for the memory references of one compute burst. A reference to a
    page that is not resident stops the batch there until the Memory Manager resolves
    the fault; then the batch continues. ``stack_depth``, when given, is where the stack
    pointer stands once the batch is done: the bytes of stack in use, below the stack
    segment's end (``None``: the program does not say, the stack pointer stays put).
    """

    pages: npt.NDArray[np.int64] = attrs.field(converter=_as_pages)
    writes: npt.NDArray[np.bool_] = attrs.field(converter=_as_writes)
    stack_depth: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative)
    )

    def __attrs_post_init__(self) -> None:
        if self.pages.shape != self.writes.shape:
            raise ValueError(
                f"Touch.pages and Touch.writes must have the same length, "
                f"got {self.pages.size} and {self.writes.size}"
            )


@attrs.frozen
class Send:
    """Send ``size_bytes`` to the process ``to`` (a pid: addresses are location-independent)."""

    to: int
    size_bytes: int = attrs.field(default=64, validator=_non_negative)
    body: object = None


@attrs.frozen
class Receive:
    """Wait for the next message; the program receives a :class:`~rhodos.kernel.UserMessage`."""


@attrs.frozen
class Sleep:
    """Stay idle (not runnable) for ``seconds``: think time, waiting for a user."""

    seconds: float = attrs.field(validator=_non_negative)


@attrs.frozen
class HomeCall:
    """A location-dependent call (a device or file on the home node), ``size_bytes`` each way."""

    kind: str = "device"
    size_bytes: int = attrs.field(default=128, validator=_non_negative)
    service_s: float = attrs.field(default=0.0, validator=_non_negative)


@attrs.frozen
class OpenFile:
    """Open the file ``name`` on the file server; the program receives the descriptor (an int)."""

    name: str = ""


@attrs.frozen
class WriteFile:
    """Write ``nbytes`` at the descriptor's offset, which advances by ``nbytes``.

    The written blocks go into the node's block cache, dirty: the File Manager writes
    them to the file server later (delayed write, as Sprite's caches did).
    """

    fd: int
    nbytes: int = attrs.field(validator=_non_negative)


@attrs.frozen
class CloseFile:
    """Close the descriptor ``fd`` (its dirty blocks stay in the cache: they are the file's)."""

    fd: int


@attrs.frozen
class Exit:
    """End the process."""

    code: int = 0


Action = (
    Compute | Touch | Send | Receive | Sleep | HomeCall | OpenFile | WriteFile | CloseFile | Exit
)
