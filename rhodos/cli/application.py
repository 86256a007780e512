"""The ``rhodos`` application: the typer app, the global options and what commands share.

Each command group lives in a module of its own (``profiles``, ``runs``, ``reproduce``,
``sweep``) that registers its commands on :data:`app` with ``@app.command()``; the
package's ``__init__`` imports them all. A command wraps itself in :func:`clear_errors`
(bad input: one red line naming what is wrong, exit code 2), checks every file it will
write with :func:`writable_file` or :func:`writable_folder` before it computes anything,
shows long work with :func:`progress_bar`, and passes :func:`run_observer` to every run
it makes, so that ``--verbose`` and ``--log-json`` see them all.

Exit codes: 0 done; 1 a run failed (the message names it); 2 bad input -- an unknown
option, a wrong type, an impossible value, a file that cannot be read or written --
always said in exactly one line on stderr (:func:`fail`), never with a traceback;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from rhodos.paths import check_output_file, check_output_folder, os_problem

__all__ = [
    "ProfileOption",
    "TraceOption",
    "app",
    "clear_errors",
    "console",
    "describe_os_error",
    "err_console",
    "fail",
    "main",
    "progress_bar",
    "run_observer",
    "say",
    "writable_file",
    "writable_folder",
    "write_output",
]


def _width(stream: Any) -> int | None:
    """The width of a console on ``stream``: the terminal's, or ``COLUMNS`` when set, else
    150 for piped output (files, CI logs), whose tables need not wrap at 80 columns."""
    return None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else 150


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))


def fail(message: str, code: int = 2) -> NoReturn:
    """Say ``error: <message>`` in exactly one line on stderr, and exit with ``code``.

    The line is never wrapped, whatever the terminal's width, and never read as rich
    markup (a config's ``[sweep]`` is shown as written).
    """
    _say(message)
    raise typer.Exit(code)


def _say(message: str) -> None:
    line = " ".join(str(message).split())
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)


def say(message: str) -> None:
    """One line on stderr, as written (no markup, never wrapped): a note, a hint."""
    err_console.print(Text(" ".join(str(message).split())), soft_wrap=True)


def write_output(path: Path, what: str, write: Callable[[Path], Any]) -> None:
    """``write(path)``, after the work is done: a failure (a disk that filled up since
    the check) is one line naming ``what`` and the path, and what was printed stays."""
    try:
        write(path)
    except OSError as error:
        fail(f"{what} {path}: cannot write: {os_problem(error)}")


class OneLineErrors(typer.core.TyperGroup):
    """The command group, whose usage errors (unknown option, missing argument, a value
    of the wrong type) are one line on stderr, like every other input error.

    ``rhodos`` alone prints the help and exits 0.
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode, exit with the command's status."""
        try:
            status = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as error:  # typer's click errors: bad usage, bad value
            if not standalone_mode:
                raise
            status = error.exit_code
            if type(error).__name__ != "NoArgsIsHelpError":  # `rhodos` alone: help shown
                _say(f"{_command_path(error)}{error.format_message()}{_help_hint(error)}")
            else:
                status = 0
        except typer.Abort:
            if not standalone_mode:
                raise
            err_console.print("aborted", highlight=False)
            status = 1
        if not standalone_mode:
            return status
        if status == 130:  # interrupted: a second Ctrl-C while Python exits changes nothing
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(status if isinstance(status, int) else 0)


def _command_path(error: typer.TyperException) -> str:
    ctx = getattr(error, "ctx", None)
    return f"{ctx.command_path}: " if ctx is not None else ""


def _help_hint(error: typer.TyperException) -> str:
    ctx = getattr(error, "ctx", None)
    return f" (see `{ctx.command_path} --help`)" if ctx is not None else ""


app = typer.Typer(
    cls=OneLineErrors,
    help="rhodos: a simulated microkernel distributed OS for studying process migration.",
    no_args_is_help=True,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])

#: Where the global options leave the logging observer (``ctx.meta`` is shared by
#: every command's context).
LOG_OBSERVER = "rhodos.log_observer"


# -- global options: plugins and logging ----------------------------------------------
@app.callback()
def global_options(
    ctx: typer.Context,
    plugin: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugin",
            help="A Python file whose @register classes add strategies or workloads "
            "(repeat for several).",
            dir_okay=False,
            metavar="FILE.py",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Print every simulated event as a readable line on stderr."
        ),
    ] = False,
    log_json: Annotated[
        Path | None,
        typer.Option(
            "--log-json",
            help="Write every simulated event as JSON lines to FILE.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """rhodos: a simulated microkernel distributed OS for studying process migration."""
    _load_plugins(plugin or [])
    if not verbose and log_json is None:
        return  # nothing subscribes: the runs pay nothing for logging
    from rhodos.experiment.logs import configure

    stream = None
    if log_json is not None:
        try:
            writable_file(log_json, "--log-json file")
            stream = ctx.with_resource(log_json.open("w", encoding="utf-8"))
        except ValueError as error:
            fail(str(error))
        except OSError as error:
            fail(f"--log-json file {log_json}: cannot write: {os_problem(error)}")
    ctx.meta[LOG_OBSERVER] = configure(verbose=verbose, json_file=stream)


def _load_plugins(paths: list[Path]) -> None:
    """``--plugin``: import each file before the command runs; a bad one is one line, exit 2."""
    if not paths:
        return
    from rhodos.plugins import PluginError, load_plugins

    try:
        load_plugins(paths)
    except PluginError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def run_observer(ctx: typer.Context, *more: Any) -> Any:
    """The ``observe=`` for a command's runs: the global logging's, then ``more`` (or None).

    Commands pass it to every run they make, so that ``-v`` and ``--log-json`` see them
    all; ``more`` are further Observers (a :class:`~rhodos.experiment.trace.TraceRecorder`).
    """
    observers = [o for o in (ctx.meta.get(LOG_OBSERVER), *more) if o is not None]
    if len(observers) <= 1:
        return observers[0] if observers else None

    def observe(label: str, cluster: Any) -> None:
        for observer in observers:
            observer(label, cluster)

    return observe


def clear_errors(func: F) -> F:
    """Turn input errors into one clear line and exit code 2 (see :func:`fail`).

    Input errors are ``ValueError`` and its kin (every validator's error) and
    ``OSError`` (a file that cannot be read or written: the line names the file and
    what is wrong, never an errno alone).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            raise  # stdout closed by a pager: typer ends quietly
        except ValueError as error:
            fail(str(error.args[0]) if len(error.args) == 1 else str(error))
        except OSError as error:
            fail(describe_os_error(error))

    return wrapper  # type: ignore[return-value]


def describe_os_error(error: OSError) -> str:
    """``<file>: <what is wrong>`` for an error of the system (or what it says, without)."""
    if error.errno is None:  # raised with a message of its own, which names the file
        return str(error)
    if error.filename is None:
        return os_problem(error)
    return f"{error.filename}: {os_problem(error)}"


def writable_file(path: Path, what: str) -> Path:
    """Check, before computing, that the file ``path`` can be written (see
    :func:`rhodos.paths.check_output_file`); ``what`` names it (``--trace file``)."""
    return check_output_file(path, what)


def writable_folder(path: Path, what: str) -> Path:
    """Make the folder ``path`` and check, before computing, that it takes files."""
    return check_output_folder(path, what)


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar with ETA, shown from its first update; yields ``update(done, total)``."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
    task = bar.add_task(description, total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            bar.stop()


ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="A built-in profile name (see `rhodos profiles`) or a TOML file."
    ),
]
TraceOption = Annotated[
    Path | None,
    typer.Option(
        "--trace",
        help="Write the timeline as Chrome trace event JSON (open it at ui.perfetto.dev).",
        dir_okay=False,
        metavar="FILE.json",
    ),
]


def main() -> None:
    """Entry point for ``python -m rhodos``."""
    app()
