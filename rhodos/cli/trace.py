"""``rhodos trace record`` and ``rhodos trace show``: a real program's page references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rhodos.cli.application import app, clear_errors, console, err_console

__all__ = ["record_command", "show_command", "trace_app"]

trace_app = typer.Typer(
    help="Record a real program's page references with valgrind, or show a trace.",
    no_args_is_help=True,
)
app.add_typer(trace_app, name="trace")


@trace_app.command(
    "record", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@clear_errors
def record_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The trace file to write.", dir_okay=False)],
    window: Annotated[int, typer.Option(help="Instructions per window.")] = 1_000_000,
    page_size: Annotated[int, typer.Option(help="Bytes per recorded page.")] = 4096,
) -> None:
    """Run COMMAND under valgrind's lackey and write its page trace: rhodos trace record --out
    FILE -- COMMAND [ARGS...]."""
    from rhodos.workload.pagetrace import RecordError, WindowFolder, record

    command = list(ctx.args)
    if not command:
        raise ValueError("no command to record: rhodos trace record --out FILE -- COMMAND [ARGS]")
    WindowFolder(window, page_size)  # bad sizes fail before valgrind starts
    try:
        done = record(command, out, window=window, page_size=page_size, cwd=Path.cwd())
    except RecordError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"wrote {out}: {done.instructions:,} instructions in {done.windows:,} windows, "
        f"{done.pages:,} pages, {out.stat().st_size:,} bytes; {done.records:,} records in "
        f"{done.seconds:.1f} s ({done.records_per_s / 1e6:.2f} M records/s); "
        f"the program exited with {done.exit_code}",
        highlight=False,
    )


@trace_app.command("show")
@clear_errors
def show_command(
    trace: Annotated[str, typer.Argument(help="A trace file, or a shipped trace's name.")],
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write the trace's picture (PNG).")
    ] = None,
) -> None:
    """A trace's summary (and its picture): pages by region, working set per window."""
    from rhodos.workload.pagetrace import describe, open_trace, plot

    opened = open_trace(trace)
    console.print(describe(opened), highlight=False)
    if plot_path is not None:
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        plot(opened, plot_path)
        console.print(f"wrote {plot_path}")
