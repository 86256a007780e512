"""What every run of the command line must end in: done, or one line saying what is wrong.

Shared by the specification of hostile inputs and by the generated command lines of
``test_cli_fuzz.py``: exit 0, or exit 2 with exactly one line on stderr that starts
with ``error:`` and holds no traceback. A few documented non-zero statuses are results,
not errors (see :data:`RESULT_STATUSES`).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from typing import Any

from typer.testing import CliRunner

from rhodos.cli import app

#: Documented non-zero exit statuses that are results rather than input errors:
#: 3, a migration that the destination refused (``rhodos migrate``; the refusal says why).
RESULT_STATUSES = {3}

_runner = CliRunner()


def invoke(args: Sequence[str]) -> Any:
    """Run the command line in-process with ``args``; the result (stdout and stderr apart)."""
    return _runner.invoke(app, list(args))


def breach(result: Any) -> str | None:
    """What is wrong with how a command line ended, or None when it kept the contract."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {result.exception}"
    stderr = result.stderr
    if "Traceback" in stderr or "Traceback" in result.stdout:
        return f"printed a traceback:\n{stderr}"
    if result.exit_code == 0:
        return None
    lines = stderr.splitlines()
    if result.exit_code in RESULT_STATUSES:
        return None if lines else f"exit {result.exit_code} without saying why"
    if result.exit_code != 2:
        return f"exit {result.exit_code} (expected 0 or 2):\n{stderr}"
    if len(lines) != 1 or not lines[0].startswith("error: "):
        return f"exit 2 must say one `error:` line on stderr, said {len(lines)}:\n{stderr}"
    return None


@contextlib.contextmanager
def deadline(seconds: int, what: str) -> Iterator[None]:
    """Turn a hang of ``what`` into a failure after ``seconds`` (an alarm; Unix only)."""

    def hung(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"{what} did not end within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
