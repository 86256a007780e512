"""A sweep's manifest: what ran, with which config, seeds, versions and commit, and when.

``manifest.json`` records the config as read (after ``--set``), the root seed and each
replication's seed, the axes, and one entry per session (a first run, then each
``--resume``): when it started and ended, how, on which executor and host, the package
versions and the git commit of the source tree. Rows hold simulated quantities only;
everything about the machine that ran them is here.

A session's ``status`` is ``running`` while it runs, then ``complete``, ``failed`` (a
run raised, or a file could not be written) or ``interrupted`` (Ctrl-C); a session that
could not say how it ended (killed, or its disk full) is marked ``died`` by the next.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rhodos.experiment.config import SweepConfig
    from rhodos.experiment.plan import SweepPlan

__all__ = ["SweepManifest", "git_commit", "package_versions"]


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
    package = Path(__file__).resolve().parents[1]  # rhodos/, above rhodos/experiment/

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
        """The manifest, or None when there is none yet.

        Raises:
            ValueError: the file is not a manifest (not JSON, or not an object of
                sessions); the message names it.
        """
        if not self.path.is_file():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path}: not a sweep manifest ({error})") from None
        if not isinstance(data, dict) or not isinstance(data.get("sessions"), list):
            raise ValueError(f"{self.path}: not a sweep manifest (no list of sessions)")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        """Replace the manifest whole (write a ``.partial``, then rename it): a kill or a
        full disk leaves the old manifest, never half a new one, and no ``.partial``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps(data, indent=2) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
        except OSError as error:  # a full disk: say which file could not be written
            partial.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

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

    def begin(
        self, config: SweepConfig, plan: SweepPlan, executor: str, done: int, fresh: bool = True
    ) -> None:
        """Record the sweep of ``config`` (when ``fresh`` or new) and the start of this session."""
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
        for earlier in data["sessions"]:
            # This session holds the folder's lock, so a session still "running" died
            # without ending its record: killed, or its disk was full.
            if earlier.get("status") == "running":
                earlier["status"] = "died"
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
