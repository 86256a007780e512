"""Record a real program's page references with valgrind's lackey tool.

:func:`record` runs ``valgrind --tool=lackey --trace-mem=yes COMMAND`` with its log
going into a FIFO: the text trace (tens of bytes per memory access) never sits on
disk. A reader thread drains the FIFO into memory in large pieces (the pipe enlarged
to 1 MiB, so lackey rarely waits), the calling thread folds them into windows with
:class:`~rhodos.workload.pagetrace.lackey.WindowFolder`, and a sampler thread reads
``/proc/<pid>/maps`` of the valgrind process every :data:`SAMPLE_S` seconds to tell the
regions apart (:mod:`rhodos.workload.pagetrace.regions`). The result is written with
:func:`~rhodos.workload.pagetrace.format.write_trace`.

The program runs in a fixed environment (``PATH``, ``LC_ALL=C``, ``HOME``; the stack's
first page holds the environment, so a different one moves stack addresses) and
``--vgdb=no``; lackey traces only the process it starts, not its children (run the
compiler proper, ``cc1``, rather than the ``gcc`` driver).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import numpy as np

from rhodos.workload.pagetrace.format import REGIONS, write_trace
from rhodos.workload.pagetrace.lackey import WindowFolder
from rhodos.workload.pagetrace.regions import Mapping, allocated, classify, parse_maps

__all__ = ["DEFAULT_ENV", "SAMPLE_S", "RecordError", "Recording", "record", "valgrind_version"]

#: How often the recorder reads the program's memory map, in seconds.
SAMPLE_S = 0.02
#: The environment the recorded program runs in.
DEFAULT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "HOME": "/nonexistent"}
_PIPE_BYTES = 1 << 20
_READ_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031


class RecordError(RuntimeError):
    """The program could not be recorded (no valgrind, no such command, valgrind failed)."""


@attrs.frozen
class Recording:
    """What :func:`record` measured besides the trace it wrote."""

    path: Path
    windows: int
    instructions: int
    records: int
    pages: int
    seconds: float
    exit_code: int

    @property
    def records_per_s(self) -> float:
        """lackey records folded per second of wall-clock time (lackey's pace, at best)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


def valgrind_version(valgrind: str = "valgrind") -> str:
    """``valgrind --version`` (e.g. ``valgrind-3.19.0``); :class:`RecordError` if absent."""
    exe = shutil.which(valgrind)
    if exe is None:
        raise RecordError(
            f"{valgrind!r} is not installed; install it (Debian: apt-get install valgrind)"
        )
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()


def _drain(fifo: str, pieces: queue.Queue[bytes | None]) -> None:
    """Read the FIFO in large pieces until its writer closes it."""
    try:
        fd = os.open(fifo, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
            while True:
                piece = os.read(fd, _READ_BYTES)
                if not piece:
                    break
                pieces.put(piece)
                if len(piece) < _READ_BYTES // 2:
                    time.sleep(0.005)  # let the pipe fill: fewer, larger reads
        finally:
            os.close(fd)
    finally:
        pieces.put(None)


def _sample(pid: int, done: threading.Event, sightings: list[list[Mapping]]) -> None:
    """Read the process's maps every :data:`SAMPLE_S` until ``done``; keep each change."""
    last = ""
    while not done.is_set():
        try:
            text = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            break
        # Only once valgrind has become the tool (before, it is the launcher).
        if text != last and "lackey-" in text:
            sightings.append(parse_maps(text))
            last = text
        done.wait(SAMPLE_S)


def record(
    command: Sequence[str],
    out: str | Path,
    *,
    window: int = 1_000_000,
    page_size: int = 4096,
    stdin: IO[Any] | int | None = subprocess.DEVNULL,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    versions: dict[str, str] | None = None,
    valgrind: str = "valgrind",
) -> Recording:
    """Run ``command`` under lackey and write its page trace to ``out``.

    Args:
        command: the program and its arguments (no shell).
        out: the trace file to write.
        window: instructions per window.
        page_size: bytes per recorded page (a power of two; 4096 is x86-64's).
        stdin, stdout: the program's standard input and output (its standard error
            is inherited).
        cwd: where it runs.
        env: its environment (default :data:`DEFAULT_ENV`).
        versions: versions of the recorded program and its inputs, kept in the metadata.
        valgrind: the valgrind executable.

    Raises:
        RecordError: valgrind or the command is missing, or valgrind produced no trace.
    """
    if not command:
        raise RecordError("no command to record")
    version = valgrind_version(valgrind)
    if shutil.which(command[0], path=(env or DEFAULT_ENV).get("PATH")) is None:
        raise RecordError(f"command not found: {command[0]!r}")
    folder = WindowFolder(window, page_size)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rhodos-lackey-") as tmp:
        fifo = os.path.join(tmp, "lackey.log")
        os.mkfifo(fifo)
        pieces: queue.Queue[bytes | None] = queue.Queue()
        reader = threading.Thread(target=_drain, args=(fifo, pieces), daemon=True)
        reader.start()
        argv = [
            shutil.which(valgrind) or valgrind,
            "--tool=lackey",
            "--trace-mem=yes",
            "--vgdb=no",
            f"--log-file={fifo}",
            *command,
        ]
        process = subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, cwd=cwd, env=dict(env or DEFAULT_ENV)
        )
        done = threading.Event()
        sightings: list[list[Mapping]] = []
        sampler = threading.Thread(target=_sample, args=(process.pid, done, sightings))
        sampler.start()
        waiter = threading.Thread(target=_unblock_when_exited, args=(process, fifo, reader))
        waiter.start()
        try:
            while (piece := pieces.get()) is not None:
                batch = [piece]
                while len(batch) < 8:
                    try:
                        more = pieces.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        pieces.put(None)
                        break
                    batch.append(more)
                folder.feed(b"".join(batch))
        finally:
            if process.poll() is None:
                process.kill()
            exit_code = process.wait()
            done.set()
            sampler.join()
            waiter.join()
    windows = folder.finish()
    seconds = time.perf_counter() - started
    if not windows:
        raise RecordError(
            f"valgrind produced no trace for {' '.join(command)!r} (exit code {exit_code}): "
            + " / ".join(folder.messages[-3:])
        )
    _check_count(folder)
    environment = dict(env or DEFAULT_ENV)
    return _write(
        out, command, version, versions or {}, environment, folder, sightings, exit_code, seconds
    )


def _unblock_when_exited(
    process: subprocess.Popen[bytes], fifo: str, reader: threading.Thread
) -> None:
    """If valgrind ends without ever opening its log, open it so the reader sees the end."""
    process.wait()
    reader.join(timeout=1.0)
    if reader.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _check_count(folder: WindowFolder) -> None:
    """lackey's own count of instructions (``guest instrs``) must match the fetches folded."""
    for line in folder.messages:
        if "guest instrs:" in line:
            counted = int(line.rsplit(":", 1)[1].replace(",", ""))
            if counted != folder.instructions:
                raise RecordError(
                    f"lackey counted {counted:,} instructions but the trace holds "
                    f"{folder.instructions:,}: the stream was cut"
                )


def _write(
    out: str | Path,
    command: Sequence[str],
    version: str,
    versions: dict[str, str],
    env: dict[str, str],
    folder: WindowFolder,
    sightings: list[list[Mapping]],
    exit_code: int,
    seconds: float,
) -> Recording:
    windows = folder.windows
    reads = [w.reads for w in windows]
    writes = [w.writes for w in windows]
    pages = np.unique(np.concatenate([*reads, *writes]))
    ever_written = np.isin(pages, np.concatenate(writes))
    page_size = 1 << int(folder.shift)
    regions, unmapped = classify(
        pages, page_size, sightings, folder.fetched, folder.first_data_address, ever_written
    )
    counts = {name: int(np.count_nonzero(regions == i)) for i, name in enumerate(REGIONS)}
    held = allocated(sightings, folder.first_data_address, pages, page_size)
    meta = {
        "command": list(command),
        "tool": "lackey",
        "valgrind": version,
        "versions": versions,
        "env": env,
        "window": folder.window,
        "page_size": page_size,
        "instructions": folder.instructions,
        "records": folder.records,
        "pages": int(pages.size),
        "pages_by_region": counts,
        "pages_written": int(np.count_nonzero(ever_written)),
        "unmapped_pages": unmapped,
        "allocated_bytes": sum(held.values()),
        "allocated_by_region": held,
        "exit_code": exit_code,
    }
    index = [np.searchsorted(pages, s).astype(np.uint32) for s in reads]
    windex = [np.searchsorted(pages, s).astype(np.uint32) for s in writes]
    instructions = [w.instructions for w in windows]
    write_trace(out, meta, pages, regions, instructions, index, windex)
    return Recording(
        Path(out),
        len(windows),
        folder.instructions,
        folder.records,
        int(pages.size),
        seconds,
        exit_code,
    )
