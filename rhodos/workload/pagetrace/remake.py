"""Record the shipped traces again: ``make traces``.

``python -m rhodos.workload.pagetrace.remake [--images DIR] [--only NAME]`` records every
recipe of
:data:`RECIPES` into ``rhodos/workload/traces/`` (inputs generated deterministically in a
scratch folder, the programs run in :data:`~rhodos.workload.pagetrace.recorder.DEFAULT_ENV`),
writes the folder's README with each trace's command, versions, instructions and pages,
and, with ``--images``, each trace's picture as ``DIR/trace-NAME.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs

from rhodos.workload.pagetrace.format import PageTrace
from rhodos.workload.pagetrace.recorder import DEFAULT_ENV, RecordError, record
from rhodos.workload.pagetrace.shipped import TRACES_DIR
from rhodos.workload.pagetrace.show import plot

__all__ = ["RECIPES", "Recipe", "command_of", "main", "readme_row", "record_one", "words"]


def words(lines: int, seed: int) -> str:
    """``lines`` lines of eight words from a vocabulary of 2,000, by a fixed LCG."""
    state = seed

    def draw(n: int) -> int:
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        return (state >> 33) % n

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(letters[draw(26)] for _ in range(3 + draw(8))) for _ in range(2000)]
    return "".join(" ".join(vocabulary[draw(2000)] for _ in range(8)) + "\n" for _ in range(lines))


def _gcc(option: str) -> str:
    return subprocess.run(
        ["gcc", option], capture_output=True, text=True, check=True
    ).stdout.strip()


_SQL = """\
create table t(a integer primary key, b integer, c text);
with recursive n(x) as (select 1 union all select x + 1 from n where x < 5000)
insert into t select x, x * 7919 % 10007, printf('row %d', x) from n;
create index tb on t(b);
select b % 100, count(*), sum(a) from t group by b % 100 order by 3 desc limit 5;
select count(*) from t where b between 1000 and 2000;
"""

_PYTHON = (
    "d = {str(i * 7919 % 10007): i for i in range(20000)}; "
    "s = sorted(d.items()); "
    "print(len(s), s[0], s[-1])"
)


@attrs.frozen
class Recipe:
    """How to record one shipped trace.

    Attributes:
        name: the trace's name.
        what: one line saying what the program does.
        command: the command, run in the scratch folder (``{cc1}`` is gcc's compiler).
        version: the command that prints the program's version.
        inputs: files to create in the scratch folder: name -> text.
        stdin: the scratch file fed on standard input, if any.
        env: variables added to the recorder's fixed environment.
    """

    name: str
    what: str
    command: tuple[str, ...]
    version: tuple[str, ...]
    inputs: dict[str, Callable[[], str]] = attrs.field(factory=dict)
    stdin: str | None = None
    env: dict[str, str] = attrs.field(factory=dict)


#: The shipped traces: programs every Debian machine has, a few seconds each under lackey.
RECIPES = (
    Recipe(
        "cc1",
        "gcc's compiler proper, as `gcc -O2 -S` runs it, compiling a 100-line C file",
        ("{cc1}", "-quiet", "-imultiarch", "{multiarch}", "-O2", "wordfreq.c", "-o", "/dev/null"),
        ("gcc", "--version"),
        {"wordfreq.c": lambda: (TRACES_DIR / "inputs" / "wordfreq.c").read_text()},
    ),
    Recipe(
        "sqlite",
        "sqlite3 inserting 5,000 rows in memory, indexing and querying them",
        ("sqlite3", ":memory:"),
        ("sqlite3", "--version"),
        {"query.sql": lambda: _SQL},
        stdin="query.sql",
    ),
    Recipe(
        "xz",
        "xz -3 compressing 180 KB of text",
        ("xz", "-3", "-T1", "-c", "text.txt"),
        ("xz", "--version"),
        {"text.txt": lambda: words(3000, seed=2)},
    ),
    Recipe(
        "sort",
        "sort ordering 20,000 lines (1.2 MB) in one thread",
        ("sort", "--parallel=1", "--buffer-size=16M", "words.txt"),
        ("sort", "--version"),
        {"words.txt": lambda: words(20000, seed=1)},
    ),
    Recipe(
        "python",
        "Python building a dictionary of 20,000 entries and sorting its items",
        ("python3", "-S", "-c", _PYTHON),
        ("python3", "--version"),
        env={"PYTHONHASHSEED": "0"},  # str hashes are salted per run otherwise
    ),
)


def _version(command: tuple[str, ...]) -> str:
    """The first line a version command prints, run where the recorded programs run."""
    done = subprocess.run(command, capture_output=True, text=True, env=DEFAULT_ENV)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def _digest(path: Path) -> str:
    """The first 12 hex digits of the SHA-256 of a file ("absent" if there is none).

    The dynamic linker searches ``/etc/ld.so.cache`` (which lists every installed
    library) at start-up: its contents change a few hundred instructions and a few pages
    of the first window, so a trace names the cache it was recorded with.
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "absent"


def command_of(recipe: Recipe) -> list[str]:
    """The recipe's command with gcc's compiler and multiarch filled in."""
    fill = {"{cc1}": _gcc("-print-prog-name=cc1"), "{multiarch}": _gcc("-print-multiarch")}
    return [fill.get(part, part) for part in recipe.command]


def record_one(recipe: Recipe, out: Path = TRACES_DIR) -> Path:
    """Record ``recipe`` into ``out``; print what it took; return the trace's path."""
    with tempfile.TemporaryDirectory(prefix=f"rhodos-trace-{recipe.name}-") as tmp:
        scratch = Path(tmp)
        for name, make in recipe.inputs.items():
            (scratch / name).write_text(make())
        command = command_of(recipe)
        versions = {
            "program": _version(recipe.version),
            "libc": _version(("ldd", "--version")),
            "ld.so.cache": _digest(Path("/etc/ld.so.cache")),
        }
        path = out / f"{recipe.name}.trace.npz"
        env = {**DEFAULT_ENV, **recipe.env}
        with contextlib.ExitStack() as stack:
            # Standard input as record() opens it by default (how it is open matters: a
            # program may look), or the recipe's file.
            stdin = (
                stack.enter_context(open(scratch / recipe.stdin, "rb"))
                if recipe.stdin
                else subprocess.DEVNULL
            )
            done = record(command, path, cwd=scratch, versions=versions, stdin=stdin, env=env)
        if done.exit_code != 0:
            raise RecordError(f"{' '.join(command)} exited with {done.exit_code}")
    print(
        f"{recipe.name}: {done.instructions:,} instructions, {done.pages:,} pages, "
        f"{path.stat().st_size:,} bytes, {done.records:,} records in {done.seconds:.1f} s "
        f"({done.records_per_s / 1e6:.2f} M records/s)"
    )
    return path


def readme_row(recipe: Recipe, path: Path) -> str:
    """The README's table row of a recorded trace, from the trace's own metadata."""
    meta = PageTrace(path).meta
    command = meta["command"]
    shown = " ".join([*command[:-1], repr(command[-1])] if recipe.name == "python" else command)
    regions = ", ".join(f"{r} {n:,}" for r, n in meta["pages_by_region"].items())
    versions = meta["versions"]
    return (
        f"| `{recipe.name}` | {recipe.what}: `{shown}`"
        + (f" < {recipe.stdin}" if recipe.stdin else "")
        + "".join(f", with {k}={v}" for k, v in recipe.env.items())
        + f" | {versions['program']}; {versions['libc']}; {meta['valgrind']}; "
        f"ld.so.cache {versions.get('ld.so.cache', '?')} "
        f"| {meta['instructions']:,} "
        f"| {meta['pages']:,} ({regions}); {meta['pages_written']:,} written "
        f"| {meta['allocated_bytes'] / 2**20:.1f} MiB "
        f"| {path.stat().st_size / 1024:.0f} KiB |"
    )


_README = """\
# Shipped page traces

Real programs' page references, recorded with valgrind's lackey tool by
`make traces` (which runs `python -m rhodos.workload.pagetrace.remake`). Each trace holds,
per window of 1,000,000 instructions, the 4 KiB pages the program read and wrote, and
the region (code, heap, stack, mapped) of each page. Inputs are generated
deterministically (or shipped, `inputs/`); programs run with `PATH`, `LC_ALL=C` and
`HOME=/nonexistent` only (plus what a row says), in a scratch folder, so recording again
with the same versions gives the same files -- provided the dynamic linker's cache
`/etc/ld.so.cache` is the same too (its SHA-256 prefix is in each trace's
`meta["versions"]`): the linker searches it at start-up, and installing any library
changes a few hundred instructions and a few pages of the first window. Even then,
`python`, `sort` and `xz` recorded again on the same machine have differed by a few
dozen instructions (of tens of millions), with the same pages: something they read
varies between runs; `cc1` and `sqlite` came back with the same windows. Instructions
are those lackey counted on x86-64. "Allocated" is every byte the program had mapped
at any reading of its memory map (its executable, libraries, heap, stack and mapped
files, whether touched or not; valgrind's own memory excluded: see
`rhodos/workload/pagetrace/regions.py`), the denominator of "fraction of allocated
memory"; the readings are 20 ms apart, so a recording may catch a short-lived mapping
another misses, and the figure is a lower bound.

| trace | program and exact command | versions | instructions | pages touched (by region) \
| allocated | file |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

The SQL of `sqlite` and the inputs of `xz` and `sort` are in
`rhodos/workload/pagetrace/remake.py`; `inputs/wordfreq.c` is the file `cc1` compiles.
"""


def main() -> None:
    """Record the shipped traces (``make traces``)."""
    parser = argparse.ArgumentParser(prog="python -m rhodos.workload.pagetrace.remake")
    parser.add_argument("--images", type=Path, help="write each trace's picture here")
    parser.add_argument(
        "--only", action="append", choices=[r.name for r in RECIPES], help="record only these"
    )
    arguments = parser.parse_args()
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (Debian: apt-get install {tool})")
    for recipe in RECIPES:
        if arguments.only is None or recipe.name in arguments.only:
            path = record_one(recipe)
            if arguments.images is not None:
                plot(PageTrace(path), arguments.images / f"trace-{recipe.name}.png")
    rows = [readme_row(r, TRACES_DIR / f"{r.name}.trace.npz") for r in RECIPES]
    (TRACES_DIR / "README.md").write_text(_README.format(rows="\n".join(rows)))


if __name__ == "__main__":
    main()
