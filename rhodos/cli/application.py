"""The ``rhodos`` application: the typer app, the global options and what commands share.

Each command group lives in a module of its own (``profiles``, ``runs``, ``reproduce``,
``sweep``) that registers its commands on :data:`app` with ``@app.command()``; the
package's ``__init__`` imports them all. A command wraps itself in :func:`clear_errors`
(bad input: one red line naming what is wrong, exit code 2), shows long work with
:func:`progress_bar`, and passes :func:`run_observer` to every run it makes, so that
``--verbose`` and ``--log-json`` see them all.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = [
    "ProfileOption",
    "TraceOption",
    "app",
    "clear_errors",
    "console",
    "err_console",
    "main",
    "progress_bar",
    "run_observer",
]

app = typer.Typer(
    help="rhodos: a simulated microkernel distributed OS for studying process migration.",
    no_args_is_help=True,
    add_completion=False,
)


def _width(stream: Any) -> int | None:
    """The width of a console on ``stream``: the terminal's, or ``COLUMNS`` when set, else
    150 for piped output (files, CI logs), whose tables need not wrap at 80 columns."""
    return None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else 150


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

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
        log_json.parent.mkdir(parents=True, exist_ok=True)
        stream = ctx.with_resource(log_json.open("w"))
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
    """Turn input errors (``ValueError`` and its kin) into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, FileNotFoundError) as error:
            # An OSError of the system carries (errno, text): its str names the file.
            message = error.args[0] if len(error.args) == 1 else str(error)
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


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
