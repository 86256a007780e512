"""How fast page traces are recorded: the fold's throughput and lackey's own pace.

Four measurements, in records (lines of lackey's text) per second:

* **fold**: :class:`~rhodos.workload.pagetrace.WindowFolder` on a synthetic
  lackey stream of 1,000,000 lines fed 50 times (50M records) in 1 MiB pieces, as the
  recorder feeds it -- the aggregation alone, one core;
* **lackey alone**: ``valgrind --tool=lackey --trace-mem=yes`` on a real program
  (``sort`` of 20,000 lines) writing to ``/dev/null`` -- the ceiling of any recorder;
* **FIFO**: the same, lackey's log going into a FIFO that is read and dropped in
  1 MiB pieces -- the cost of the pipe (lackey makes one ``write`` per line);
* **record**: :func:`~rhodos.workload.pagetrace.record` on the same program: lackey
  writing into the FIFO, the fold running beside it.

The last three run interleaved, ``repeats`` times each, best kept (the machine is shared).
They need valgrind and are skipped without it. Each rate is given per wall-clock second
and per CPU second of the stage (for ``record``, of lackey and of the recorder apart):
on a busy machine the CPU rates say whether the recorder keeps up with lackey -- it does
while its CPU rate is above lackey's, each having a core. Prints; asserts nothing.
"""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from rhodos.workload.pagetrace import WindowFolder, record
from rhodos.workload.pagetrace.lackey import synthetic_stream
from rhodos.workload.pagetrace.remake import words

__all__ = ["fold_rate", "main"]

PIECE = 1 << 20


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fold_rate(lines: int = 1_000_000, times: int = 50) -> tuple[int, float, float]:
    """Records, wall and CPU seconds: a synthetic stream of ``lines`` fed ``times`` times."""
    text = synthetic_stream(lines, seed=7)
    pieces = [text[i : i + PIECE] for i in range(0, len(text), PIECE)]
    folder = WindowFolder()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(times):
        for piece in pieces:
            folder.feed(piece)
    folder.finish()
    return folder.records, time.perf_counter() - started, time.process_time() - cpu


def _lackey(command: list[str], cwd: Path, *, through_fifo: bool) -> tuple[float, float]:
    """Wall seconds and lackey's CPU seconds on ``command``, its log to /dev/null or read (and
    dropped) from a FIFO."""
    with tempfile.TemporaryDirectory(prefix="rhodos-bench-fifo-") as tmp:
        log = "/dev/null"
        if through_fifo:
            log = os.path.join(tmp, "log")
            os.mkfifo(log)
        started, cpu = time.perf_counter(), _children_cpu()
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=lackey",
                "--trace-mem=yes",
                "--vgdb=no",
                f"--log-file={log}",
                *command,
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
        )
        if through_fifo:
            fd = os.open(log, os.O_RDONLY)
            fcntl.fcntl(fd, 1031, PIECE)  # F_SETPIPE_SZ, as the recorder does
            while piece := os.read(fd, PIECE):
                if len(piece) < PIECE // 2:
                    time.sleep(0.005)
            os.close(fd)
        process.wait()
        return time.perf_counter() - started, _children_cpu() - cpu


def _line(what: str, records: int, wall: float, cpu: float) -> str:
    return f"  {what:<44} {records / wall / 1e6:8.2f} {records / cpu / 1e6:10.2f}"


def main(repeats: int = 3) -> dict[str, float]:
    """Print the rates (wall and CPU); return the wall-clock rates (records/s)."""
    print(f"pagetrace: recording throughput, M records/s (best of {repeats})")
    print(f"  {'':<44} {'wall':>8} {'CPU':>10}")
    records, wall, cpu = min((fold_rate() for _ in range(repeats)), key=lambda r: r[1])
    rates = {"fold": records / wall}
    print(_line(f"fold, synthetic stream of {records // 10**6}M records", records, wall, cpu))
    if shutil.which("valgrind") is None:
        print("  (valgrind is not installed: lackey's pace not measured)")
        return rates
    with tempfile.TemporaryDirectory(prefix="rhodos-bench-") as tmp:
        scratch = Path(tmp)
        (scratch / "words.txt").write_text(words(20000, seed=1))
        command = ["sort", "--parallel=1", "--buffer-size=16M", "words.txt"]
        alone, piped, recorded = [], [], []
        count = 0
        for _ in range(repeats):
            alone.append(_lackey(command, scratch, through_fifo=False))
            piped.append(_lackey(command, scratch, through_fifo=True))
            cpu, children = time.process_time(), _children_cpu()
            done = record(command, scratch / "sort.trace.npz", cwd=scratch)
            recorded.append((done.seconds, time.process_time() - cpu, _children_cpu() - children))
            count = done.records
    best = min(alone)
    rates["lackey"] = count / best[0]
    print(f"  {' '.join(command)}: {count:,} records")
    print(_line("lackey alone, log to /dev/null", count, *best))
    best = min(piped)
    rates["fifo"] = count / best[0]
    print(_line("lackey, log into a FIFO read and dropped", count, *best))
    wall, recorder, lackey = min(recorded)
    rates["record"] = count / wall
    print(_line("record: lackey (CPU: lackey's)", count, wall, lackey))
    print(_line("record: the recorder (CPU: fold, reader, maps)", count, wall, recorder))
    return rates


if __name__ == "__main__":
    main()
