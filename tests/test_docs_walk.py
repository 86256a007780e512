"""Every documented command works, as a newcomer runs it from a fresh copy of the repository.

The walk takes every command of the README's command table and every shell and Python
block of README.md and docs/**/*.md, and runs it in a fresh folder holding a copy of the
repository's files (what `git ls-files` lists, plus new files not yet committed):

* `rhodos ...` runs in this process (typer's runner), its console 80 columns wide.
  Where a block shows what a command prints (`$ command`, then its output), the command
  must print exactly that (but for the wall-clock time and the executor of a sweep); a
  command whose output starts with `error:` must exit 2, with `refused:` 3, else 0.
* The command table's rows are templates: each runs once with every option it shows,
  filled with the values of OPTION_VALUES.
* `make TARGET` runs the target's recipe from the Makefile, line by line (`$(BIN)/` is
  this environment).
* A page's Python blocks run, in order, as one script of this interpreter in the same
  folder; a block followed by the word "prints" and a block must print that.
* A ```toml block after a line ending in "`NAME.toml`:" is written to NAME.toml first.
* Faster, where the documented command takes minutes: `rhodos map` runs its `--quick`
  grid, itself cut to two cells (MapGrid.quick is patched for the walk). Documentation
  that names a package of the reader's own (`my_package.working_set`) gets the example it
  describes (docs/examples/working_set.py).
* SKIPPED lists, with why, what is not run here; an entry no page shows any more fails.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from rhodos.cli import app
from rhodos.cli.application import console, err_console
from rhodos.migration_manager.map import MapGrid
from rhodos.plugins import isolated

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]

#: Documented commands the walk does not run, and why.
SKIPPED = {
    "make test": "the test suite itself",
    "make fuzz": "the fuzzer's long run takes hours (tests/test_fuzz.py runs a short one)",
    "make fuzz FUZZ_COUNT=500 FUZZ_START=20000": "the fuzzer's long run, other seeds",
    "make fuzz FUZZ_STRATEGY=freeze-free": "the fuzzer's long run, one strategy",
    "make fuzz FUZZ_PROFILE=extreme": "the fuzzer's long run, the extreme profiles",
    "pip install 'rhodos[cluster]'": "installs a package (make test installs the extra)",
    "dask scheduler": "a server that runs until stopped",
    "dask worker tcp://HOST:8786 --nworkers 8 --nthreads 1": "a server that runs until stopped",
    "rhodos sweep examples/sweep-small.toml --scheduler tcp://HOST:8786 --out "
    "results/sweep-small": "needs the Dask cluster above (tests/test_sweep.py runs a local one)",
    "rhodos map --install-map": "computes the full map for minutes and changes the map auto "
    "reads (tests/test_map_command.py runs it on a stand-in)",
    "dask scheduler --protocol tls --tls-ca-file ca.pem --tls-cert node.pem --tls-key node.key": (
        "a server that runs until stopped (tests/test_dask_tls.py runs one: make fuzz-cli)"
    ),
    "dask worker tls://HOST:8786 --nworkers 8 --nthreads 1 --tls-ca-file ca.pem --tls-cert "
    "node.pem --tls-key node.key": "a server that runs until stopped",
    "rhodos sweep examples/sweep-small.toml --scheduler tls://HOST:8786 --out "
    "results/sweep-small": "needs the TLS Dask cluster above (tests/test_dask_tls.py)",
    "make timelines": "draws every strategy's chart (tests/test_timeline.py regenerates "
    "their data and compares it with docs/images)",
}

#: The value each option of the command table takes in the walk.
OPTION_VALUES = {
    "--strategy": "precopy",
    "--profile": "sparc-ethernet",
    "--memory": "256KiB",
    "--dirty-rate": "20",
    "--touch-fraction": "0.5",
    "--cpu-seconds": "3",
    "--workload": "cpu-bound",
    "--workload-param": "processes=1",
    "--nodes": "3",
    "--node-memory": "32MiB",
    "--topology": "star",
    "--home-calls-per-s": "1",
    "--open-files": "2",
    "--dirty-file-blocks": "4",
    "--at": "0.4",
    "--seed": "1",
    "--param": "max_rounds=3",
    "--trace": "walk-trace.json",
    "--timeline": "walk-chart.png",
    "--check": "rhodos/kernel/profiles/sun3-ethernet.toml",
    "-m": "latency_s",
    "--csv": "walk.csv",
    "--plot": "walk.png",
    "--out": "walk-map",
    "--workers": "1",
}

#: What documentation imports that is the reader's own, and what the walk imports instead.
STAND_INS = {"from my_package.working_set import": "from working_set import"}

PROGRAMS = ("rhodos", "make", "pip", "dask", "python", "uv")


@attrs.frozen
class Block:
    """A fenced code block of a page: its language, its lines, the text around it."""

    lang: str
    lines: tuple[str, ...]
    before: str
    after: str


def blocks(page: str) -> list[Block]:
    """The fenced blocks of ``page``, with the prose just before and after each."""
    found: list[tuple[str, list[str], str]] = []
    prose: list[str] = []
    current: list[str] | None = None
    lang, indent = "", ""
    for line in (ROOT / page).read_text().splitlines():
        fence = re.match(r"(\s*)```(\w*)\s*$", line)
        if fence and current is None:
            current, indent, lang = [], fence.group(1), fence.group(2)
        elif fence and current is not None:
            found.append((lang, current, "\n".join(prose).strip()))
            current, prose = None, []
        elif current is not None:
            current.append(line.removeprefix(indent))  # a block indented in a list item
        else:
            prose.append(line)
    if not found:
        return []
    afters = [before for _, _, before in found[1:]] + ["\n".join(prose).strip()]
    return [
        Block(lang, tuple(lines), before, after)
        for (lang, lines, before), after in zip(found, afters, strict=True)
    ]


@attrs.frozen
class Command:
    """A documented command (as the shell reads it, comments left out) and, when the page
    shows it, what it prints."""

    line: str = attrs.field(converter=lambda line: shlex.join(shlex.split(line, comments=True)))
    shown: tuple[str, ...] | None = None


def shell_commands(page: str) -> list[Command]:
    """The commands of ``page``'s shell blocks (``$ `` prompts, or bare program lines)."""
    commands = []
    for block in blocks(page):
        if block.lang not in ("", "sh", "shell", "console", "bash"):
            continue
        if any(line.startswith("$ ") for line in block.lines):
            current: list[str] | None = None
            for line in block.lines:
                if line.startswith("$ "):
                    if current is not None:
                        commands.append(Command(current[0], tuple(current[1:]) or None))
                    current = [line[2:]]
                elif current is not None:
                    current.append(line)
            if current is not None:
                commands.append(Command(current[0], tuple(current[1:]) or None))
        else:
            for line in block.lines:
                if line.split(" ", 1)[0] in PROGRAMS:
                    commands.append(Command(line))
    return commands


def table_commands() -> list[str]:
    """The README's command table, each template filled with OPTION_VALUES."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### The commands", 1)[1].strip().split("\n\n", 1)[0]
    templates = re.findall(r"^\| `(rhodos [^`]+)` \|", table, flags=re.M)
    filled: dict[str, list[str]] = {}
    for template in templates:
        words = template.split()
        command = words[:2]
        own = re.sub(r"\[the options of [^\]]+\]", "", template)
        for match in re.finditer(r"(?:^|\s)\[?(-{1,2}[\w-]+)(?: ([^\]\s]+))?\]?", own):
            option, value = match.group(1), match.group(2)
            command += [option, OPTION_VALUES[option]] if value else [option]
        for same in re.findall(r"\[the options of (\w+) but ([^\]]+)\]", template):
            left_out = set(re.findall(r"-[\w-]+", same[1])) | {"--strategy", "--param"}
            left_out |= {"--json", "--trace"}
            source = filled[same[0]]
            for i, word in enumerate(source):
                if word.startswith("-") and word not in left_out and word != "-s":
                    command += [word, source[i + 1]]
        filled[words[1]] = command
    return [shlex.join(c) for c in filled.values()]


# -- running --------------------------------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh copy of the repository's files as the working folder; consoles 80 wide;
    the quick strategy map cut to two cells."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    tiny = MapGrid(
        memory_bytes=(64 << 10,), dirty_rates=(20.0,), touch_fractions=(0.5,),
        bandwidths_bps=(10e6, 1e9),
    )  # fmt: skip
    monkeypatch.setattr(MapGrid, "quick", classmethod(lambda cls: tiny))
    widths = console.width, err_console.width
    console.width = err_console.width = 80
    try:
        yield tmp_path
    finally:
        console.width, err_console.width = widths


def _normal(lines: Any) -> list[str]:
    """Output as compared: lines without trailing space, no progress bar, no wall clock."""
    out = []
    for line in lines:
        line = line.rstrip()
        if "━" in line:
            continue
        out.append(re.sub(r"^(\d+ runs) in [\d.]+ s on .*$", r"\1 in <time> on <executor>", line))
    while out and not out[-1]:
        out.pop()
    return out


def run(command: Command, folder: Path) -> None:
    """Run one documented command; fail naming it when it does not do what the page shows."""
    if command.line in SKIPPED:
        return
    args = shlex.split(command.line, comments=True)
    if args[0] == "make":
        for line in recipe(args[1]):
            run(Command(line), folder)
        return
    if args[0] == "mkdir" and args[1] == "-p":
        for name in args[2:]:
            Path(name).mkdir(parents=True, exist_ok=True)
        return
    if args[0] == "cp":
        *sources, target = args[1:]
        copied = [shutil.copy(p, target) for s in sources for p in sorted(folder.glob(s))]
        assert copied, command.line
        return
    assert args[0] == "rhodos", f"the walk cannot run {command.line!r}: add it to SKIPPED"
    if args[1] == "map" and "--quick" not in args:
        args.append("--quick")
    with isolated():  # a --plugin's strategies last one command, as in a shell
        result = CliRunner().invoke(app, args[1:])
    shown = list(command.shown or ())
    expected = 2 if any(s.startswith("error:") for s in shown) else 0
    expected = 3 if any(s.startswith("refused:") for s in shown) else expected
    assert result.exit_code == expected, f"$ {command.line}\n{result.output}"
    if command.shown is not None:
        assert _normal(result.output.splitlines()) == _normal(shown), f"$ {command.line}"


def recipe(target: str) -> list[str]:
    """The lines of ``target``'s recipe in the Makefile, with $(BIN)/ as this environment."""
    makefile = (ROOT / "Makefile").read_text()
    body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert body is not None, f"no target {target} in the Makefile"
    return [line.strip().replace("$(BIN)/", "") for line in body.group(1).splitlines()]


def run_python(page: str, folder: Path) -> None:
    """The page's Python blocks, in order, as one script; shown outputs must match."""
    chosen = [b for b in blocks(page) if b.lang == "python"]
    if not chosen:
        return
    script = ["import sys", f"sys.path.insert(0, {str(folder / 'docs' / 'examples')!r})"]
    for number, block in enumerate(chosen):
        code = "\n".join(block.lines)
        for theirs, ours in STAND_INS.items():
            code = code.replace(theirs, ours)
        script += [f"print('<block {number}>', flush=True)", code]
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{page}: its Python blocks fail\n{done.stderr[-3000:]}"
    outputs = re.split(r"<block \d+>\n", done.stdout)[1:]
    for block, printed in zip(chosen, outputs, strict=True):
        if block.after == "prints":
            shown = next(b for b in blocks(page) if b.before == "prints")
            assert _normal(printed.splitlines()) == _normal(shown.lines), page


def write_files(page: str) -> None:
    """The TOML files a page asks the reader to write (a block after "`NAME.toml`:")."""
    for block in blocks(page):
        named = re.search(r"`([\w./-]+\.toml)`:$", block.before)
        if block.lang == "toml" and named:
            Path(named.group(1)).write_text("\n".join(block.lines) + "\n")


# -- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_command_of_a_page_works_as_shown(page: str, fresh: Path) -> None:
    """The page's files, shell commands (with what they print) and Python blocks, in order."""
    write_files(page)
    for command in shell_commands(page):
        run(command, fresh)
    run_python(page, fresh)


def test_every_command_of_the_readme_table_takes_every_option_it_shows(fresh: Path) -> None:
    """Each row of the command table, with every option it lists, runs and exits 0."""
    commands = table_commands()
    assert len(commands) >= 7
    for line in commands:
        run(Command(line), fresh)


def test_what_the_walk_skips_is_still_documented() -> None:
    """Every skipped command is one a page shows (a stale entry would hide nothing)."""
    shown = {c.line for page in PAGES for c in shell_commands(page)}
    assert set(SKIPPED) <= shown, set(SKIPPED) - shown
