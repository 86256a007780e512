"""Oracles and invariant checkers: the conformance suite every migration strategy must pass.

Like ``trio.testing``, this package is public so that the author of a new strategy can
run the project's own checks on it, in one import and one call::

    from rhodos.testing import check_strategy

    for result in check_strategy("my-strategy"):  # or the strategy class itself
        assert result.ok, result.violations

It holds, one module each:

* :mod:`~rhodos.testing.oracles` -- programs that record what they did, so the
  invariants of DESIGN.md can be checked against what the system did: a
  :class:`MemoryOracle` that tallies the page versions it wrote, and message oracles
  that record every body sent and received per channel in a :class:`MessageLog`.
* :mod:`~rhodos.testing.checks` -- the checkers, plain functions returning a list of
  violations (empty: all is well): :func:`check_single_location`,
  :func:`check_record`, :func:`check_residual`, :func:`check_ipc`,
  :func:`check_failures`, :func:`check_quiescent`, and :func:`page_versions`, which
  finds the authoritative version of every page of a process. They read the servers'
  state through each server's read-only ``snapshot`` API (:func:`memory_view`,
  :func:`process_view`, :func:`ipc_view`, :func:`migration_view`, :func:`file_view`,
  :func:`file_versions`): that is what a checker may do and a server may not.
* :mod:`~rhodos.testing.files` -- a :class:`FileOracle` that opens and writes files,
  and :func:`check_files`, the file-state invariant: after a migration a process's
  files are where it runs, their offsets and block contents intact.
* :mod:`~rhodos.testing.monitor` -- a :class:`LocationMonitor` checking the single
  location of every process on every kernel event.
* :mod:`~rhodos.testing.harness` -- a :class:`Harness` that attaches all of them to a
  booted cluster (and can watch the wall clock, so that a hang is a failure).
* :mod:`~rhodos.testing.conformance` -- the scenarios built on it
  (:func:`conformance_scenarios`, :func:`run_conformance`, :func:`check_strategy`).
* :mod:`~rhodos.testing.profiles` -- legal extreme profiles that widen race windows
  (:func:`zero_cpu`, :func:`zero_cost`, :func:`slow_latency`, :func:`fuzz_profile`), and
  :mod:`~rhodos.testing.programs` -- programs at the edges of timing, and
  :mod:`~rhodos.testing.broken` -- strategies broken on purpose, for testing the checks.
* :mod:`~rhodos.testing.fuzz` -- the migration fuzzer (``python -m rhodos.testing.fuzz``,
  ``make fuzz``), with its :mod:`~rhodos.testing.population` and its hostile patterns
  (:mod:`~rhodos.testing.hostile`).
* :mod:`~rhodos.testing.audit` -- :func:`audit_run`, the checks of a finished run that
  need no oracle, cheap enough to run after every comparison (``rhodos compare`` does).
"""

from rhodos.testing.audit import AUDITED, audit_run
from rhodos.testing.checks import (
    FAILURE_EVENTS,
    REFUSALS_IN_FLIGHT,
    TIME_TOLERANCE_S,
    check_failures,
    check_ipc,
    check_quiescent,
    check_record,
    check_residual,
    check_single_location,
    file_versions,
    file_view,
    ipc_view,
    memory_view,
    migration_view,
    page_versions,
    process_view,
)
from rhodos.testing.conformance import (
    ConformanceResult,
    ConformanceScenario,
    check_strategy,
    conformance_scenarios,
    run_conformance,
)
from rhodos.testing.files import FileOracle, check_files
from rhodos.testing.harness import Harness
from rhodos.testing.monitor import LocationMonitor
from rhodos.testing.oracles import (
    MemoryOracle,
    MessageLog,
    OracleClient,
    OracleServer,
    StreamReceiver,
    StreamSender,
    Talker,
)
from rhodos.testing.profiles import fuzz_profile, slow_latency, zero_cost, zero_cpu

__all__ = [
    "AUDITED",
    "FAILURE_EVENTS",
    "REFUSALS_IN_FLIGHT",
    "TIME_TOLERANCE_S",
    "ConformanceResult",
    "ConformanceScenario",
    "FileOracle",
    "Harness",
    "LocationMonitor",
    "MemoryOracle",
    "MessageLog",
    "OracleClient",
    "OracleServer",
    "StreamReceiver",
    "StreamSender",
    "Talker",
    "audit_run",
    "check_failures",
    "check_files",
    "check_ipc",
    "check_quiescent",
    "check_record",
    "check_residual",
    "check_single_location",
    "check_strategy",
    "conformance_scenarios",
    "file_versions",
    "file_view",
    "fuzz_profile",
    "ipc_view",
    "memory_view",
    "migration_view",
    "page_versions",
    "process_view",
    "run_conformance",
    "slow_latency",
    "zero_cost",
    "zero_cpu",
]
