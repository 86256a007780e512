"""Ctrl-C at safe points, and workers that never outlive the sweep that started them.

A sweep may be interrupted at any instant, and killed at any instant; neither may lose a
finished run or leave a process behind.

* :func:`deferred` holds Ctrl-C (SIGINT) back while a results row or the manifest is
  written, and raises the :class:`KeyboardInterrupt` once the write is whole; a second
  Ctrl-C while a sweep cleans up is held back the same way, so cleaning up always ends.
* :func:`worker_started` runs first in every worker process of a local pool: the worker
  ignores Ctrl-C (the terminal sends it to every process of the group; the sweep alone
  decides, then stops its workers), and dies as soon as the process that started the
  sweep is gone, even killed with SIGKILL, which no handler sees. On Linux it waits on a
  pidfd of that process (woken the instant it ends); elsewhere it polls every second.
  Once the workers are gone, the pool's forkserver and resource tracker see their pipes
  close and end too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["by_ctrl_c", "deferred", "worker_started"]

#: How often a worker without pidfds looks for the process that started it.
POLL_S = 1.0


@contextlib.contextmanager
def deferred(reraise: bool = True) -> Iterator[None]:
    """Run the block whole: a Ctrl-C during it is raised when it ends (``reraise``), or
    dropped (a second Ctrl-C while cleaning up after the first).

    Outside the main thread (where Python delivers signals) it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: Any) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and reraise:
        raise KeyboardInterrupt


def by_ctrl_c(error: BaseException) -> bool:
    """``error`` is a Ctrl-C, or was raised because of one: a module whose import a Ctrl-C
    stopped raises ``ImportError: initialization failed`` from the KeyboardInterrupt."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def worker_started(parent: int) -> None:
    """The initializer of a pool worker: ignore Ctrl-C, and die with the process ``parent``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_die_with, args=(parent,), name="die-with-parent", daemon=True).start()


def _die_with(parent: int) -> None:
    """Wait until the process ``parent`` has ended, then end this process at once."""
    try:
        _wait_for_end(parent)
    except Exception:  # pidfds misbehaving: fall back to looking
        while _alive(parent):
            time.sleep(POLL_S)
    os._exit(1)  # no cleanup to run: the sweep that wanted the results is gone


def _wait_for_end(parent: int) -> None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None and sys.platform == "linux":
        try:
            handle = pidfd_open(parent)
        except ProcessLookupError:
            return  # already gone
        except OSError:
            pass  # an old kernel: poll instead
        else:
            import select

            select.select([handle], [], [])  # readable once the process has ended
            return
    while _alive(parent):
        time.sleep(POLL_S)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
