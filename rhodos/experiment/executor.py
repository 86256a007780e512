"""How the runs of a sweep execute, and where: here, in a local process pool, or on Dask.

The task is :func:`run_groups`: a pure function from a chunk of :class:`Group` specs
(a scenario with its seed, and the runs that share its no-migration baseline) to their
result rows. An executor maps it over picklable chunks and yields the rows in the order
they finish. The three executors give identical rows because the task is a pure function
of its spec (every random stream is seeded by it):

* :class:`SerialExecutor` runs them one after another in this process;
* :class:`PoolExecutor` on a local ``ProcessPoolExecutor`` (forkserver workers that
  have imported the simulator once, or spawn where there is no forkserver);
* :class:`DaskExecutor` on a Dask distributed cluster -- a running scheduler
  (``tcp://host:8786``) or a ``LocalCluster`` of processes (``"local"``). Dask comes
  with the ``rhodos[cluster]`` extra and is imported only here, when asked for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rhodos.experiment.interrupts import deferred, worker_started
from rhodos.experiment.migration import (
    FILE_KNOBS,
    Observer,
    Scenario,
    baseline_completion,
    run_migration,
    scenario_row,
    scenario_value,
)
from rhodos.experiment.plan import Group, Run
from rhodos.migration_manager import MigrationRecord

__all__ = [
    "DaskExecutor",
    "Executor",
    "PoolExecutor",
    "RunFailed",
    "SerialExecutor",
    "available_cores",
    "make_executor",
    "result_row",
    "run_group",
    "run_groups",
]

T = TypeVar("T")
R = TypeVar("R")


# -- the task ----------------------------------------------------------------------
class RunFailed(RuntimeError):
    """One run of a sweep raised: the message names the run, its point and the error."""


def result_row(scenario: Scenario, run: Run, record: MigrationRecord) -> dict[str, Any]:
    """The row of one run: its identity, its axes, the scenario, then the metrics."""
    row: dict[str, Any] = {
        "run": run.run,
        "point": run.point,
        "replication": run.replication,
        **run.axes,
    }
    files = scenario.has_files or any(key in run.axes for key in FILE_KNOBS)
    for key, value in scenario_row(scenario, record, files=files).items():
        row[key] = value
        if key == "strategy":
            row["params"] = json.dumps(run.params, sort_keys=True)
        elif key == "touch_fraction":
            for extra in ("cpu_seconds", "migrate_at", "nodes", "topology", "home_calls_per_s"):
                row[extra] = scenario_value(scenario, extra)
    return row


def _failure(run: Run | None, group: Group, error: BaseException) -> RunFailed:
    where = run.describe() if run else f"the baseline of {group.runs[0].describe()}"
    frames = traceback.extract_tb(error.__traceback__)
    at = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return RunFailed(f"{where} failed: {type(error).__name__}: {error}{at}")


def run_group(group: Group, observe: Observer | None = None) -> list[dict[str, Any]]:
    """Run a group: its baseline once, then each run; the rows (a pure function)."""
    try:
        baseline = baseline_completion(group.scenario, observe)
    except Exception as error:
        raise _failure(None, group, error) from error
    rows = []
    for run in group.runs:
        try:
            record = run_migration(
                group.scenario, run.strategy, run.params, baseline=baseline, observe=observe
            )
        except Exception as error:
            raise _failure(run, group, error) from error
        rows.append(result_row(group.scenario, run, record))
    return rows


def run_groups(groups: Sequence[Group], plugins: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The task an executor runs: a chunk of groups; their rows. ``plugins``: the plugin
    files the runs need, loaded first (once per worker process)."""
    if plugins:
        from rhodos.plugins import load_plugins

        load_plugins(plugins)
    return [row for group in groups for row in run_group(group)]


# -- the executors -------------------------------------------------------------------
class Executor(Protocol):
    """Runs tasks; yields their results as they finish."""

    @property
    def workers(self) -> int:
        """How many tasks run at once."""
        ...

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Start ``fn(task)`` for every task now; yield the results in completion order."""
        ...

    def describe(self) -> str:
        """One line for the manifest: what ran the tasks."""
        ...

    def close(self) -> None:
        """Release the workers (the executor may not be used afterwards)."""
        ...


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


#: Local worker processes per core at most: a run is pure Python and CPU-bound, so
#: more processes than cores only share them (and 10^8 would exhaust the machine).
WORKERS_PER_CORE = 4


def _check_workers(workers: int) -> None:
    """Local workers: at least one, at most :data:`WORKERS_PER_CORE` per core here."""
    most = WORKERS_PER_CORE * available_cores()
    if not 1 <= workers <= most:
        raise ValueError(
            f"--workers must be within [1, {most}] ({WORKERS_PER_CORE} per core of this "
            f"machine: more processes only share the cores), got {workers}"
        )


class SerialExecutor:
    """Every task in this process, one after another, in order."""

    workers = 1

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """The results, lazily, in task order."""
        return (fn(task) for task in tasks)

    def describe(self) -> str:
        """``serial``."""
        return "serial"

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cancel_on_exit(futures: Sequence[Any], results: Iterator[Any]) -> Iterator[Any]:
    """Yield from ``results``; cancel what has not started when the caller stops early."""
    try:
        yield from results
    finally:
        for future in futures:
            future.cancel()


def _main_registers_plugins() -> bool:
    """The main script registered a strategy or a workload of its own (workers need it)."""
    from rhodos.migration_manager import registered
    from rhodos.workload import registered as registered_workloads

    classes = [*registered().values(), *registered_workloads().values()]
    return any(cls.__module__ in ("__main__", "__mp_main__") for cls in classes)


class _WithoutMain:
    """A worker process that starts without re-running the main script.

    A spawned or forkserver worker imports the parent's ``__main__`` again before it
    takes a task, so a script that runs a sweep at its top level (the tutorial, a notebook
    saved as a script) would run again in every worker and break the pool. The tasks are
    functions of rhodos, so the workers need no script: while a worker starts, the
    parent's ``__main__`` is replaced by an empty module, which multiprocessing does not
    re-import. (A script that registers strategies of its own keeps the usual behaviour,
    and needs the usual ``if __name__ == "__main__":`` guard.)
    """

    def start(self) -> None:
        script = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            super().start()  # type: ignore[misc]
        finally:
            sys.modules["__main__"] = script


class _SpawnWorker(_WithoutMain, multiprocessing.context.SpawnProcess):
    """A spawned worker that does not re-run the main script."""


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnWorker


_WITHOUT_MAIN: dict[str, multiprocessing.context.BaseContext] = {"spawn": _SpawnContext()}
if "forkserver" in multiprocessing.get_all_start_methods():

    class _ForkServerWorker(_WithoutMain, multiprocessing.context.ForkServerProcess):
        """A forkserver worker that does not re-run the main script."""

    class _ForkServerContext(multiprocessing.context.ForkServerContext):
        Process = _ForkServerWorker

    _WITHOUT_MAIN["forkserver"] = _ForkServerContext()


class PoolExecutor:
    """A local pool of worker processes (one task per worker at a time)."""

    #: Imported once by the forkserver, so each worker starts without importing anything.
    PRELOAD = ("rhodos.experiment.executor", "rhodos.migration_manager.strategies")

    #: Seconds a worker is given to end after SIGTERM before it is killed.
    GRACE_S = 2.0

    def __init__(self, workers: int) -> None:
        _check_workers(workers)
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future[Any]] = []

    @property
    def workers(self) -> int:
        """The pool's size."""
        return self._workers

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Never fork a parent that may hold threads (progress bars, Dask clients).
            context: multiprocessing.context.BaseContext
            if "forkserver" in multiprocessing.get_all_start_methods():
                forkserver = multiprocessing.get_context("forkserver")
                forkserver.set_forkserver_preload(list(self.PRELOAD))
                # The forkserver (and the workers it forks) start with Ctrl-C ignored,
                # or a Ctrl-C while it imports the simulator prints its traceback.
                with _ignoring_interrupts():
                    multiprocessing.forkserver.ensure_running()
                context = forkserver
            else:
                context = multiprocessing.get_context("spawn")
            if not _main_registers_plugins():
                context = _WITHOUT_MAIN[context.get_start_method()]
            # Each worker ignores Ctrl-C (this process stops it) and dies with this process.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=context,
                initializer=worker_started,
                initargs=(os.getpid(),),
            )
        return self._pool

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Submit every task now; yield results as workers finish them."""
        # Whole or not at all: a Ctrl-C while the workers start (the first submit waits
        # for the forkserver to import the simulator) is raised once every task is
        # known, so that close() stops every worker, none half-born.
        with deferred():
            pool = self._start()
            futures: list[Future[R]] = [pool.submit(fn, task) for task in tasks]
            self._futures.extend(futures)
        return _cancel_on_exit(futures, (f.result() for f in as_completed(futures)))

    def describe(self) -> str:
        """``process pool of N workers``."""
        return f"process pool of {self._workers} workers"

    def close(self) -> None:
        """Cancel queued tasks and stop the workers, within seconds.

        When every task has ended the pool shuts down cleanly. Otherwise (an interrupt,
        a failed run) the tasks still running are abandoned: their workers get SIGTERM,
        then SIGKILL after :attr:`GRACE_S`; waiting for them could take as long as a run.
        A Ctrl-C meanwhile is dropped: closing always ends.
        """
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        with deferred(reraise=False):
            if any(not future.done() for future in self._futures):
                pool.shutdown(wait=False, cancel_futures=True)
                _stop(list((getattr(pool, "_processes", None) or {}).values()), self.GRACE_S)
            pool.shutdown(wait=True)
        self._futures.clear()

    def __enter__(self) -> PoolExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: What a TLS scheduler needs of the client, as Dask reads it (its config or these
#: environment variables; see the README, "Where the runs execute").
TLS_SETTINGS = (
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE",
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY",
)


def _check_tls(address: str) -> None:
    """A ``tls://`` scheduler needs Dask's client TLS settings, readable: say which."""
    try:
        import dask.config
        from distributed.security import Security
    except ImportError:
        return  # said when connecting: the cluster extra is missing
    for key in ("ca-file", "client.cert", "client.key"):
        value = dask.config.get(f"distributed.comm.tls.{key}", None)
        if value and not Path(value).is_file():
            raise ValueError(
                f"--scheduler {address}: Dask's TLS setting {key} is {value}: no such file"
            )
    try:
        context = Security().get_connection_args("client").get("ssl_context")
    except (OSError, ValueError) as error:  # a certificate that is not one
        raise ValueError(f"--scheduler {address}: Dask's TLS settings fail: {error}") from None
    if context is None:
        raise ValueError(
            f"--scheduler {address}: a TLS scheduler needs the client's CA file, "
            f"certificate and key in Dask's configuration ({', '.join(TLS_SETTINGS)})"
        )


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """SIGINT ignored while the block starts processes (main thread only), then restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(processes: Sequence[Any], grace_s: float) -> None:
    """Terminate worker ``processes`` (SIGTERM), then kill those alive after ``grace_s``.

    The pool has no public way to stop a running task; its processes are
    ``ProcessPoolExecutor._processes``, read defensively.
    """
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(grace_s)


class DaskExecutor:
    """Tasks on a Dask distributed cluster: ``"local"`` starts a LocalCluster of processes."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        if workers is not None and address == "local":
            _check_workers(workers)
        elif workers is not None and workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        if address.startswith("tls://"):
            _check_tls(address)  # before anything runs, without connecting
        self.address = address
        self._requested = workers
        self._client: Any = None
        self._cluster: Any = None

    def _start(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(
                "--scheduler needs Dask: install the cluster extra, pip install 'rhodos[cluster]'"
            ) from None
        if self.address == "local":
            # Its worker processes start with Ctrl-C ignored (an ignored signal stays
            # ignored in a new process): the terminal sends it to the whole process
            # group, and this process alone stops the cluster, without their tracebacks.
            with _ignoring_interrupts():
                self._cluster = LocalCluster(
                    n_workers=self._requested or available_cores(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: 8787 may be taken
                    silence_logs=logging.CRITICAL,  # no worker noise when it stops
                )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(self.address, timeout="10s")
            except OSError as error:
                raise ValueError(
                    f"cannot reach the Dask scheduler at {self.address}: {error} "
                    "(start one with `dask scheduler`, workers with `dask worker ADDRESS`)"
                ) from None
        return self._client

    @property
    def workers(self) -> int:
        """The threads of the cluster's workers (connects on first use)."""
        return max(1, sum(self._start().nthreads().values()))

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Submit every task to the cluster; yield results as they arrive."""
        from distributed import as_completed as dask_completed

        client = self._start()
        futures = client.map(fn, list(tasks), pure=False)
        return _cancel_on_exit(futures, (f.result() for f in dask_completed(futures)))

    def describe(self) -> str:
        """``dask LocalCluster of N workers`` or ``dask scheduler at ADDRESS``."""
        if self.address == "local":
            return f"dask LocalCluster of {self._requested or available_cores()} workers"
        return f"dask scheduler at {self.address}"

    def close(self) -> None:
        """Disconnect (and stop the LocalCluster started here)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor the command line asks for.

    ``scheduler`` ``None``: a local process pool of ``workers`` (default: one per core;
    one worker runs serially in this process). ``"local"``: a Dask LocalCluster of
    ``workers`` processes. An address (``tcp://host:8786``): that Dask cluster.
    """
    if scheduler:
        return DaskExecutor(scheduler, workers)
    count = available_cores() if workers is None else workers
    _check_workers(count)
    return SerialExecutor() if count == 1 else PoolExecutor(count)
