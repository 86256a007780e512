"""The commands that show what the simulator holds and run a cluster: ``workloads``,
``run`` and ``strategies`` (``migrate`` and ``compare`` are in :mod:`rhodos.cli.migrate`)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any

import attrs
import typer
from rich.table import Table

from rhodos.cli.application import ProfileOption, app, clear_errors, console
from rhodos.cli.tables import Column, fitted
from rhodos.kernel import ClusterConfig, MachineProfile
from rhodos.units import format_size
from rhodos.workload import registered as registered_workloads

__all__ = ["run", "strategies", "workloads"]


def _plain(text: str) -> str:
    """A docstring's line without its reST markup (``code`` shows as code)."""
    return re.sub(r"``(.+?)``", r"\1", text)


@app.command()
def workloads() -> None:
    """List the named workloads and their parameters, with the defaults `migrate` uses."""
    from rhodos.experiment import Scenario
    from rhodos.experiment.migration import SCENARIO_SETS

    table = Table(
        title="Workloads",
        caption="Set a parameter with the option shown, the others with "
        "--workload-param NAME=VALUE.",
    )
    table.add_column("name", no_wrap=True)
    table.add_column("parameters (default in migrate, compare)")
    table.add_column("what it is")
    for name, factory in sorted(registered_workloads().items()):
        used = Scenario(workload=name).workload_arguments()
        sets = SCENARIO_SETS.get(name, {"memory_bytes": "memory_bytes"})
        lines = []
        for field in attrs.fields(factory):
            if field.name == "name":
                continue
            value = used.get(field.name, field.default)
            shown = format_size(value) if field.name.endswith("_bytes") else f"{value!r}"
            option = sets.get(field.name)
            if option is not None:
                flag = "--memory" if option == "memory_bytes" else f"--{option.replace('_', '-')}"
                shown += f" ({flag})"
            lines.append(f"{field.name}={shown}")
        doc = _plain((factory.__doc__ or "").strip().splitlines()[0])
        table.add_row(name, "\n".join(lines), doc)
    from rhodos.workload.pagetrace import shipped_traces

    for name in shipped_traces():
        table.add_row(
            f"trace:{name}", "loops=1 (--loops)", "a recorded real program (rhodos trace show)"
        )
    console.print(table)


#: The columns of ``rhodos run``'s two tables.
NODE_COLUMNS = (
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
)
PROCESS_COLUMNS = (
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
)


def _print_fitted(title: str, headings: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table of right-aligned ``rows`` (the first column says what a row is), in as
    many parts as the console's width needs."""
    columns = [
        Column(heading, tuple(row[i] for row in rows), key=i == 0)
        for i, heading in enumerate(headings)
    ]
    for table in fitted(title, columns, console.width):
        console.print(table)


@app.command()
@clear_errors
def run(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="A scenario file (TOML: nodes, workload, policies, strategy); without "
            "it, the default workload mix."
        ),
    ] = None,
    profile: ProfileOption = "sun3-ethernet",
    nodes: Annotated[int | None, typer.Option(help="Compute nodes (default 4).")] = None,
    seed: Annotated[int, typer.Option(help="Root seed of every random stream.")] = 0,
    topology: Annotated[
        str | None, typer.Option(help="shared or star (default: the profile's).")
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Scenario only: KEY=VALUE replaces a key (policy.name=random); a list "
            "(KEY=[A,B]) makes it a sweep axis.",
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option(help="Scenario only: processes listed (the most slowed down).")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a scenario file, or the default workload mix, and print per-node and
    per-process summaries."""
    if scenario is not None:
        given = [
            flag
            for flag, value in (("--profile", profile != "sun3-ethernet"), ("--nodes", nodes),
                                ("--topology", topology), ("--seed", seed != 0))
            if value
        ]  # fmt: skip
        if given:
            raise ValueError(
                f"{given[0]} does not apply to a scenario file: set its key in the file or "
                "with --set (seed, nodes, ...)"
            )
        from rhodos.cli.scenarios import run_scenario

        run_scenario(scenario, sets or [], processes, as_json)
        return
    if sets:
        raise ValueError("--set applies to a scenario file only: name one (rhodos run FILE.toml)")
    from rhodos.experiment import run_demo

    config = ClusterConfig(
        nodes=4 if nodes is None else nodes, profile=profile, seed=seed, topology=topology
    )
    result = run_demo(config)
    if as_json:
        typer.echo(json.dumps(attrs.asdict(result, recurse=True, value_serializer=_jsonable)))
        return
    console.print(
        f"[bold]{config.nodes} nodes, profile {config.profile.name}, "
        f"topology {config.effective_topology}, seed {config.seed}[/]: "
        f"all work done at t = {result.end_time:.4f} s (simulated)"
    )
    node_rows = [
        (
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
        for n in result.nodes
    ]
    _print_fitted("Nodes", NODE_COLUMNS, node_rows)
    process_rows = [
        (
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
        for p in result.processes
    ]
    _print_fitted("Processes", PROCESS_COLUMNS, process_rows)
    traffic = ", ".join(
        f"{kind} {result.network_bytes[kind]:,} B in {result.network_messages[kind]:,} msgs"
        for kind in sorted(result.network_bytes)
    )
    console.print(f"network: {traffic}")


@app.command()
def strategies(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the registered migration strategies and their parameters."""
    from rhodos.migration_manager import registered

    rows = []
    for name, cls in registered().items():
        params = {f.name: f.default for f in attrs.fields(cls) if f.init}
        rows.append(
            {"name": name, "summary": cls.summary, "residual": cls.residual, "params": params}
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    listed = ["\n".join(f"{k}={v!r}" for k, v in r["params"].items()) or "-" for r in rows]
    # Fixed widths for the columns of single words; the summary takes what is left.
    table = Table(title="Migration strategies")
    table.add_column("name", width=max(len(r["name"]) for r in rows))
    table.add_column("what it does")
    table.add_column("residual dependency", width=max(len(r["residual"]) for r in rows))
    longest = max(len(line) for cell in listed for line in cell.splitlines())
    table.add_column("parameters (default)", width=max(longest, len("parameters")))
    for row, cell in zip(rows, listed, strict=True):
        table.add_row(row["name"], row["summary"], row["residual"], cell)
    console.print(table)


def _jsonable(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, MachineProfile):
        return value.name
    return value
