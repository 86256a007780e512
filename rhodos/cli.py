"""The ``rhodos`` command: profiles, workloads, runs, migrations and comparisons."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import attrs
import typer
from rich.console import Console
from rich.table import Table

from rhodos.kernel import ClusterConfig, MachineProfile, builtin_profiles, load_profile
from rhodos.kernel.profile import FIELD_UNITS
from rhodos.workload import WORKLOADS

app = typer.Typer(
    help="rhodos: a simulated microkernel distributed OS for studying process migration.",
    no_args_is_help=True,
    add_completion=False,
)
# Piped output (files, CI logs) gets wide tables instead of 80 wrapped columns.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(func: F) -> F:
    """Turn input errors (``ValueError`` and its kin) into one clear line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, FileNotFoundError) as error:
            message = error.args[0] if error.args else str(error)
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="A built-in profile name (see `rhodos profiles`) or a TOML file."
    ),
]


# -- profiles -----------------------------------------------------------------------
def _profile_row(profile: MachineProfile) -> dict[str, Any]:
    return {"name": profile.name, **{k: v for k, v in profile.to_dict().items() if k != "name"}}


def _fmt(value: Any, unit: str) -> str:
    if unit == "bit/s":
        return f"{value / 1e6:g} Mb/s"
    if unit == "s":
        return f"{value * 1e3:g} ms" if value >= 1e-3 else f"{value * 1e6:g} µs"
    if unit == "bytes" and isinstance(value, int) and value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} KiB" if value < 1 << 20 else f"{value / (1 << 20):g} MiB"
    return str(value)


def _profiles_table(profiles: list[MachineProfile]) -> Table:
    table = Table(title="Machine profiles", show_lines=False)
    table.add_column("field")
    for profile in profiles:
        table.add_column(profile.name)
    for field, unit in FIELD_UNITS.items():
        if field in ("name", "description"):
            continue
        table.add_row(field, *(_fmt(getattr(p, field), unit) for p in profiles))
    return table


@app.command()
@clear_errors
def profiles(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    check: Annotated[
        Path | None, typer.Option("--check", help="Validate a profile TOML file and print it.")
    ] = None,
) -> None:
    """List the built-in machine profiles, or check a profile file."""
    chosen = [load_profile(check)] if check is not None else list(builtin_profiles().values())
    if as_json:
        typer.echo(json.dumps([_profile_row(p) for p in chosen], indent=2))
        return
    console.print(_profiles_table(chosen))
    if check is not None:
        profile = chosen[0]
        console.print(f"[green]{check}: valid profile {profile.name!r}[/]")
        for field, source in sorted(profile.sources.items()):
            console.print(f"  {field}: {source}", highlight=False)


# -- workloads ----------------------------------------------------------------------
@app.command()
def workloads() -> None:
    """List the named workloads and their parameters."""
    table = Table(title="Workloads")
    table.add_column("name")
    table.add_column("parameters (default)")
    table.add_column("what it is")
    for name, factory in sorted(WORKLOADS.items()):
        fields = [f for f in attrs.fields(factory) if f.name != "name"]
        params = ", ".join(f"{f.name}={f.default!r}" for f in fields)
        table.add_row(name, params, (factory.__doc__ or "").strip().splitlines()[0])
    console.print(table)


# -- the demonstration run ----------------------------------------------------------
@app.command()
@clear_errors
def run(
    profile: ProfileOption = "sun3-ethernet",
    nodes: Annotated[int, typer.Option(help="Compute nodes.")] = 4,
    seed: Annotated[int, typer.Option(help="Root seed of every random stream.")] = 0,
    topology: Annotated[
        str | None, typer.Option(help="shared or star (default: the profile's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the default workload mix on a cluster and print per-node and per-process summaries."""
    from rhodos.experiment import run_demo

    config = ClusterConfig(nodes=nodes, profile=profile, seed=seed, topology=topology)
    result = run_demo(config)
    if as_json:
        typer.echo(json.dumps(attrs.asdict(result, recurse=True, value_serializer=_jsonable)))
        return
    console.print(
        f"[bold]{config.nodes} nodes, profile {config.profile.name}, "
        f"topology {config.effective_topology}, seed {config.seed}[/]: "
        f"all work done at t = {result.end_time:.4f} s (simulated)"
    )
    table = Table(title="Nodes")
    for column in (
        "node",
        "kind",
        "arch",
        "user CPU s",
        "kernel CPU s",
        "busy %",
        "procs",
        "faults",
        "msgs sent",
        "delivered",
        "forwarded",
    ):
        table.add_column(column, justify="right")
    for n in result.nodes:
        table.add_row(
            str(n.node),
            n.kind,
            n.architecture,
            f"{n.cpu_user_s:.3f}",
            f"{n.cpu_kernel_s:.3f}",
            f"{100 * n.utilisation:.1f}",
            str(n.processes),
            str(n.faults),
            str(n.messages_sent),
            str(n.messages_delivered),
            str(n.messages_forwarded),
        )
    console.print(table)
    table = Table(title="Processes")
    for column in (
        "pid",
        "name",
        "home",
        "node",
        "state",
        "pages",
        "start s",
        "end s",
        "CPU s",
        "faults",
        "sent",
        "received",
    ):
        table.add_column(column, justify="right")
    for p in result.processes:
        table.add_row(
            str(p.pid),
            p.name,
            str(p.home),
            str(p.node),
            p.state,
            str(p.pages),
            f"{p.created_at:.4f}",
            "-" if p.exited_at is None else f"{p.exited_at:.4f}",
            f"{p.cpu_seconds:.3f}",
            str(p.faults),
            str(p.messages_sent),
            str(p.messages_received),
        )
    console.print(table)
    traffic = ", ".join(
        f"{kind} {result.network_bytes[kind]:,} B in {result.network_messages[kind]:,} msgs"
        for kind in sorted(result.network_bytes)
    )
    console.print(f"network: {traffic}")


def _jsonable(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, MachineProfile):
        return value.name
    return value


def main() -> None:
    """Entry point for ``python -m rhodos``."""
    app()
