"""The results of a sweep: an append-only CSV, one row per run, and the summary beside it.

``results.csv`` gets one line per finished run, appended whole, flushed and fsynced, so a
killed sweep loses at most the runs in flight and never leaves a half row that counts
(a truncated last line is dropped when the sweep resumes). Rows hold simulated
quantities only; wall-clock times, versions and the git commit go to ``manifest.json``
(:mod:`rhodos.experiment.manifest`). ``summary.csv`` holds each point's mean and 95%
confidence interval per metric (:func:`rhodos.experiment.stats.summarize`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["IDENTITY", "ResultsFile", "folder_lock", "write_parquet", "write_summary"]

#: The columns that identify a row: the run, its point, its replication (integers).
IDENTITY = ("run", "point", "replication")


# -- the results file ----------------------------------------------------------------
def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return value


def _parse(text: str) -> Any:
    """A CSV cell back to a value: empty -> None, numbers, JSON lists, else the text."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.startswith("["):
        return json.loads(text)
    return text


class ResultsFile:
    """``results.csv``: a header, then one whole line per finished run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._columns: list[str] | None = None

    def exists(self) -> bool:
        """The file holds at least a header."""
        return self.path.is_file() and self.path.stat().st_size > 0

    def _repair(self) -> None:
        """Drop a last line that a kill cut short (no newline at its end)."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def finished(self) -> set[int]:
        """The run numbers already in the file (repairing a truncated last line)."""
        if not self.exists():
            return set()
        self._repair()
        with self._readable():
            return {int(row["run"]) for row in self._read()}

    def _read(self) -> list[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            self._columns = list(reader.fieldnames or [])
            return [row for row in reader if None not in row.values()]

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """A file that is not a results file (edited, or another program's) is one
        ``ValueError`` naming it, whatever the parser met."""
        try:
            yield
        except (csv.Error, UnicodeDecodeError, KeyError, ValueError, TypeError) as error:
            raise ValueError(
                f"{self.path}: not a results file of rhodos "
                f"({type(error).__name__}: {str(error)[:80]})"
            ) from None

    def rows(self) -> list[dict[str, Any]]:
        """Every row, values parsed, sorted by run."""
        if not self.exists():
            return []
        with self._readable():
            parsed = [{k: _parse(v) for k, v in row.items()} for row in self._read()]
            for row in parsed:
                for key in IDENTITY:
                    if not isinstance(row[key], int):
                        raise ValueError(f"{key} {row[key]!r} is not a number")
            return sorted(parsed, key=lambda row: row["run"])

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append ``rows`` as whole lines (the header first when the file is new); fsync."""
        if not rows:
            return
        columns = list(rows[0])
        new = not self.exists()
        if not new and self._columns is None:
            with self.path.open(newline="", encoding="utf-8") as handle:
                self._columns = next(csv.reader(handle), [])
        if not new and self._columns != columns:
            raise ValueError(
                f"{self.path} has the columns of another version of rhodos; "
                "write this sweep to another --out"
            )
        self._columns = columns
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])
        size = self.path.stat().st_size if not new else 0
        try:
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                handle.write(buffer.getvalue())
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:  # a full disk: no half rows, and say which file it is
            with contextlib.suppress(OSError), self.path.open("r+b") as handle:
                handle.truncate(size)
            raise OSError(error.errno, error.strerror, str(self.path)) from None


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.lock`` while a sweep writes there: a second sweep is refused.

    The lock is an ``flock``: the kernel releases it when its holder dies, even killed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one sweep per folder is on trust
        yield
        return
    with (folder / ".lock").open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ValueError(
                f"another sweep (process {holder}) is writing to {folder}; "
                "let it finish or stop it first"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def write_parquet(csv_path: Path) -> Path | None:
    """``results.parquet`` beside the CSV when pandas and pyarrow are installed."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    out = csv_path.with_suffix(".parquet")
    pd.read_csv(csv_path).to_parquet(out, index=False)
    return out


def write_summary(path: Path, summary: Sequence[Mapping[str, Any]]) -> Path:
    """The summary as CSV."""
    if summary:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(summary[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in entry.items()} for entry in summary)
    return path
