"""``rhodos profiles``: the built-in machine profiles, or a profile file checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rhodos.cli.application import app, clear_errors, console
from rhodos.cli.tables import Column, fitted
from rhodos.kernel import MachineProfile, builtin_profiles, load_profile
from rhodos.kernel.profile import FIELD_UNITS
from rhodos.units import format_size

__all__ = ["profiles"]


def _profile_row(profile: MachineProfile) -> dict[str, Any]:
    return {"name": profile.name, **{k: v for k, v in profile.to_dict().items() if k != "name"}}


def _fmt(value: Any, unit: str) -> str:
    if unit == "bit/s":
        return f"{value / 1e6:g} Mb/s"
    if unit == "instructions/s":
        return f"{value / 1e6:,g} MIPS"
    if unit == "s":
        return f"{value * 1e3:g} ms" if value >= 1e-3 else f"{value * 1e6:g} µs"
    if unit == "bytes" and isinstance(value, int):
        return format_size(value)
    return str(value)


def _profiles_tables(profiles: list[MachineProfile], width: int) -> list[Table]:
    """A row per field, a column per profile (in parts when they do not fit ``width``)."""
    fields = [(f, unit) for f, unit in FIELD_UNITS.items() if f not in ("name", "description")]
    columns = [Column("field", tuple(f for f, _ in fields), key=True, numeric=False)]
    for profile in profiles:
        cells = tuple(_fmt(getattr(profile, f), unit) for f, unit in fields)
        columns.append(Column(profile.name, cells, numeric=False))
    return fitted("Machine profiles", columns, width)


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
    for table in _profiles_tables(chosen, console.width):
        console.print(table)
    if check is not None:
        profile = chosen[0]
        console.print(f"[green]{check}: valid profile {profile.name!r}[/]")
        for field, source in sorted(profile.sources.items()):
            console.print(f"  {field}: {source}", highlight=False)
