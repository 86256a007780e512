"""A process's execution state: what the Process Manager extracts and installs."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs

from rhodos.kernel.actions import Action

__all__ = ["ExecutionContext", "Program"]

#: A running program: the generator of its actions.
Program = Generator[Action, Any, None]


@attrs.define(eq=False)
class ExecutionContext:
    """A process's execution state: what the Process Manager extracts and installs.

    The program's continuation and the step in flight (``step`` with its ``progress``:
    CPU seconds still owed, index of the next page reference, or sleep time left), plus
    the per-process accounting that travels with the process.
    """

    pid: int
    home: int
    program: Program
    step: Action | None = None
    progress: float | int | None = None
    value: Any = None
    cpu_seconds: float = 0.0
    faults: int = 0
    remote_faults: int = 0
    fault_stall_s: float = 0.0
    messages_sent: int = 0
    messages_received: int = 0
    home_calls: int = 0
    home_call_s: float = 0.0
    #: Descriptors open now (the File Manager holds them; the count tells the
    #: migration whether there is open-file state to move).
    open_files: int = 0
    exit_code: int | None = None
    #: What records the program's actions since its last checkpoint (a
    #: :class:`~rhodos.kernel.failure.Recorder`; ``None`` until crashes are expected).
    recorder: Any = None
