"""The small things a newcomer meets in the first hour, each as it should be."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
import typer.main
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.experiment import Scenario
from rhodos.kernel import ProfileError, load_profile
from rhodos.migration_manager import registered

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_a_claim_in_ms_scales_seconds_to_ms() -> None:
    """A claim whose unit is ms and whose value reads a metric in seconds multiplies it
    by 1e3 (the sprite-1991 trend said ms and showed seconds)."""
    for path in sorted(ROOT.glob("experiments/*/experiment.toml")):
        for claim in tomllib.loads(path.read_text()).get("claims", []):
            reads_seconds = re.search(r"_s\b", claim["value"]) is not None
            if claim["unit"] == "ms" and reads_seconds:
                assert "1e3" in claim["value"], (path.parent.name, claim["metric"])


def test_a_profile_starts_from_a_base_and_needs_a_name_of_its_own(tmp_path: Path) -> None:
    """`base = "sparc-ethernet"` takes every field not given; the file needs its own name;
    a modified copy of a built-in under the built-in's name is refused."""
    own = tmp_path / "fast.toml"
    own.write_text(
        'base = "sparc-ethernet"\nname = "sparc-fast"\nnetwork_bandwidth_bps = 100e6\n'
        '[sources]\nnetwork_bandwidth_bps = "assumed: Fast Ethernet"\n'
    )
    fast, sparc = load_profile(str(own)), load_profile("sparc-ethernet")
    assert fast.name == "sparc-fast" and fast.network_bandwidth_bps == 100e6
    assert attrs.evolve(fast, name=sparc.name, network_bandwidth_bps=10e6, sources={}) == (
        attrs.evolve(sparc, sources={})
    )
    assert fast.sources["network_bandwidth_bps"] == "assumed: Fast Ethernet"
    assert fast.sources["page_size_bytes"] == sparc.sources["page_size_bytes"]
    saved = tmp_path / "saved.toml"
    fast.save(saved, base="sparc-ethernet")
    assert load_profile(str(saved)) == fast
    assert "page_size_bytes" not in saved.read_text()
    nameless = tmp_path / "nameless.toml"
    nameless.write_text('base = "sparc-ethernet"\nnetwork_bandwidth_bps = 100e6\n')
    with pytest.raises(ProfileError, match="needs a name of its own"):
        load_profile(str(nameless))
    copy = tmp_path / "copy.toml"
    sparc.save(copy)
    assert load_profile(str(copy)) == sparc  # an unchanged copy is that profile
    copy.write_text(copy.read_text().replace("10000000.0", "100000000.0"))
    with pytest.raises(ProfileError, match="name 'sparc-ethernet' is a built-in profile's"):
        load_profile(str(copy))


def test_plot_into_a_folder_writes_there_and_says_where(tmp_path: Path) -> None:
    """`--plot FOLDER` writes FOLDER/compare.png and prints that path."""
    result = invoke("compare", "--memory", "64KiB", "-m", "latency_s", "--plot", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "compare.png").is_file()
    assert f"wrote {tmp_path / 'compare.png'}" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--param", "max_rounds=abc"), "max_rounds must be a number > 0, got 'abc' (text)"),
        (("--profile", "."), ". is a folder: a profile is a built-in name or a TOML file"),
    ],
)
def test_bad_input_says_what_is_wrong(args: tuple[str, ...], message: str) -> None:
    """A word where a number goes is a type error; a folder is not 'no such file'."""
    result = invoke("migrate", "-s", "precopy", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_the_readme_lists_every_registered_strategy_in_its_error_sample() -> None:
    """The README's sample error names the strategies there are, all of them."""
    readme = (ROOT / "README.md").read_text()
    (listed,) = re.findall(r"registered strategies: (.+)", readme)
    assert listed.split(", ") == list(registered())


def test_workloads_shows_the_defaults_migrate_uses_in_plain_words() -> None:
    """Each parameter a scenario sets shows the scenario's default and its option; no reST
    markup shows."""
    from rhodos.experiment.migration import SCENARIO_SETS

    result = invoke("workloads")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "``" not in text
    defaults = Scenario()
    for key, field in SCENARIO_SETS["memory-writer"].items():
        if field not in ("memory_bytes", "cpu_seconds"):
            option = f"--{field.replace('_', '-')}"
            assert f"{key}={getattr(defaults, field)!r} ({option})" in text


def test_help_shows_every_bracket_it_was_written_with() -> None:
    """Square brackets in a help text (`rhodos[cluster]`) are shown, not taken as markup."""
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert len(commands) >= 10
    for name, command in commands.items():
        shown = " ".join(invoke(name, "--help").output.split())
        for param in command.params:
            for bracketed in re.findall(r"\\?\[\w+\]", getattr(param, "help", None) or ""):
                assert bracketed.replace("\\", "") in shown, (name, param.name)
