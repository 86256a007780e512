"""The results of a sweep: an append-only CSV, a manifest, and their summary.

``results.csv`` gets one line per finished run, appended whole, flushed and fsynced, so a
killed sweep loses at most the runs in flight and never leaves a half row that counts
(a truncated last line is dropped when the sweep resumes). Rows hold simulated
quantities only; wall-clock times, versions and the git commit go to ``manifest.json``.
:func:`summarize` gives each point's mean and 95% confidence interval (Student t) per
metric.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import functools
import io
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhodos.migration_manager.metrics import COMPARED

if TYPE_CHECKING:
    from rhodos.experiment.sweep import SweepPlan

__all__ = [
    "ResultsFile",
    "SweepManifest",
    "folder_lock",
    "mean_ci",
    "summarize",
    "t_quantile",
    "write_parquet",
    "write_summary",
]


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
        return {int(row["run"]) for row in self._read()}

    def _read(self) -> list[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            self._columns = list(reader.fieldnames or [])
            return [row for row in reader if None not in row.values()]

    def rows(self) -> list[dict[str, Any]]:
        """Every row, values parsed, sorted by run."""
        if not self.exists():
            return []
        parsed = [{k: _parse(v) for k, v in row.items()} for row in self._read()]
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
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())


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


# -- the manifest --------------------------------------------------------------------
def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Python and the packages a result depends on (those installed)."""
    versions = {"python": platform.python_version()}
    for name in ("rhodos", "simpy", "numpy", "attrs", "dask", "distributed"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@functools.cache
def git_commit() -> dict[str, Any] | None:
    """The commit of the rhodos source tree (and whether it has changes), or None."""
    import rhodos

    package = Path(rhodos.__file__).resolve().parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(package), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if top / package.name != package:  # an installed copy inside someone else's repo
            return None
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _differences(old.get(key), new.get(key), f"{where}.{key}" if where else key)
        return found
    return [] if old == new else [f"{where} (was {old!r}, now {new!r})"]


class SweepManifest:
    """``manifest.json``: config, seeds, versions, git commit, and one entry per session."""

    FORMAT = 1

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        """The manifest, or None when there is none yet."""
        if not self.path.is_file():
            return None
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.path)

    def check_same(self, config: Mapping[str, Any]) -> None:
        """Refuse to resume a sweep whose config differs from ``config``, except for more
        replications (their seeds and run numbers extend those already there)."""
        stored = self.read()
        if stored is None:
            return
        old, new = stored["config"], json.loads(json.dumps(config))
        grown = new.get("sweep", {}).get("replications", 1)
        if grown >= old.get("sweep", {}).get("replications", 1):
            old = {**old, "sweep": {**old.get("sweep", {}), "replications": grown}}
        differences = _differences(old, new)
        if differences:
            raise ValueError(
                f"cannot resume the sweep in {self.path.parent}: its config differs in "
                f"{'; '.join(differences)}. Resume with the same config, or choose another --out"
            )

    def begin(self, plan: SweepPlan, executor: str, done: int, fresh: bool = True) -> None:
        """Record the sweep (when ``fresh`` or new) and the start of this session."""
        config = plan.config
        data = (None if fresh else self.read()) or {
            "format": self.FORMAT,
            "name": config.name,
            "config_file": config.origin,
            "config": config.data,
            "root_seed": config.seed,
            "replications": config.replications,
            "seeds": list(plan.seeds),
            "points": plan.points,
            "runs": len(plan),
            "axes": {axis.name: list(axis.values) for axis in config.all_axes},
            "started": _now(),
            "ended": None,
            "sessions": [],
        }
        data.update(  # a resumed sweep may have more replications
            config=config.data,
            replications=config.replications,
            seeds=list(plan.seeds),
            runs=len(plan),
            ended=None,
        )
        data["sessions"].append(
            {
                "started": _now(),
                "ended": None,
                "status": "running",
                "executor": executor,
                "host": platform.node(),
                "argv": sys.argv,
                "runs_before": done,
                "versions": package_versions(),
                "git": git_commit(),
            }
        )
        self._write(data)

    def end(self, status: str, ran: int, wall_s: float) -> None:
        """Record how this session ended and how long it took (wall clock)."""
        data = self.read()
        if data is None:
            return
        session = data["sessions"][-1]
        session.update(
            ended=_now(),
            status=status,
            runs=ran,
            wall_s=round(wall_s, 3),
            runs_per_s=round(ran / wall_s, 2) if wall_s > 0 else None,
        )
        if status == "complete":
            data["ended"] = session["ended"]
        self._write(data)


# -- statistics ----------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


@functools.cache
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom.

    Solves ``P(T > t) = 1 - p``, i.e. ``I_x(df/2, 1/2) = 2 (1 - p)`` with
    ``x = df / (df + t^2)``, by bisection on x.
    """
    if not 0.5 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    target = 2.0 * (1.0 - p)
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        if _incomplete_beta(df / 2.0, 0.5, mid) < target:
            low = mid
        else:
            high = mid
    x = (low + high) / 2
    return math.sqrt(df * (1.0 - x) / x)


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of the two-sided ``level`` confidence interval (NaN below 2), n."""
    data = [float(v) for v in values]
    n = len(data)
    if n == 0:
        return math.nan, math.nan, 0
    mean = math.fsum(data) / n
    if n < 2:
        return mean, math.nan, n
    variance = math.fsum((v - mean) ** 2 for v in data) / (n - 1)
    half = t_quantile(0.5 + level / 2, n - 1) * math.sqrt(variance / n)
    return mean, half, n


def summarize(
    rows: Iterable[Mapping[str, Any]], axes: Sequence[str], metrics: Sequence[str] = COMPARED
) -> list[dict[str, Any]]:
    """One entry per point: its axis values, ``n``, then ``<metric>_mean`` and
    ``<metric>_ci95`` (missing values, e.g. of refused runs, are left out)."""
    points: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        points.setdefault(int(row["point"]), []).append(row)
    summary = []
    for point in sorted(points):
        runs = points[point]
        entry: dict[str, Any] = {"point": point, **{a: runs[0].get(a) for a in axes}}
        entry["n"] = len(runs)
        for metric in metrics:
            mean, half, _ = mean_ci(r[metric] for r in runs if r.get(metric) is not None)
            entry[f"{metric}_mean"] = None if math.isnan(mean) else mean
            entry[f"{metric}_ci95"] = None if math.isnan(half) else half
        summary.append(entry)
    return summary


def write_summary(path: Path, summary: Sequence[Mapping[str, Any]]) -> Path:
    """The summary as CSV."""
    if summary:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(summary[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in entry.items()} for entry in summary)
    return path
